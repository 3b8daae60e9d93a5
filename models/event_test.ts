import assert from "node:assert/strict";
import fc from "fast-check";
import { AphexError, ExitCode } from "./errors.ts";
import {
  COMMIT_SHA_PATTERN,
  decideWebhook,
  GitHubEventCodec,
  interpretWebhook,
  webhookKind,
  ZERO_SHA,
} from "./event.ts";
import {
  CASE_SETTINGS,
  caseConfig,
  derive,
  referencePayload,
  WEBHOOK_CASES,
} from "../tests/_webhook_cases.ts";

for (const c of WEBHOOK_CASES) {
  Deno.test(`decideWebhook: ${c.name} → ${c.expected}`, () => {
    const decision = decideWebhook(c.payload, { event: c.event, settings: c.settings });
    assert.equal(decision.action, c.expected, decision.reason);
    assert.ok(decision.reason.length > 0);
    // Without the header the kind is inferred from the payload shape: same decision.
    assert.deepEqual(decideWebhook(c.payload, { settings: c.settings }), decision);
  });
}

Deno.test("WEBHOOK_CASES: every row's settings come from a valid configuration", () => {
  for (const c of WEBHOOK_CASES) {
    const { pipeline } = caseConfig(c.settings);
    assert.deepEqual(pipeline.pullRequests, c.settings.pullRequests, c.name);
    const gh = pipeline.github;
    assert.deepEqual(
      gh && { owner: gh.owner, repo: gh.repo, branch: gh.branch },
      c.settings.github,
      c.name,
    );
  }
  // The table covers every action, both event kinds and the payload shapes the issue lists.
  const actions = new Set(WEBHOOK_CASES.map((c) => c.expected));
  assert.deepEqual([...actions].sort(), ["deploy", "ignore", "validate"]);
  assert.ok(WEBHOOK_CASES.length >= 20);
});

Deno.test("decideWebhook: reasons name what matters", () => {
  const reason = (name: string) => {
    const c = WEBHOOK_CASES.find((x) => x.name === name);
    assert.ok(c, name);
    return decideWebhook(c.payload, { event: c.event, settings: c.settings }).reason;
  };
  assert.match(reason("push: commit to the pipeline branch"), /master/);
  assert.match(
    reason("push: commit to another branch"),
    /refs\/heads\/feature.*refs\/heads\/master/,
  );
  assert.match(reason("push: pipeline branch deleted"), /deleted/);
  assert.match(reason("push: tag created"), /tag/);
  assert.match(reason("push: tag deleted"), /deleted/);
  assert.match(
    reason("push: commit to the pipeline branch of another repository"),
    /Codertocat\/Other/,
  );
  assert.match(
    reason("push: commit to the pipeline branch, no pipeline.github in config"),
    /pipeline\.github/,
  );
  assert.match(reason("pull_request: closed (merged)"), /#2 closed/);
  assert.match(reason("pull_request: opened from a fork"), /octo-fork\/Hello-World.*allowForks/);
  assert.match(
    reason("pull_request: synchronize from a deleted fork (head.repo null)"),
    /deleted fork/,
  );
  assert.match(reason("pull_request: opened, validation disabled"), /pullRequests\.enabled/);
});

Deno.test("decideWebhook: repository names compare case-insensitively (GitHub names do)", () => {
  const settings = {
    ...CASE_SETTINGS,
    github: { owner: "codertocat", repo: "hello-world", branch: "master" },
  };
  const push = referencePayload("push.drone.branch-commit");
  assert.equal(decideWebhook(push, { event: "push", settings }).action, "deploy");
});

Deno.test("decideWebhook: `after` of zeros alone marks a delete", () => {
  const push = derive(referencePayload("push.drone.branch-commit"), { after: ZERO_SHA });
  assert.equal(decideWebhook(push, { event: "push", settings: CASE_SETTINGS }).action, "ignore");
});

Deno.test("decideWebhook: without configuration PRs are not validated and pushes do not deploy", () => {
  const pr = referencePayload("pull_request.octokit.opened");
  const d = decideWebhook(pr, { event: "pull_request" });
  assert.equal(d.action, "ignore");
  assert.match(d.reason, /no configuration/);
  const push = decideWebhook(referencePayload("push.drone.branch-commit"), {});
  assert.equal(push.action, "ignore");
  assert.match(push.reason, /pipeline\.github/);
  // Deletes and tags need no configuration to be ignored.
  assert.match(decideWebhook(referencePayload("push.octokit.tag-delete"), {}).reason, /deleted/);
});

Deno.test("decideWebhook: other event kinds are ignored", () => {
  const d = decideWebhook({ zen: "Keep it logically awesome.", hook_id: 1 }, { event: "ping" });
  assert.deepEqual(d, { action: "ignore", reason: "ping events do not start runs" });
});

Deno.test("decideWebhook: missing or mistyped fields name the path (exit 2)", () => {
  const cases: [unknown, string | undefined, RegExp][] = [
    [[], "push", /\(root\): must be an object, got an array/],
    [null, "push", /\(root\): must be an object, got null/],
    [{ zen: "hi" }, undefined, /cannot tell the event kind.*--event/],
    [
      derive(referencePayload("push.drone.branch-commit"), { ref: 5 }),
      "push",
      /^webhook payload: ref: must be a string, got number$/,
    ],
    [
      derive(referencePayload("push.drone.branch-commit"), { repository: null }),
      "push",
      /repository\.full_name: must be a string, got missing/,
    ],
    [
      referencePayload("push.drone.branch-commit"),
      "pull_request",
      /action: must be a string, got missing/,
    ],
    [
      derive(referencePayload("pull_request.octokit.opened"), { "pull_request.head.repo": "x" }),
      "pull_request",
      /pull_request\.head\.repo: must be an object or null, got string/,
    ],
    [
      derive(referencePayload("pull_request.octokit.opened"), { "pull_request.base.repo": null }),
      "pull_request",
      /pull_request\.base\.repo\.full_name: must be a string/,
    ],
  ];
  for (const [payload, event, message] of cases) {
    assert.throws(
      () => decideWebhook(payload, { ...(event ? { event } : {}), settings: CASE_SETTINGS }),
      (e: unknown) =>
        e instanceof AphexError && e.exitCode === ExitCode.Usage && message.test(e.message),
      String(message),
    );
  }
});

Deno.test("webhookKind: header wins, else the payload shape", () => {
  assert.equal(webhookKind(referencePayload("push.drone.branch-commit")), "push");
  assert.equal(webhookKind(referencePayload("pull_request.octokit.opened")), "pull_request");
  assert.equal(webhookKind(referencePayload("pull_request.octokit.opened"), "push"), "push");
});

Deno.test("interpretWebhook: push to the pipeline branch gives the pushed commit", () => {
  const r = interpretWebhook(referencePayload("push.drone.branch-commit"), {
    settings: CASE_SETTINGS,
  });
  assert.equal(r.kind, "push");
  assert.equal(r.action, "deploy");
  assert.deepEqual(r.event, {
    commitSha: "199eddf46df50de8d02e99bf1c5fdb4101338224",
    branch: "refs/heads/master",
    repoUrl: "https://github.com/Codertocat/Hello-World.git",
    author: "21031067+Codertocat@users.noreply.github.com",
    message: "Update README",
    timestamp: new Date("2018-06-15T20:01:51.000Z"),
  });
  // It round-trips through the spec codec (timestamps normalised to UTC).
  const encoded = GitHubEventCodec.encode(r.event!);
  assert.equal((encoded as { timestamp: string }).timestamp, "2018-06-15T20:01:51.000Z");
  assert.deepEqual(GitHubEventCodec.decode(encoded, ""), r.event);
});

Deno.test("interpretWebhook: pull request gives head SHA, refs/pull/N/head and the base repo", () => {
  const r = interpretWebhook(referencePayload("pull_request.octokit.opened"), {
    settings: CASE_SETTINGS,
  });
  assert.equal(r.action, "validate");
  assert.deepEqual(r.event, {
    commitSha: "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
    branch: "refs/pull/2/head",
    repoUrl: "https://github.com/Codertocat/Hello-World.git",
    author: "Codertocat",
    message: "Update the README with new information.",
    timestamp: new Date("2019-05-15T15:20:33Z"),
  });
});

Deno.test("interpretWebhook: deletes carry no event; other ignored pushes keep theirs", () => {
  const del = interpretWebhook(referencePayload("push.octokit.tag-delete"), {
    settings: CASE_SETTINGS,
  });
  assert.equal(del.action, "ignore");
  assert.equal(del.event, undefined);
  const other = interpretWebhook(
    derive(referencePayload("push.drone.branch-commit"), { ref: "refs/heads/feature" }),
    { settings: CASE_SETTINGS },
  );
  assert.equal(other.action, "ignore");
  assert.equal(other.event?.branch, "refs/heads/feature");
});

Deno.test("interpretWebhook: every deploy/validate row yields a valid GitHubEvent", () => {
  for (const c of WEBHOOK_CASES.filter((x) => x.expected !== "ignore")) {
    const r = interpretWebhook(c.payload, { event: c.event, settings: c.settings });
    assert.ok(r.event, c.name);
    assert.match(r.event.commitSha, COMMIT_SHA_PATTERN);
    assert.ok(!Number.isNaN(r.event.timestamp.getTime()), c.name);
  }
});

Deno.test("interpretWebhook: a deploy with a bad commit field fails naming it", () => {
  const push = referencePayload("push.drone.branch-commit");
  const bad: [Record<string, unknown>, RegExp][] = [
    [
      derive(push, { after: "199EDDF46DF50DE8D02E99BF1C5FDB4101338224" }),
      /after: must be a 40-character/,
    ],
    [derive(push, { head_commit: null }), /head_commit: must be an object, got null/],
    [
      derive(push, { "head_commit.timestamp": "yesterday" }),
      /head_commit\.timestamp: must be an ISO-8601/,
    ],
    [
      derive(push, { "head_commit.message": 1 }),
      /head_commit\.message: must be a string, got number/,
    ],
    [
      derive(push, { "head_commit.id": "a10867b14bb761a232cd80139fbd4c0d33264240" }),
      /head_commit\.id: must equal after/,
    ],
  ];
  for (const [payload, message] of bad) {
    assert.throws(
      () => interpretWebhook(payload, { event: "push", settings: CASE_SETTINGS }),
      (e: unknown) =>
        e instanceof AphexError && e.exitCode === ExitCode.Usage && message.test(e.message),
      String(message),
    );
  }
  const pr = derive(referencePayload("pull_request.octokit.opened"), {
    "pull_request.head.sha": "abc",
  });
  assert.throws(() => interpretWebhook(pr, { settings: CASE_SETTINGS }), /pull_request\.head\.sha/);
});

Deno.test("decideWebhook: never throws anything but AphexError on arbitrary JSON (property)", () => {
  const push = referencePayload("push.drone.branch-commit");
  const pr = referencePayload("pull_request.octokit.opened");
  const paths = [
    "ref",
    "after",
    "deleted",
    "action",
    "repository",
    "repository.full_name",
    "pull_request",
    "pull_request.head",
    "pull_request.head.repo",
    "pull_request.base.repo.full_name",
    "pull_request.number",
  ];
  fc.assert(
    fc.property(
      fc.constantFrom(push, pr),
      fc.constantFrom(...paths),
      fc.jsonValue(),
      fc.option(fc.constantFrom("push", "pull_request"), { nil: undefined }),
      (base, path, value, event) => {
        let payload: Record<string, unknown>;
        try {
          payload = derive(base, { [path]: value });
        } catch {
          return; // the parent of `path` is not an object in this base
        }
        try {
          const r = interpretWebhook(payload, {
            ...(event ? { event } : {}),
            settings: CASE_SETTINGS,
          });
          assert.ok(["deploy", "validate", "ignore"].includes(r.action));
          if (r.action !== "ignore") assert.match(r.event!.commitSha, COMMIT_SHA_PATTERN);
        } catch (e) {
          assert.ok(e instanceof AphexError, String(e));
          assert.equal(e.exitCode, ExitCode.Usage);
        }
      },
    ),
    { numRuns: 500 },
  );
});
