/** Issue 13 items 6 and 7: the pull-request boundary (template, build, report). */
import assert from "node:assert/strict";
import { captureContext } from "../command/contract.ts";
import { main } from "../cli/main.ts";
import { metadataKey } from "../adapters/store/artifact_store.ts";
import { LocalArtifactStore } from "../adapters/store/local_store.ts";
import { checkoutCommit } from "../adapters/git/checkout.ts";
import { buildValidateWorkflowTemplate } from "../templates/workflow_template.ts";
import { startLoopback } from "./monitoring/_helpers.ts";
import { parseRaw, rawConfig, rawEnvironment } from "./generate_table.ts";
import { makeRepo, testGitEnv } from "./stages/_git_repo.ts";

/** A pull request's config: it names a bucket, an SNS topic and an environment of its own. */
const HOSTILE_CONFIG = [
  'version: "1.0"',
  "pipeline:",
  "  artifactBucket: attacker-bucket",
  "  notifications:",
  "    snsTopicArn: arn:aws:sns:us-east-1:666666666666:attacker-topic",
  "    onSuccess: true",
  "build:",
  "  commands:",
  '    - "mkdir -p artifacts && echo built > artifacts/app.txt"',
  "  artifacts: artifacts",
  "environments:",
  "  - name: prod-looks-green",
  "    region: us-east-1",
  '    account: "111111111111"',
  "    stacks:",
  "      - { name: App, path: infra/app.ts }",
  "",
].join("\n");

async function withPrWorkspace(
  fn: (ws: string, sha: string, env: Record<string, string>) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "aphex-pr-" });
  const aws = startLoopback(() => 500);
  try {
    const repo = await makeRepo(root, [{ "aphex-config.yaml": HOSTILE_CONFIG }]);
    const sha = repo.commits[0]!;
    const env = {
      ...testGitEnv(root),
      HOME: "/nonexistent-aphex-home",
      // Every AWS call (S3, SNS, CloudWatch) would land here; none may happen.
      AWS_ENDPOINT_URL: aws.url,
      AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
      AWS_SECRET_ACCESS_KEY: "example-secret-key-for-tests",
      AWS_REGION: "us-east-1",
      AWS_MAX_ATTEMPTS: "1",
      APHEX_S3_FORCE_PATH_STYLE: "true",
    };
    await checkoutCommit({
      workspace: `${root}/ws`,
      commitSha: sha,
      repoUrl: repo.url,
      allowFileUrls: true,
      env,
    });
    await fn(`${root}/ws`, sha, env);
    assert.deepEqual(aws.requests.map((r) => `${r.method} ${r.path}`), [], "AWS was called");
  } finally {
    await aws.close();
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("item 6: the validate template tells every PR stage to ignore the PR's bucket", () => {
  const config = parseRaw(rawConfig([rawEnvironment("dev")], { pullRequests: true }));
  const wt = buildValidateWorkflowTemplate(config);
  for (const t of wt.spec.templates) {
    if (!t.container) continue;
    const env = t.container.env ?? [];
    assert.ok(!env.some((e) => e.name === "APHEX_ARTIFACT_BUCKET"), `${t.name} gets a bucket`);
    const flag = t.name === "report" ? "APHEX_PULL_REQUEST" : "APHEX_LOCAL_STORE";
    assert.ok(env.some((e) => e.name === flag && e.value === "true"), `${t.name}: ${flag}`);
  }
});

Deno.test("item 6: a PR build with APHEX_LOCAL_STORE never uses the bucket its config names", async () => {
  await withPrWorkspace(async (ws, sha, env) => {
    const ctx = captureContext(["build"], {
      env: {
        ...env,
        APHEX_WORKSPACE: ws,
        APHEX_COMMIT_SHA: sha,
        APHEX_OUTPUTS_DIR: `${ws}/../outputs`,
        APHEX_LOCAL_STORE: "true",
      },
    });
    assert.equal(await main(ctx), 0, ctx.err.join(""));
    assert.ok(!ctx.err.join("").includes("attacker-bucket"), ctx.err.join(""));
    assert.ok(await new LocalArtifactStore(`${ws}/.aphex/store`).exists(metadataKey(sha)));
  });
});

Deno.test("item 7: a PR report reads nothing from the PR's config and sets only aphex/validate", async () => {
  await withPrWorkspace(async (ws, sha, env) => {
    const github = startLoopback(() => 201);
    try {
      for (
        const [phase, status, expected] of [["start", "", "pending"], [
          "exit",
          "Succeeded",
          "success",
        ]]
      ) {
        github.requests.length = 0;
        const ctx = captureContext(["report"], {
          env: {
            ...env,
            APHEX_WORKSPACE: ws,
            APHEX_COMMIT_SHA: sha,
            APHEX_WORKFLOW_NAME: "shop-validate-x7k2p",
            APHEX_REPORT_PHASE: phase!,
            ...(status ? { APHEX_WORKFLOW_STATUS: status } : {}),
            APHEX_PULL_REQUEST: "true",
            APHEX_GITHUB_REPOSITORY: "owner/repo",
            APHEX_GITHUB_API_URL: github.url,
            APHEX_GITHUB_TOKEN: "ghp_exampletoken1234567890",
          },
        });
        assert.equal(await main(ctx), 0, ctx.err.join(""));
        const contexts = github.requests.map((r) => JSON.parse(r.body));
        assert.deepEqual(
          contexts.map((c) => `${c.context}=${c.state}`),
          [`aphex/validate=${expected}`],
          ctx.err.join(""),
        );
        assert.ok(!ctx.err.join("").includes("attacker"), ctx.err.join(""));
      }
    } finally {
      await github.close();
    }
  });
});

Deno.test("the PR template has no token unless statuses are enabled, then only in report", () => {
  const without = rawConfig([rawEnvironment("dev")], { pullRequests: true });
  const withToken = rawConfig([rawEnvironment("dev")], { pullRequests: true });
  withToken.pipeline!.github!.apiToken = { name: "github-api", key: "token" };
  for (const [raw, expected] of [[without, []], [withToken, ["report"]]] as const) {
    const wt = buildValidateWorkflowTemplate(parseRaw(raw));
    const holders = wt.spec.templates
      .filter((t) => (t.container?.env ?? []).some((e) => e.name === "APHEX_GITHUB_TOKEN"))
      .map((t) => t.name);
    assert.deepEqual(holders, expected);
    assert.ok(!JSON.stringify(wt).includes("APHEX_SLACK_WEBHOOK_URL"));
    assert.ok(!JSON.stringify(wt).includes("APHEX_SNS_TOPIC_ARN"));
  }
});
