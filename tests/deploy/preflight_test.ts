import assert from "node:assert/strict";
import { join } from "node:path";
import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import fc from "fast-check";
import { captureContext } from "../../command/contract.ts";
import { main } from "../../cli/main.ts";
import { parseConfigOrThrow } from "../../models/config_parse.ts";
import { commandTool, requiredTools } from "../../models/command_tools.ts";
import {
  formatProblem,
  loadSsmClientFactory,
  type PreflightReport,
  runPreflight,
  type SsmClientFactory,
} from "../../stages/preflight.ts";
import {
  configYaml,
  PIPELINE_ACCOUNT,
  PIPELINE_ARN,
  PROD_ACCOUNT,
  PROD_ROLE,
  REPO_FILES,
} from "./_fixture.ts";

const CANARY_SECRET = "CANARY-preflight-secret-5e6f7a8b-never-log";

async function withWorkspace(
  files: Record<string, string>,
  fn: (ws: string, env: Record<string, string>) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "aphex-preflight-test-" });
  try {
    const ws = join(root, "ws");
    for (const [path, content] of Object.entries(files)) {
      const full = join(ws, path);
      await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
      await Deno.writeTextFile(full, content);
    }
    // A tool that is on PATH but fails `--version`.
    const bin = join(root, "bin");
    await Deno.mkdir(bin);
    await Deno.writeTextFile(join(bin, "brokentool"), "#!/bin/sh\necho 'broken: no' >&2\nexit 3\n");
    await Deno.chmod(join(bin, "brokentool"), 0o755);
    const env = { PATH: `${bin}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`, HOME: root };
    await fn(ws, env);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

function mockAws() {
  const sts = mockClient(STSClient);
  sts.on(GetCallerIdentityCommand).resolves({ Account: PIPELINE_ACCOUNT, Arn: PIPELINE_ARN });
  const ssm = mockClient(SSMClient);
  return {
    sts,
    ssm,
    restore() {
      sts.restore();
      ssm.restore();
    },
  };
}

Deno.test("preflight: several problems at once are all reported, each naming env/account/role", async () => {
  const aws = mockAws();
  const denied = new Error(`not authorized to perform: sts:AssumeRole on resource: ${PROD_ROLE}`);
  denied.name = "AccessDenied";
  aws.sts.on(AssumeRoleCommand).rejects(denied);
  const notFound = new Error("Parameter /cdk-bootstrap/hnb659fds/version not found");
  notFound.name = "ParameterNotFound";
  aws.ssm.on(GetParameterCommand).rejects(notFound);
  try {
    const config = configYaml({
      build: ["definitely-not-a-tool-aphex build", "FOO=1 git status"],
      preDeploy: ["brokentool --prepare", "cd infra && echo ok"],
      devStacks: ["aphex-fixture-network", "ghost-stack"],
    }).replace(
      "{ name: ghost-stack, path: infra/lib/stacks.ts }",
      "{ name: ghost-stack, path: elsewhere/stack.ts }",
    );
    await withWorkspace({ "aphex-config.yaml": config, ...REPO_FILES }, async (ws, env) => {
      const ctx = captureContext(
        [
          "preflight",
          "--workspace",
          ws,
          "--context",
          "aphex:team",
          "--context",
          "aphex:empty",
          "--context",
          "aphex:missing",
          "--json",
        ],
        { env: { ...env, MY_API_TOKEN: CANARY_SECRET } },
      );
      assert.equal(await main(ctx), 1, ctx.err.join(""));
      const report = JSON.parse(ctx.out.join("")) as PreflightReport;
      assert.equal(report.skippedAws, false);
      const lines = report.problems.map(formatProblem);
      assert.deepEqual(lines.map((l) => l.slice(0, l.indexOf("]") + 1)), [
        "[tool]",
        "[tool]",
        "[cdk-app]",
        "[context]",
        "[context]",
        "[bootstrap]",
        "[credentials]",
      ]);
      assert.equal(lines[0], "[tool] `definitely-not-a-tool-aphex` is not on PATH");
      assert.equal(
        lines[1],
        "[tool] `brokentool --version` exited with code 3: broken: no; " +
          "`brokentool -v` exited with code 3: broken: no",
      );
      assert.match(lines[2]!, /^\[cdk-app\] environment dev: stack ghost-stack: no cdk.json found/);
      assert.match(
        lines[3]!,
        /^\[context\] environment dev, prod: CDK context key "aphex:empty" is missing or empty in infra\/cdk.json/,
      );
      assert.match(lines[4]!, /"aphex:missing" is missing or empty/);
      assert.match(
        lines[5]!,
        /^\[bootstrap\] environment dev \(account 111111111111\): CDK bootstrap not found in aws:\/\/111111111111\/us-east-1: SSM parameter \/cdk-bootstrap\/hnb659fds\/version does not exist; run `npx cdk bootstrap aws:\/\/111111111111\/us-east-1 --qualifier hnb659fds`/,
      );
      assert.match(
        lines[6]!,
        new RegExp(
          `^\\[credentials\\] environment prod \\(account ${PROD_ACCOUNT}, role ${PROD_ROLE}\\): cannot assume role ${PROD_ROLE} in account ${PROD_ACCOUNT}.*AccessDenied.*CDK bootstrap not checked`,
        ),
      );
      const err = ctx.err.join("");
      assert.match(err, /\[preflight\] 7 problem\(s\)\n$/);
      assert.match(err, /\[preflight\] ok: tool git: git version/);
      assert.match(err, /\[preflight\] ok: CDK app infra: 1\/3 context key\(s\) set/);
      assert.match(err, /\[preflight\] problem: \[credentials\] environment prod/);
      assert.ok(!err.includes(CANARY_SECRET));
      // git, node, npx always; then the first word of each command (builtins and paths skipped).
      assert.deepEqual(
        report.passed.filter((p) => p.startsWith("tool ")).map((p) => p.split(":")[0]),
        ["tool git", "tool node", "tool npx"],
      );
      assert.deepEqual(
        aws.ssm.commandCalls(GetParameterCommand).map((c) => c.args[0].input.Name),
        ["/cdk-bootstrap/hnb659fds/version"],
      );
    });
  } finally {
    aws.restore();
  }
});

Deno.test("preflight: all checks pass; bootstrap read with the assumed credentials in the env's region", async () => {
  const aws = mockAws();
  aws.sts.reset();
  aws.sts.on(GetCallerIdentityCommand)
    .resolvesOnce({ Account: PIPELINE_ACCOUNT, Arn: PIPELINE_ARN })
    .resolves({ Account: PROD_ACCOUNT, Arn: `arn:aws:sts::${PROD_ACCOUNT}:assumed-role/d/p` });
  aws.sts.on(AssumeRoleCommand).resolves({
    Credentials: {
      AccessKeyId: "ASIAPREFLIGHT",
      SecretAccessKey: CANARY_SECRET,
      SessionToken: "token-preflight",
      Expiration: new Date(Date.UTC(2030, 0, 1)),
    },
  });
  aws.ssm.on(GetParameterCommand).resolves({ Parameter: { Value: "21" } });
  try {
    const config = configYaml({ build: ["git --version"] });
    await withWorkspace({ "aphex-config.yaml": config, ...REPO_FILES }, async (ws, env) => {
      const logs: string[] = [];
      const seen: { region: string; secret?: string }[] = [];
      const createSsmClient = await loadSsmClientFactory();
      const ssmClient: SsmClientFactory = (c) => {
        seen.push({
          region: c.region,
          ...(c.credentials ? { secret: c.credentials.secretAccessKey } : {}),
        });
        return createSsmClient(c);
      };
      const report = await runPreflight(
        {
          workspace: ws,
          configFile: "aphex-config.yaml",
          environment: "prod",
          contextKeys: ["aphex:team"],
        },
        { env, log: (l) => logs.push(l), ssmClient },
      );
      assert.deepEqual(report.problems, [], logs.join("\n"));
      assert.equal(report.exitCode, 0);
      assert.deepEqual(seen, [{ region: "eu-west-1", secret: CANARY_SECRET }]);
      assert.ok(report.passed.includes(
        `environment prod: credentials for account ${PROD_ACCOUNT} through role ${PROD_ROLE}`,
      ));
      assert.ok(report.passed.includes(
        `environment prod: CDK bootstrap version 21 in aws://${PROD_ACCOUNT}/eu-west-1 (qualifier hnb659fds)`,
      ));
      assert.equal(logs.at(-1), "[preflight] all checks passed");
      assert.ok(!logs.join("\n").includes(CANARY_SECRET));
    });
  } finally {
    aws.restore();
  }
});

Deno.test("preflight: --skip-aws (APHEX_SKIP_AWS) skips the AWS checks and says so", async () => {
  const aws = mockAws();
  try {
    await withWorkspace(
      { "aphex-config.yaml": configYaml({ build: ["git status"] }), ...REPO_FILES },
      async (ws, env) => {
        const ctx = captureContext(["preflight", "--workspace", ws, "--json"], {
          env: { ...env, APHEX_SKIP_AWS: "true" },
        });
        assert.equal(await main(ctx), 0, ctx.err.join(""));
        const report = JSON.parse(ctx.out.join("")) as PreflightReport;
        assert.equal(report.skippedAws, true);
        assert.match(
          ctx.err.join(""),
          /AWS checks SKIPPED \(--skip-aws\): credentials, accounts, roles and the CDK bootstrap were NOT checked/,
        );
        assert.match(ctx.err.join(""), /all checks passed \(AWS checks skipped\)\n$/);
        assert.equal(aws.sts.calls().length, 0);
        assert.equal(aws.ssm.calls().length, 0);
        // An unknown --env is a usage error naming the environments.
        const bad = captureContext(["preflight", "--workspace", ws, "--skip-aws", "--env", "qa"], {
          env,
        });
        assert.equal(await main(bad), 2);
        assert.match(
          bad.err.join(""),
          /environment "qa" is not in the configuration; valid environments: dev, prod/,
        );
      },
    );
  } finally {
    aws.restore();
  }
});

Deno.test("preflight: an invalid configuration is reported with every issue (base tools still checked)", async () => {
  await withWorkspace(
    { "aphex-config.yaml": 'version: "1.0"\nbuild: {}\nenvironments: nope\n' },
    async (ws, env) => {
      const logs: string[] = [];
      const report = await runPreflight(
        { workspace: ws, configFile: "aphex-config.yaml", skipAws: true },
        { env, log: (l) => logs.push(l) },
      );
      assert.equal(report.exitCode, 1);
      const config = report.problems.filter((p) => p.check === "config");
      assert.ok(config.length >= 2, JSON.stringify(report.problems));
      assert.ok(config.every((p) => p.message.startsWith("aphex-config.yaml:")));
      assert.ok(report.passed.some((p) => p.startsWith("tool npx: ")));
    },
  );
});

Deno.test("commandTool: first word after assignments; builtins, paths and expansions skipped", () => {
  assert.equal(commandTool("npm ci"), "npm");
  assert.equal(commandTool("  FOO=1 BAR=x make -j4"), "make");
  assert.equal(commandTool("cd infra && npm test"), undefined);
  assert.equal(commandTool("./scripts/build.sh"), undefined);
  assert.equal(commandTool("$TOOL run"), undefined);
  assert.equal(commandTool('"quoted" x'), undefined);
  assert.equal(commandTool(""), undefined);
  fc.assert(
    fc.property(
      fc.array(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,5}=[a-z0-9]{0,4}$/), { maxLength: 3 }),
      fc.stringMatching(/^[a-z][a-z0-9.+-]{0,10}$/),
      fc.array(fc.stringMatching(/^[^\s]{1,6}$/), { maxLength: 3 }),
      (assignments, tool, args) => {
        const expected = [
            "cd",
            "echo",
            "env",
            "exec",
            "exit",
            "export",
            "eval",
            "for",
            "if",
            "set",
            "source",
            "test",
            "true",
            "false",
            "time",
            "read",
            "alias",
            "case",
            "command",
            "printf",
            "pushd",
            "popd",
            "ulimit",
            "umask",
            "unset",
            "until",
            "while",
          ]
            .includes(tool)
          ? undefined
          : tool;
        assert.equal(commandTool([...assignments, tool, ...args].join(" ")), expected);
      },
    ),
  );
  const config = parseConfigOrThrow(configYaml({
    build: ["npm ci", "npm run build", "make"],
    preDeploy: ["node scripts/pre.js"],
  }));
  assert.deepEqual(requiredTools(config, config.environments), [
    "git",
    "node",
    "npx",
    "npm",
    "make",
  ]);
});

/**
 * Required CDK context from the configuration (`environments[].requiredContext`): a push run's
 * preflight checks it without any flag, naming the environment and the app.
 */
Deno.test("preflight: environments[].requiredContext is checked in that environment's CDK apps", async () => {
  const config = configYaml({
    build: ["git --version"],
    devExtra: ['requiredContext: ["aphex:team", "aphex:empty", "aphex:absent"]'],
  });
  await withWorkspace({ "aphex-config.yaml": config, ...REPO_FILES }, async (ws, env) => {
    const logs: string[] = [];
    const report = await runPreflight(
      { workspace: ws, configFile: "aphex-config.yaml", environment: "dev", skipAws: true },
      { env, log: (l) => logs.push(l) },
    );
    assert.equal(report.exitCode, 1, logs.join("\n"));
    const context = report.problems.filter((p) => p.check === "context");
    assert.deepEqual(
      context.map((p) => [p.environment, p.message.replace(/ in .*$/, "")]),
      [
        ["dev", 'CDK context key "aphex:empty" is missing or empty'],
        ["dev", 'CDK context key "aphex:absent" is missing or empty'],
      ],
    );
    assert.ok(
      report.passed.some((l) => /1\/3 context key\(s\) set/.test(l)),
      report.passed.join("\n"),
    );
  });
});
