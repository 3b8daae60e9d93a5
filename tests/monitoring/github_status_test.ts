import assert from "node:assert/strict";
import {
  finalStatuses,
  parseRepository,
  pendingStatuses,
  setCommitStatuses,
} from "../../adapters/monitoring/github_status.ts";
import { closedPortUrl, failedRun, recordingSleep, SHA, startLoopback } from "./_helpers.ts";

const TOKEN = "ghp_TESTTOKENVALUE1234567890";
const LINK = "https://argo.example.com/workflows/argo/webshop-abc12";

Deno.test("setCommitStatuses posts each status with the exact body and headers", async () => {
  const server = startLoopback(() => 201);
  try {
    const logs: string[] = [];
    const results = await setCommitStatuses(
      pendingStatuses(["dev"], { targetUrl: LINK }),
      {
        repository: { owner: "example-org", repo: "webshop" },
        commitSha: SHA,
        token: TOKEN,
        apiUrl: `${server.url}/`,
        userAgent: "aphex/0.1.0",
        sleep: recordingSleep().sleep,
        log: (l) => logs.push(l),
      },
    );
    assert.deepEqual(results, [
      { channel: "github aphex/pipeline", ok: true, attempts: 1 },
      { channel: "github aphex/dev", ok: true, attempts: 1 },
    ]);
    assert.deepEqual(logs, []);
    assert.deepEqual(
      server.requests.map((r) => [r.method, r.path, r.body]),
      [
        [
          "POST",
          `/repos/example-org/webshop/statuses/${SHA}`,
          JSON.stringify({
            state: "pending",
            target_url: LINK,
            description: "Aphex pipeline running",
            context: "aphex/pipeline",
          }),
        ],
        [
          "POST",
          `/repos/example-org/webshop/statuses/${SHA}`,
          JSON.stringify({
            state: "pending",
            target_url: LINK,
            description: "Waiting to deploy dev",
            context: "aphex/dev",
          }),
        ],
      ],
    );
    const headers = server.requests[0]!.headers;
    assert.equal(headers["authorization"], `Bearer ${TOKEN}`);
    assert.equal(headers["accept"], "application/vnd.github+json");
    assert.equal(headers["x-github-api-version"], "2022-11-28");
    assert.equal(headers["user-agent"], "aphex/0.1.0");
    assert.equal(headers["content-type"], "application/json");
  } finally {
    await server.close();
  }
});

Deno.test("GitHub API answering 502 then 201: retried; failures never print the token", async () => {
  const server = startLoopback((_req, n) => (n === 0 ? 502 : 201));
  try {
    const { sleep, delays } = recordingSleep();
    const results = await setCommitStatuses(
      [{ context: "aphex/pipeline", state: "success", description: "ok", targetUrl: null }],
      {
        repository: { owner: "o", repo: "r" },
        commitSha: SHA,
        token: TOKEN,
        apiUrl: server.url,
        sleep,
      },
    );
    assert.deepEqual(results, [{ channel: "github aphex/pipeline", ok: true, attempts: 2 }]);
    assert.deepEqual(delays, [1000]);
    assert.equal(
      server.requests[1]!.body,
      JSON.stringify({ state: "success", description: "ok", context: "aphex/pipeline" }),
    );
  } finally {
    await server.close();
  }
  const logs: string[] = [];
  const down = await closedPortUrl();
  const results = await setCommitStatuses(
    [{ context: "aphex/pipeline", state: "failure", description: "x", targetUrl: null }],
    {
      repository: { owner: "o", repo: "r" },
      commitSha: SHA,
      token: TOKEN,
      apiUrl: down,
      sleep: recordingSleep().sleep,
      log: (l) => logs.push(l),
    },
  );
  assert.equal(results[0]!.ok, false);
  assert.equal(results[0]!.attempts, 3);
  assert.equal(logs.length, 1);
  assert.match(logs[0]!, /^GitHub status aphex\/pipeline=failure not set after 3 attempt\(s\): /);
  assert.ok(!logs.join("\n").includes(TOKEN));
});

Deno.test("finalStatuses of a failed run: pipeline failure, per-environment states", () => {
  assert.deepEqual(
    finalStatuses(failedRun(), { environments: ["dev", "prod"], targetUrl: LINK }),
    [
      {
        context: "aphex/pipeline",
        state: "failure",
        description: "Aphex pipeline failed at deploy-dev",
        targetUrl: LINK,
      },
      {
        context: "aphex/dev",
        state: "failure",
        description: "deploy-dev failed; details in the Argo UI",
        targetUrl: LINK,
      },
      {
        context: "aphex/prod",
        state: "error",
        description: "Not deployed to prod: the pipeline stopped earlier",
        targetUrl: LINK,
      },
    ],
  );
  const ok = failedRun();
  ok.status = "succeeded";
  ok.stages[1]!.status = "succeeded";
  ok.stages[1]!.errorMessage = null;
  assert.deepEqual(
    finalStatuses(ok, { environments: [], targetUrl: null }).map((s) => [s.context, s.state]),
    [["aphex/pipeline", "success"], ["aphex/dev", "success"]],
  );
  const long = failedRun();
  long.stages[1]!.stageName = `deploy-${"x".repeat(300)}`;
  const desc = finalStatuses(long, { environments: [], targetUrl: null })[1]!.description;
  assert.equal(desc.length, 140);
  assert.ok(desc.endsWith("…"));
});

Deno.test("parseRepository accepts owner/repo only", () => {
  assert.deepEqual(parseRepository("example-org/web.shop"), {
    owner: "example-org",
    repo: "web.shop",
  });
  for (const bad of ["", "x", "a/b/c", "../x", "o/..", "o /r"]) {
    assert.throws(() => parseRepository(bad), /must be owner\/repo/);
  }
});
