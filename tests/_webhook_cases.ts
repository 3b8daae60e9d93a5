/**
 * Test support: a table of real-shaped GitHub webhook payloads with the action the pipeline must
 * take. `aphex event parse` is checked against it, and so is the generated Sensor (both must
 * agree on every row).
 *
 * The three reference payloads are GitHub's documented examples (tests/fixtures/webhooks/); the
 * other rows change only the fields GitHub changes for that case.
 * @module
 */
import type { WebhookAction, WebhookEventKind, WebhookSettings } from "../models/event.ts";
import { ZERO_SHA } from "../models/event.ts";
import type { AphexConfig } from "../models/config.ts";
import { parseConfigOrThrow } from "../models/config_parse.ts";
import branchCommit from "./fixtures/webhooks/push.drone.branch-commit.json" with { type: "json" };
import tagDelete from "./fixtures/webhooks/push.octokit.tag-delete.json" with { type: "json" };
import prOpened from "./fixtures/webhooks/pull_request.octokit.opened.json" with { type: "json" };

/** One row of the table. */
export interface WebhookCase {
  /** What the row shows. */
  name: string;
  /** The `X-GitHub-Event` header. */
  event: WebhookEventKind;
  /** The JSON body. */
  payload: Record<string, unknown>;
  /** The pipeline settings the decision is made with. */
  settings: WebhookSettings;
  /** The expected decision. */
  expected: WebhookAction;
}

/** Settings matching the reference payloads' repository (Codertocat/Hello-World, branch master). */
export const CASE_SETTINGS: WebhookSettings = {
  github: { owner: "Codertocat", repo: "Hello-World", branch: "master" },
  pullRequests: { enabled: true, allowForks: false },
};

/** The reference payloads, by fixture name (fresh copies on each call). */
export function referencePayload(
  name: "push.drone.branch-commit" | "push.octokit.tag-delete" | "pull_request.octokit.opened",
): Record<string, unknown> {
  const source = name === "push.drone.branch-commit"
    ? branchCommit
    : name === "push.octokit.tag-delete"
    ? tagDelete
    : prOpened;
  return structuredClone(source) as Record<string, unknown>;
}

/** A copy of `base` with fields replaced, addressed by dotted path (`pull_request.head.sha`). */
export function derive(
  base: Record<string, unknown>,
  changes: Record<string, unknown>,
): Record<string, unknown> {
  const copy = structuredClone(base);
  for (const [path, value] of Object.entries(changes)) {
    const keys = path.split(".");
    let node: Record<string, unknown> = copy;
    for (const key of keys.slice(0, -1)) {
      const next = node[key];
      if (typeof next !== "object" || next === null) {
        throw new Error(`derive: no object at ${path}`);
      }
      node = next as Record<string, unknown>;
    }
    node[keys[keys.length - 1]!] = structuredClone(value);
  }
  return copy;
}

const push = referencePayload("push.drone.branch-commit");
const pr = referencePayload("pull_request.octokit.opened");
const NEW_SHA = "d6fde92930d4715a2b49857d24b940956b26d2d3";
const forkRepo = derive(pr.pull_request as Record<string, unknown>, {
  "head.repo.name": "Hello-World",
  "head.repo.full_name": "octo-fork/Hello-World",
  "head.repo.fork": true,
  "head.repo.clone_url": "https://github.com/octo-fork/Hello-World.git",
  "head.repo.owner.login": "octo-fork",
}).head as Record<string, unknown>;
const fork = { ...forkRepo, label: "octo-fork:changes" };

/** The table: push (branch commit/create/delete, tag create/delete) and pull_request cases. */
export const WEBHOOK_CASES: readonly WebhookCase[] = [
  {
    name: "push: commit to the pipeline branch",
    event: "push",
    payload: push,
    settings: CASE_SETTINGS,
    expected: "deploy",
  },
  {
    name: "push: commit to another branch",
    event: "push",
    payload: derive(push, { ref: "refs/heads/feature" }),
    settings: CASE_SETTINGS,
    expected: "ignore",
  },
  {
    name: "push: pipeline branch created",
    event: "push",
    payload: derive(push, { before: ZERO_SHA, created: true, commits: [] }),
    settings: CASE_SETTINGS,
    expected: "deploy",
  },
  {
    name: "push: other branch created",
    event: "push",
    payload: derive(push, {
      ref: "refs/heads/new-feature",
      before: ZERO_SHA,
      created: true,
      commits: [],
    }),
    settings: CASE_SETTINGS,
    expected: "ignore",
  },
  {
    name: "push: other branch deleted",
    event: "push",
    payload: derive(push, {
      ref: "refs/heads/feature",
      before: push.after,
      after: ZERO_SHA,
      deleted: true,
      commits: [],
      head_commit: null,
    }),
    settings: CASE_SETTINGS,
    expected: "ignore",
  },
  {
    name: "push: pipeline branch deleted",
    event: "push",
    payload: derive(push, {
      before: push.after,
      after: ZERO_SHA,
      deleted: true,
      commits: [],
      head_commit: null,
    }),
    settings: CASE_SETTINGS,
    expected: "ignore",
  },
  {
    name: "push: tag created",
    event: "push",
    payload: derive(push, {
      ref: "refs/tags/v1.0.0",
      before: ZERO_SHA,
      created: true,
      base_ref: "refs/heads/master",
      commits: [],
    }),
    settings: CASE_SETTINGS,
    expected: "ignore",
  },
  {
    name: "push: tag deleted",
    event: "push",
    payload: referencePayload("push.octokit.tag-delete"),
    settings: CASE_SETTINGS,
    expected: "ignore",
  },
  {
    name: "push: commit to the pipeline branch of another repository",
    event: "push",
    payload: derive(push, {
      "repository.name": "Other",
      "repository.full_name": "Codertocat/Other",
      "repository.clone_url": "https://github.com/Codertocat/Other.git",
    }),
    settings: CASE_SETTINGS,
    expected: "ignore",
  },
  {
    name: "push: commit to the pipeline branch, no pipeline.github in config",
    event: "push",
    payload: push,
    // A valid config without pipeline.github cannot enable pull requests (and has no Sensor).
    settings: { pullRequests: { enabled: false, allowForks: false } },
    expected: "ignore",
  },
  {
    name: "pull_request: opened",
    event: "pull_request",
    payload: pr,
    settings: CASE_SETTINGS,
    expected: "validate",
  },
  {
    name: "pull_request: synchronize",
    event: "pull_request",
    payload: derive(pr, {
      action: "synchronize",
      before: (pr.pull_request as { head: { sha: string } }).head.sha,
      after: NEW_SHA,
      "pull_request.head.sha": NEW_SHA,
      "pull_request.updated_at": "2019-05-15T16:02:11Z",
    }),
    settings: CASE_SETTINGS,
    expected: "validate",
  },
  {
    name: "pull_request: reopened",
    event: "pull_request",
    payload: derive(pr, { action: "reopened" }),
    settings: CASE_SETTINGS,
    expected: "validate",
  },
  {
    name: "pull_request: closed (merged)",
    event: "pull_request",
    payload: derive(pr, {
      action: "closed",
      "pull_request.state": "closed",
      "pull_request.closed_at": "2019-05-15T16:10:00Z",
      "pull_request.merged_at": "2019-05-15T16:10:00Z",
      "pull_request.merged": true,
      "pull_request.merge_commit_sha": NEW_SHA,
    }),
    settings: CASE_SETTINGS,
    expected: "ignore",
  },
  {
    name: "pull_request: labeled",
    event: "pull_request",
    payload: derive(pr, { action: "labeled" }),
    settings: CASE_SETTINGS,
    expected: "ignore",
  },
  {
    name: "pull_request: opened with a null body",
    event: "pull_request",
    payload: derive(pr, { "pull_request.body": null }),
    settings: CASE_SETTINGS,
    expected: "validate",
  },
  {
    name: "pull_request: opened from a fork",
    event: "pull_request",
    payload: derive(pr, { "pull_request.head": fork }),
    settings: CASE_SETTINGS,
    expected: "ignore",
  },
  {
    name: "pull_request: opened from a fork, forks allowed",
    event: "pull_request",
    payload: derive(pr, { "pull_request.head": fork }),
    settings: { ...CASE_SETTINGS, pullRequests: { enabled: true, allowForks: true } },
    expected: "validate",
  },
  {
    name: "pull_request: synchronize from a deleted fork (head.repo null)",
    event: "pull_request",
    payload: derive(pr, {
      action: "synchronize",
      "pull_request.head": { ...fork, repo: null },
    }),
    settings: CASE_SETTINGS,
    expected: "ignore",
  },
  {
    name: "pull_request: opened, validation disabled",
    event: "pull_request",
    payload: pr,
    settings: { ...CASE_SETTINGS, pullRequests: { enabled: false, allowForks: false } },
    expected: "ignore",
  },
  {
    name: "pull_request: opened against another repository",
    event: "pull_request",
    payload: derive(pr, {
      "repository.full_name": "Codertocat/Other",
      "pull_request.base.repo.full_name": "Codertocat/Other",
      "pull_request.head.repo.full_name": "Codertocat/Other",
    }),
    settings: CASE_SETTINGS,
    expected: "ignore",
  },
];

/** A minimal valid `aphex-config.yaml` carrying `settings` (for CLI and Sensor tests). */
export function caseConfigYaml(settings: WebhookSettings): string {
  const gh = settings.github;
  return [
    'version: "1.0"',
    "pipeline:",
    ...(gh
      ? [
        "  github:",
        `    owner: ${gh.owner}`,
        `    repo: ${gh.repo}`,
        `    branch: ${gh.branch}`,
        "    webhookSecret: { name: github-webhook, key: secret }",
        "  webhook:",
        "    url: https://aphex.example.com",
      ]
      : []),
    "  pullRequests:",
    `    enabled: ${settings.pullRequests.enabled}`,
    `    allowForks: ${settings.pullRequests.allowForks}`,
    "build:",
    "  commands: [make]",
    "environments:",
    "  - name: dev",
    "    region: us-east-1",
    '    account: "111111111111"',
    "    stacks:",
    "      - { name: App-dev, path: infra/app.ts }",
    "",
  ].join("\n");
}

/** {@linkcode caseConfigYaml} parsed: the AphexConfig a row's settings come from. */
export function caseConfig(settings: WebhookSettings): AphexConfig {
  return parseConfigOrThrow(caseConfigYaml(settings), { file: "case-config.yaml" });
}
