/**
 * Parsed GitHub webhook event (spec: GitHubEvent), with its JSON codec, and the pure
 * deploy/validate/ignore decision on a webhook payload ({@linkcode decideWebhook}).
 * @module
 */
import { type Codec, date, object, string } from "./_codec.ts";
import type { GitHubConfig, PullRequestsConfig } from "./config.ts";
import { AphexError, usageError } from "./errors.ts";

/** A parsed GitHub push or pull-request event. */
export interface GitHubEvent {
  /** Commit SHA the run must use (40 lowercase hex characters). */
  commitSha: string;
  /** Git ref, e.g. `refs/heads/main`. */
  branch: string;
  /** Repository clone URL. */
  repoUrl: string;
  /** Commit author. */
  author: string;
  /** Commit message (or PR title). */
  message: string;
  /** Commit timestamp. */
  timestamp: Date;
}

/** JSON codec of {@linkcode GitHubEvent}. */
export const GitHubEventCodec: Codec<GitHubEvent> = object<GitHubEvent>({
  commitSha: string,
  branch: string,
  repoUrl: string,
  author: string,
  message: string,
  timestamp: date,
});

/** A full lowercase commit SHA. */
export const COMMIT_SHA_PATTERN: RegExp = /^[0-9a-f]{40}$/;

/** The GitHub event kinds Aphex acts on (the `X-GitHub-Event` header). */
export type WebhookEventKind = "push" | "pull_request";

/** What the pipeline does with a webhook. */
export type WebhookAction = "deploy" | "validate" | "ignore";

/** The pipeline's decision on one webhook, with a reason a person can read. */
export interface WebhookDecision {
  /** `deploy` (push to the pipeline branch), `validate` (pull request) or `ignore`. */
  action: WebhookAction;
  /** Why, in one sentence. */
  reason: string;
}

/** The configuration the decision depends on (a subset of `pipeline`). */
export interface WebhookSettings {
  /** Triggering repository and deploy branch; unset when the config has no `pipeline.github`. */
  github?: Pick<GitHubConfig, "owner" | "repo" | "branch">;
  /** Pull-request validation runs. */
  pullRequests: PullRequestsConfig;
}

/** A webhook interpreted: its kind, the decision, and the commit to run (when it names one). */
export interface WebhookInterpretation extends WebhookDecision {
  /** Event kind (from the header, or inferred from the payload). */
  kind: WebhookEventKind | string;
  /**
   * The commit to run. Always set for `deploy`/`validate`; unset for ignored events that name no
   * commit (branch or tag deletes, unhandled kinds).
   */
  event?: GitHubEvent;
}

/** Options of {@linkcode decideWebhook} and {@linkcode interpretWebhook}. */
export interface WebhookOptions {
  /** The `X-GitHub-Event` header; inferred from the payload shape when unset. */
  event?: string;
  /** Pipeline settings; when unset, decisions that need the configuration say so. */
  settings?: WebhookSettings;
}

/** Largest webhook payload accepted (GitHub caps deliveries at 25 MB). */
export const MAX_WEBHOOK_PAYLOAD_BYTES = 25 * 1024 * 1024;

/** The `after` SHA of a push that deletes a ref. */
export const ZERO_SHA = "0000000000000000000000000000000000000000";

/** Pull-request actions that start a validation run. */
export const VALIDATED_PR_ACTIONS: readonly string[] = ["opened", "synchronize", "reopened"];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  return v === undefined
    ? "missing"
    : v === null
    ? "null"
    : Array.isArray(v)
    ? "an array"
    : typeof v;
}

/** Value at a dotted path, or undefined (never throws). */
function at(root: unknown, path: string): unknown {
  let v = root;
  for (const key of path.split(".")) {
    if (!isObject(v) || !Object.hasOwn(v, key)) return undefined;
    v = v[key];
  }
  return v;
}

function fieldError(path: string, expected: string, got: unknown): AphexError {
  return usageError(`webhook payload: ${path}: must be ${expected}, got ${describe(got)}`);
}

function needString(root: unknown, path: string): string {
  const v = at(root, path);
  if (typeof v !== "string") throw fieldError(path, "a string", v);
  return v;
}

function needObject(root: unknown, path: string): Record<string, unknown> {
  const v = at(root, path);
  if (!isObject(v)) throw fieldError(path, "an object", v);
  return v;
}

function needSha(root: unknown, path: string): string {
  const v = needString(root, path);
  if (!COMMIT_SHA_PATTERN.test(v)) {
    throw usageError(`webhook payload: ${path}: must be a 40-character lowercase hex commit SHA`);
  }
  return v;
}

function needTimestamp(root: unknown, path: string): Date {
  const v = at(root, path);
  // GitHub sends ISO-8601 strings with an offset (push commits) or `Z` (pull requests).
  const ms = typeof v === "string" && /^\d{4}-\d{2}-\d{2}T/.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(ms)) throw fieldError(path, "an ISO-8601 timestamp", v);
  return new Date(ms);
}

/**
 * The event kind of a payload: the header when given, else inferred from the payload's shape
 * (`pull_request` + `action` → pull_request; `ref` + `after` → push). Throws a usage error when
 * neither works.
 */
export function webhookKind(payload: unknown, event?: string): string {
  if (event !== undefined && event !== "") return event;
  if (isObject(at(payload, "pull_request")) && typeof at(payload, "action") === "string") {
    return "pull_request";
  }
  if (typeof at(payload, "ref") === "string" && typeof at(payload, "after") === "string") {
    return "push";
  }
  throw usageError(
    "webhook payload: cannot tell the event kind from the payload; pass --event push|pull_request " +
      "(the X-GitHub-Event header)",
  );
}

function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function repoCheck(
  payload: unknown,
  settings: WebhookSettings | undefined,
): WebhookDecision | undefined {
  const fullName = needString(payload, "repository.full_name");
  const gh = settings?.github;
  if (gh && !sameName(fullName, `${gh.owner}/${gh.repo}`)) {
    return {
      action: "ignore",
      reason: `repository ${fullName} is not the configured ${gh.owner}/${gh.repo}`,
    };
  }
  return undefined;
}

function decidePush(payload: unknown, settings: WebhookSettings | undefined): WebhookDecision {
  const ref = needString(payload, "ref");
  const after = needString(payload, "after");
  const other = repoCheck(payload, settings);
  if (other) return other;
  if (at(payload, "deleted") === true || after === ZERO_SHA) {
    return { action: "ignore", reason: `${ref} was deleted` };
  }
  if (ref.startsWith("refs/tags/")) {
    return { action: "ignore", reason: `tag push (${ref}); only branch pushes deploy` };
  }
  if (!ref.startsWith("refs/heads/")) {
    return { action: "ignore", reason: `${ref} is not a branch` };
  }
  const gh = settings?.github;
  if (!gh) {
    return {
      action: "ignore",
      reason:
        `push to ${ref}, but the configuration has no pipeline.github (owner, repo, branch), ` +
        "so no branch deploys",
    };
  }
  if (ref !== `refs/heads/${gh.branch}`) {
    return {
      action: "ignore",
      reason: `push to ${ref}; the pipeline deploys refs/heads/${gh.branch}`,
    };
  }
  return { action: "deploy", reason: `push to the pipeline branch ${gh.branch}` };
}

function decidePullRequest(
  payload: unknown,
  settings: WebhookSettings | undefined,
): WebhookDecision {
  const prAction = needString(payload, "action");
  needObject(payload, "pull_request");
  const number = at(payload, "pull_request.number");
  const label = typeof number === "number" ? `pull request #${number}` : "pull request";
  if (!VALIDATED_PR_ACTIONS.includes(prAction)) {
    return {
      action: "ignore",
      reason: `${label} ${prAction}; only ${VALIDATED_PR_ACTIONS.join("/")} start a validation run`,
    };
  }
  const other = repoCheck(payload, settings);
  if (other) return other;
  if (!settings) {
    return {
      action: "ignore",
      reason: `${label} ${prAction}, but no configuration was read; pull-request validation is ` +
        "off unless pipeline.pullRequests.enabled is true",
    };
  }
  if (!settings.pullRequests.enabled) {
    return {
      action: "ignore",
      reason:
        `${label} ${prAction}; pull-request validation is disabled (pipeline.pullRequests.enabled)`,
    };
  }
  const baseRepo = needString(payload, "pull_request.base.repo.full_name");
  const headRepo = at(payload, "pull_request.head.repo");
  if (headRepo !== null && !isObject(headRepo)) {
    throw fieldError("pull_request.head.repo", "an object or null", headRepo);
  }
  const headName = headRepo === null
    ? null
    : needString(payload, "pull_request.head.repo.full_name");
  if (headName === null || !sameName(headName, baseRepo)) {
    const from = headName === null ? "a deleted fork" : `fork ${headName}`;
    if (!settings.pullRequests.allowForks) {
      return {
        action: "ignore",
        reason: `${label} comes from ${from}; fork pull requests are not validated ` +
          "(pipeline.pullRequests.allowForks is false)",
      };
    }
    return { action: "validate", reason: `${label} ${prAction} from ${from} (forks allowed)` };
  }
  return { action: "validate", reason: `${label} ${prAction}` };
}

/**
 * The pipeline's decision on a webhook payload: the one rule set that `aphex event parse` applies
 * and the generated Sensor encodes.
 *
 * - push: deleted refs (`deleted: true` or `after` all zeros), tags, non-branch refs, other
 *   branches and other repositories → ignore; a push to `refs/heads/<pipeline.github.branch>` →
 *   deploy.
 * - pull_request: `opened`/`synchronize`/`reopened` → validate when `pullRequests.enabled`;
 *   forks (head repository ≠ base repository, or deleted: `head.repo` null) → ignore unless
 *   `pullRequests.allowForks`; any other action (closed, edited, labeled…) → ignore.
 * - any other event kind → ignore.
 *
 * Pure: no I/O. Throws a usage error (exit 2) naming the field path when a field the decision
 * needs is missing or has the wrong type.
 *
 * @example
 * ```ts
 * decideWebhook(payload, { event: "push", settings }); // { action: "deploy", reason: "…" }
 * ```
 */
export function decideWebhook(payload: unknown, options: WebhookOptions = {}): WebhookDecision {
  if (!isObject(payload)) throw fieldError("(root)", "an object", payload);
  const kind = webhookKind(payload, options.event);
  if (kind === "push") return decidePush(payload, options.settings);
  if (kind === "pull_request") return decidePullRequest(payload, options.settings);
  return { action: "ignore", reason: `${kind} events do not start runs` };
}

function pushEvent(payload: unknown): GitHubEvent {
  const commitSha = needSha(payload, "after");
  const head = needObject(payload, "head_commit");
  if (at(head, "id") !== commitSha) {
    throw usageError("webhook payload: head_commit.id: must equal after");
  }
  const email = at(head, "author.email");
  return {
    commitSha,
    branch: needString(payload, "ref"),
    repoUrl: needString(payload, "repository.clone_url"),
    author: typeof email === "string" && email !== ""
      ? email
      : needString(payload, "head_commit.author.name"),
    message: needString(payload, "head_commit.message"),
    timestamp: needTimestamp(payload, "head_commit.timestamp"),
  };
}

function pullRequestEvent(payload: unknown): GitHubEvent {
  const number = at(payload, "pull_request.number");
  if (typeof number !== "number" || !Number.isSafeInteger(number) || number < 1) {
    throw fieldError("pull_request.number", "a positive integer", number);
  }
  return {
    commitSha: needSha(payload, "pull_request.head.sha"),
    // The base repository serves every pull request's head (forks included) under this ref.
    branch: `refs/pull/${number}/head`,
    repoUrl: needString(payload, "pull_request.base.repo.clone_url"),
    author: needString(payload, "pull_request.user.login"),
    message: needString(payload, "pull_request.title"),
    timestamp: needTimestamp(payload, "pull_request.updated_at"),
  };
}

/**
 * Interprets a webhook payload: the {@linkcode decideWebhook} decision plus the
 * {@linkcode GitHubEvent} to run. For push events the commit is `after` / `head_commit`; for pull
 * requests it is `pull_request.head.sha` with branch `refs/pull/<n>/head` and the base
 * repository's clone URL. Ignored events carry an event only when the payload names a commit.
 *
 * Pure; throws a usage error naming the field path when a field a deploy/validate run needs is
 * missing.
 */
export function interpretWebhook(
  payload: unknown,
  options: WebhookOptions = {},
): WebhookInterpretation {
  const decision = decideWebhook(payload, options);
  const kind = webhookKind(payload, options.event);
  const build = kind === "push"
    ? pushEvent
    : kind === "pull_request"
    ? pullRequestEvent
    : undefined;
  if (build === undefined) return { kind, ...decision };
  if (decision.action !== "ignore") return { kind, ...decision, event: build(payload) };
  try {
    return { kind, ...decision, event: build(payload) };
  } catch (e) {
    if (e instanceof AphexError) return { kind, ...decision };
    throw e;
  }
}
