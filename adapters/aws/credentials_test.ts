import assert from "node:assert/strict";
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { AphexError } from "../../models/errors.ts";
import {
  type AwsCredentials,
  bootstrapDeployRoleArn,
  createStsClient,
  type CredentialTarget,
  partitionForRegion,
  resolveDeployCredentials,
  STS_MAX_ATTEMPTS,
  STS_REQUEST_HANDLER,
  type StsClientFactory,
} from "./credentials.ts";

const CANARY_SECRET = "CANARY-secret-0f9c2b7e-do-not-log";
const CANARY_TOKEN = "CANARY-token-5d1e8a44-do-not-log";
const CANARY_KEY = "ASIACANARYKEY1234567";
const TARGET: CredentialTarget = { name: "prod", account: "222222222222", region: "eu-west-1" };
const PIPELINE_ARN = "arn:aws:sts::111111111111:assumed-role/aphex-pipeline/pod";
const DEPLOY_ROLE =
  "arn:aws:iam::222222222222:role/cdk-hnb659fds-deploy-role-222222222222-eu-west-1";

function assumed() {
  return {
    Credentials: {
      AccessKeyId: CANARY_KEY,
      SecretAccessKey: CANARY_SECRET,
      SessionToken: CANARY_TOKEN,
      Expiration: new Date(Date.UTC(2026, 10, 25, 13)),
    },
  };
}

/** Factory recording the configs it was asked for (clients are real, STS itself is mocked). */
function recordingFactory(): {
  factory: StsClientFactory;
  configs: { credentials?: AwsCredentials }[];
} {
  const configs: { region: string; credentials?: AwsCredentials }[] = [];
  return {
    configs,
    factory: (config) => {
      configs.push(config);
      return createStsClient(config);
    },
  };
}

function assertNoCanary(text: string): void {
  for (const canary of [CANARY_SECRET, CANARY_TOKEN, CANARY_KEY]) {
    assert.ok(!text.includes(canary), `credential leaked into: ${text}`);
  }
}

function aphexError(pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof AphexError, `expected AphexError, got ${error}`);
    assert.equal(error.exitCode, 1);
    assert.match(error.message, pattern);
    assertNoCanary(error.message);
    assertNoCanary(String(error.stack));
    return true;
  };
}

Deno.test("partition and CDK bootstrap deploy role ARN", () => {
  assert.equal(partitionForRegion("us-east-1"), "aws");
  assert.equal(partitionForRegion("cn-north-1"), "aws-cn");
  assert.equal(partitionForRegion("us-gov-west-1"), "aws-us-gov");
  assert.equal(bootstrapDeployRoleArn("222222222222", "eu-west-1"), DEPLOY_ROLE);
  assert.equal(
    bootstrapDeployRoleArn("333333333333", "cn-northwest-1", { qualifier: "custom123" }),
    "arn:aws-cn:iam::333333333333:role/cdk-custom123-deploy-role-333333333333-cn-northwest-1",
  );
  assert.equal(
    bootstrapDeployRoleArn("444444444444", "us-gov-east-1"),
    "arn:aws-us-gov:iam::444444444444:role/cdk-hnb659fds-deploy-role-444444444444-us-gov-east-1",
  );
});

Deno.test("the default STS client is bounded: 2 attempts, regional", async () => {
  const client = createStsClient({ region: "eu-west-1" });
  try {
    assert.equal(await client.config.maxAttempts(), STS_MAX_ATTEMPTS);
    assert.equal(await client.config.region(), "eu-west-1");
  } finally {
    client.destroy();
  }
});

Deno.test("same account: no role is assumed, only the region is set", async () => {
  const sts = mockClient(STSClient);
  try {
    sts.on(GetCallerIdentityCommand).resolves({
      Account: "222222222222",
      Arn: "arn:aws:sts::222222222222:assumed-role/aphex/pod",
    });
    const creds = await resolveDeployCredentials(TARGET);
    assert.deepEqual(creds, {
      account: "222222222222",
      callerAccount: "222222222222",
      callerArn: "arn:aws:sts::222222222222:assumed-role/aphex/pod",
      env: { AWS_REGION: "eu-west-1", AWS_DEFAULT_REGION: "eu-west-1" },
      secrets: [],
    });
    assert.equal(sts.commandCalls(AssumeRoleCommand).length, 0);
  } finally {
    sts.restore();
  }
});

Deno.test("other account: the CDK bootstrap deploy role is assumed and verified", async () => {
  const sts = mockClient(STSClient);
  try {
    sts.on(GetCallerIdentityCommand)
      .resolvesOnce({ Account: "111111111111", Arn: PIPELINE_ARN })
      .resolvesOnce({ Account: "222222222222", Arn: "arn:aws:sts::222222222222:assumed-role/x/y" });
    sts.on(AssumeRoleCommand).resolves(assumed());
    const { factory, configs } = recordingFactory();
    const creds = await resolveDeployCredentials(TARGET, { stsClient: factory });
    assert.deepEqual(sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input), [{
      RoleArn: DEPLOY_ROLE,
      RoleSessionName: "aphex-prod",
      DurationSeconds: 3600,
    }]);
    assert.equal(creds.account, "222222222222");
    assert.equal(creds.callerAccount, "111111111111");
    assert.equal(creds.assumedRole, DEPLOY_ROLE);
    assert.deepEqual(creds.env, {
      AWS_REGION: "eu-west-1",
      AWS_DEFAULT_REGION: "eu-west-1",
      AWS_ACCESS_KEY_ID: CANARY_KEY,
      AWS_SECRET_ACCESS_KEY: CANARY_SECRET,
      AWS_SESSION_TOKEN: CANARY_TOKEN,
    });
    assert.deepEqual(new Set(creds.secrets), new Set([CANARY_SECRET, CANARY_TOKEN, CANARY_KEY]));
    // The identity check ran with the assumed credentials.
    assert.equal(configs.length, 2);
    assert.equal(configs[0]!.credentials, undefined);
    assert.equal(configs[1]!.credentials?.secretAccessKey, CANARY_SECRET);
  } finally {
    sts.restore();
  }
});

Deno.test("the environment's own role takes precedence over the bootstrap role", async () => {
  const sts = mockClient(STSClient);
  try {
    sts.on(GetCallerIdentityCommand)
      .resolvesOnce({ Account: "111111111111", Arn: PIPELINE_ARN })
      .resolvesOnce({ Account: "222222222222" });
    sts.on(AssumeRoleCommand).resolves(assumed());
    const role = "arn:aws:iam::222222222222:role/deployer";
    const creds = await resolveDeployCredentials({ ...TARGET, role }, { sessionName: "run 42/x" });
    assert.equal(creds.assumedRole, role);
    assert.deepEqual(sts.commandCalls(AssumeRoleCommand)[0]!.args[0].input, {
      RoleArn: role,
      RoleSessionName: "run-42-x",
      DurationSeconds: 3600,
    });
  } finally {
    sts.restore();
  }
});

Deno.test("AssumeRole denied: names account and role, fails fast", async () => {
  const sts = mockClient(STSClient);
  try {
    sts.on(GetCallerIdentityCommand).resolves({ Account: "111111111111", Arn: PIPELINE_ARN });
    sts.on(AssumeRoleCommand).rejects(
      Object.assign(
        new Error(
          `User: ${PIPELINE_ARN} is not authorized to perform: sts:AssumeRole on resource: ${DEPLOY_ROLE}`,
        ),
        { name: "AccessDenied" },
      ),
    );
    const started = performance.now();
    await assert.rejects(
      resolveDeployCredentials(TARGET),
      aphexError(
        /cannot assume role arn:aws:iam::222222222222:role\/cdk-hnb659fds-deploy-role-222222222222-eu-west-1 in account 222222222222 for environment "prod" .*AccessDenied: User: .* is not authorized/,
      ),
    );
    assert.ok(performance.now() - started < 5000);
    assert.equal(sts.commandCalls(AssumeRoleCommand).length, 1);
  } finally {
    sts.restore();
  }
});

Deno.test("AssumeRole that never answers is cut off by the timeout", async () => {
  const sts = mockClient(STSClient);
  try {
    sts.on(GetCallerIdentityCommand).resolves({ Account: "111111111111", Arn: PIPELINE_ARN });
    sts.on(AssumeRoleCommand).callsFake(() => new Promise(() => {}));
    const started = performance.now();
    await assert.rejects(
      resolveDeployCredentials(TARGET, { timeoutMs: 200 }),
      aphexError(
        /cannot assume role .*deploy-role-222222222222-eu-west-1 in account 222222222222.*no answer from STS within 200 ms/,
      ),
    );
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 190 && elapsed < 5000, `took ${elapsed} ms`);
  } finally {
    sts.restore();
  }
});

Deno.test("the pipeline's identity cannot be read: clear error", async () => {
  const sts = mockClient(STSClient);
  try {
    sts.on(GetCallerIdentityCommand).rejects(
      Object.assign(new Error("Could not load credentials from any providers"), {
        name: "CredentialsProviderError",
      }),
    );
    await assert.rejects(
      resolveDeployCredentials(TARGET),
      aphexError(
        /pipeline's AWS identity for environment "prod" \(account 222222222222, eu-west-1\): sts:GetCallerIdentity failed \(CredentialsProviderError: Could not load credentials/,
      ),
    );
  } finally {
    sts.restore();
  }
});

Deno.test("account mismatch after assuming the role: error, no credentials in it", async () => {
  const sts = mockClient(STSClient);
  try {
    sts.on(GetCallerIdentityCommand)
      .resolvesOnce({ Account: "111111111111", Arn: PIPELINE_ARN })
      .resolvesOnce({ Account: "999999999999", Arn: "arn:aws:sts::999999999999:assumed-role/r/s" });
    sts.on(AssumeRoleCommand).resolves(assumed());
    await assert.rejects(
      resolveDeployCredentials({ ...TARGET, role: "arn:aws:iam::999999999999:role/wrong" }),
      aphexError(
        /assumed role arn:aws:iam::999999999999:role\/wrong for environment "prod" .* acts in account 999999999999, not the configured account 222222222222; nothing was deployed/,
      ),
    );
  } finally {
    sts.restore();
  }
});

Deno.test("an error that echoes the assumed credentials is redacted", async () => {
  const sts = mockClient(STSClient);
  try {
    sts.on(GetCallerIdentityCommand)
      .resolvesOnce({ Account: "111111111111", Arn: PIPELINE_ARN })
      .rejectsOnce(new Error(`The security token ${CANARY_TOKEN} for ${CANARY_KEY} is invalid`));
    sts.on(AssumeRoleCommand).resolves(assumed());
    await assert.rejects(
      resolveDeployCredentials(TARGET),
      aphexError(
        /sts:GetCallerIdentity with it failed \(The security token \*\*\* for \*\*\* is invalid\)/,
      ),
    );
  } finally {
    sts.restore();
  }
});

Deno.test("a real STS client against a silent endpoint gives up within seconds", async () => {
  // A TCP server that accepts connections and never answers.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of listener) conns.push(conn);
    } catch {
      // listener closed
    }
  })();
  const factory: StsClientFactory = ({ region, credentials }) =>
    new STSClient({
      region,
      endpoint: `http://127.0.0.1:${listener.addr.port}`,
      credentials: credentials ??
        { accessKeyId: "AKIAFAKEFAKEFAKE", secretAccessKey: CANARY_SECRET },
      maxAttempts: STS_MAX_ATTEMPTS,
      requestHandler: { ...STS_REQUEST_HANDLER, requestTimeout: 500 },
    });
  const started = performance.now();
  try {
    await assert.rejects(
      // The outer bound is far away: the SDK's own timeout and bounded retries end the call.
      resolveDeployCredentials(TARGET, { stsClient: factory, timeoutMs: 60_000 }),
      aphexError(
        /pipeline's AWS identity for environment "prod" \(account 222222222222, eu-west-1\): sts:GetCallerIdentity failed \(TimeoutError: .*500 ?ms/,
      ),
    );
    assert.ok(performance.now() - started < 5000);
    assert.equal(conns.length, STS_MAX_ATTEMPTS, "one connection per attempt");
  } finally {
    listener.close();
    await accepting;
    for (const conn of conns) conn.close();
  }
});
