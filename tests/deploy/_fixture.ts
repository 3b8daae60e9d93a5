/**
 * Test helpers of the deploy/preflight/synth tests: a local git repository holding a config and a
 * CDK app skeleton, a local artifact store with a published build, a cloud assembly manifest for
 * the stand-in `cdk` (`fake_cdk.sh`), and a scripted CloudFormation fake for aws-sdk-client-mock.
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type {
  DescribeStackEventsCommandInput,
  DescribeStacksCommandInput,
  ResourceStatus,
  StackEvent,
  StackStatus,
} from "@aws-sdk/client-cloudformation";
import { artifactKey, metadataKey } from "../../adapters/store/artifact_store.ts";
import { encodeBuildMetadata } from "../../adapters/store/artifacts.ts";
import { LocalArtifactStore } from "../../adapters/store/local_store.ts";
import { sha256Bytes } from "../../adapters/store/hash.ts";
import type { DeployDeps, DeployInputs } from "../../stages/deploy.ts";
import { makeRepo, testGitEnv } from "../stages/_git_repo.ts";

/** The stand-in CDK CLI. */
export const FAKE_CDK = join(dirname(fileURLToPath(import.meta.url)), "fake_cdk.sh");
/** Command running it. */
export const FAKE_CDK_COMMAND: readonly string[] = ["bash", FAKE_CDK];

/** The pipeline's own account (caller identity). */
export const PIPELINE_ACCOUNT = "111111111111";
/** ARN of the pipeline's identity. */
export const PIPELINE_ARN = "arn:aws:sts::111111111111:assumed-role/aphex-pipeline/pod";
/** Account of the `prod` environment. */
export const PROD_ACCOUNT = "222222222222";
/** Role of the `prod` environment. */
export const PROD_ROLE = "arn:aws:iam::222222222222:role/aphex-deployer";

/** Stacks of the fixture app: [display name, stack name, dependencies]. */
export const STACKS: readonly [string, string, string[]][] = [
  ["Network", "aphex-fixture-network", []],
  ["App", "aphex-fixture-app", ["Network"]],
  ["Monitoring", "aphex-fixture-monitoring", ["App"]],
];
/** CloudFormation names in deploy order. */
export const STACK_NAMES = STACKS.map(([, name]) => name);

/** A cloud assembly manifest like the fixture CDK app's, for one account/region. */
export function assemblyManifest(account: string, region: string): string {
  const artifacts: Record<string, unknown> = {};
  for (const [id, stackName, deps] of STACKS) {
    artifacts[`${id}.assets`] = { type: "cdk:asset-manifest", properties: { file: "x" } };
    artifacts[id] = {
      type: "aws:cloudformation:stack",
      environment: `aws://${account}/${region}`,
      properties: { templateFile: `${id}.template.json`, stackName },
      dependencies: [`${id}.assets`, ...deps],
      displayName: id,
    };
  }
  return JSON.stringify({ version: "48.0.0", artifacts }, null, 2);
}

/** Options of {@linkcode configYaml}. */
export interface ConfigOptions {
  /** Stack names of `dev` (default: the three fixture stacks). */
  devStacks?: string[];
  /** preDeploy hooks of `dev`. */
  preDeploy?: string[];
  /** postDeploy hooks of `dev`. */
  postDeploy?: string[];
  /** Build commands. */
  build?: string[];
  /** `deploy.concurrency`, when set. */
  concurrency?: number;
  /** Extra lines of `dev` (indented 4 spaces), e.g. `["review: { approve: always }"]`. */
  devExtra?: string[];
  /** Lines of a `pipeline:` section (indented 2 spaces). */
  pipeline?: string[];
}

/** `aphex-config.yaml` with `dev` (pipeline account) and `prod` (another account, a role). */
export function configYaml(options: ConfigOptions = {}): string {
  const stacks = (names: string[]) =>
    names.map((n) => `      - { name: ${n}, path: infra/lib/stacks.ts }`);
  const list = (key: string, items: string[] | undefined) =>
    items && items.length > 0
      ? [`      ${key}:`, ...items.map((c) => `        - ${JSON.stringify(c)}`)]
      : [];
  const hooks = [
    ...list("preDeploy", options.preDeploy),
    ...list("postDeploy", options.postDeploy),
  ];
  return [
    'version: "1.0"',
    ...(options.pipeline ? ["pipeline:", ...options.pipeline.map((l) => `  ${l}`)] : []),
    "build:",
    "  commands:",
    ...(options.build ?? ["make build"]).map((c) => `    - ${JSON.stringify(c)}`),
    "  artifacts: dist",
    ...(options.concurrency ? ["deploy:", `  concurrency: ${options.concurrency}`] : []),
    "environments:",
    "  - name: dev",
    "    region: us-east-1",
    `    account: "${PIPELINE_ACCOUNT}"`,
    "    stacks:",
    ...stacks(options.devStacks ?? STACK_NAMES),
    ...(hooks.length > 0 ? ["    hooks:", ...hooks] : []),
    ...(options.devExtra ?? []).map((line) => `    ${line}`),
    "  - name: prod",
    "    region: eu-west-1",
    `    account: "${PROD_ACCOUNT}"`,
    `    role: ${PROD_ROLE}`,
    "    stacks:",
    ...stacks(STACK_NAMES),
    "",
  ].join("\n");
}

/** Files of the test repository besides the config. */
export const REPO_FILES: Record<string, string> = {
  "infra/cdk.json": JSON.stringify({
    app: "node bin/app.js",
    context: { "aphex:team": "platform", "aphex:empty": "" },
  }),
  "infra/lib/stacks.ts": "// stacks\n",
};

/** Artifacts published by the fixture build. */
export const ARTIFACTS: Record<string, string> = {
  "app.zip": "PK fake zip content\n",
  "nested/config.json": '{"feature":true}\n',
};

/** Publishes a build of `sha` (artifacts + metadata.json) to a local store. */
export async function publishBuild(store: LocalArtifactStore, sha: string): Promise<void> {
  const artifacts = [];
  for (const [rel, content] of Object.entries(ARTIFACTS)) {
    const key = artifactKey(sha, rel);
    await store.put(key, content);
    artifacts.push({
      commitSha: sha,
      timestamp: new Date(Date.UTC(2026, 10, 25, 12)),
      s3Path: store.uriFor(key),
      artifactType: "file",
      sizeBytes: new TextEncoder().encode(content).length,
      checksum: sha256Bytes(content),
    });
  }
  await store.put(
    metadataKey(sha),
    encodeBuildMetadata({
      commitSha: sha,
      artifacts,
      build: {
        success: true,
        exitCode: 0,
        stdout: "",
        stderr: "",
        duration: 1,
        artifacts: Object.keys(ARTIFACTS),
      },
    }),
  );
}

/** A prepared deploy: repository, store with a build, inputs and deps (mocks are the test's). */
export interface DeployFixture {
  /** Temp root (removed afterwards). */
  root: string;
  /** Commit. */
  sha: string;
  /** Repository URL (file://). */
  repoUrl: string;
  /** Local store holding the build. */
  store: LocalArtifactStore;
  /** Inputs for `dev`. */
  inputs: DeployInputs;
  /** Deps: stand-in cdk, instant retries, captured log. */
  deps: DeployDeps & { env: Record<string, string> };
  /** Captured log lines. */
  logs: string[];
  /** `deploy <display name>` lines the stand-in cdk recorded. */
  calls(): Promise<string[]>;
}

/** Sets up a {@linkcode DeployFixture}, runs `fn`, removes everything. */
export async function withDeployFixture(
  options: ConfigOptions & { publish?: boolean },
  fn: (f: DeployFixture) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "aphex-deploy-test-" });
  try {
    const repo = await makeRepo(root, [{
      "aphex-config.yaml": configYaml(options),
      ...REPO_FILES,
    }]);
    const sha = repo.commits[0]!;
    const store = new LocalArtifactStore(join(root, "store"));
    if (options.publish !== false) await publishBuild(store, sha);
    await Deno.writeTextFile(
      join(root, "manifest-dev.json"),
      assemblyManifest("@ACCOUNT@", "@REGION@"),
    );
    const callsFile = join(root, "cdk-calls.txt");
    await Deno.writeTextFile(callsFile, "");
    const logs: string[] = [];
    const env: Record<string, string> = {
      ...testGitEnv(root),
      FAKE_CDK_MANIFEST: join(root, "manifest-dev.json"),
      FAKE_CDK_CALLS: callsFile,
    };
    await fn({
      root,
      sha,
      repoUrl: repo.url,
      store,
      inputs: {
        workspace: join(root, "ws"),
        commitSha: sha,
        repoUrl: repo.url,
        configFile: "aphex-config.yaml",
        storeDir: join(root, "store"),
        outputsDir: join(root, "outputs"),
        environment: "dev",
      },
      deps: {
        env,
        log: (line) => logs.push(line),
        store,
        allowFileUrls: true,
        cdkCommand: FAKE_CDK_COMMAND,
        retry: { sleep: () => Promise.resolve() },
      },
      logs,
      calls: async () => (await Deno.readTextFile(callsFile)).split("\n").filter(Boolean),
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** What the CloudFormation fake answers for one stack, call after call (the last one repeats). */
export type StackScript = Array<
  | { status: StackStatus | string; outputs?: Record<string, string> }
  | "missing"
  | "throttle"
>;

/** Scripted CloudFormation: DescribeStacks per stack from a script, events per stack. */
export class FakeCloudFormation {
  /** Scripts by stack name (default: UPDATE_COMPLETE with one output). */
  readonly scripts: Record<string, StackScript> = {};
  /** Events by stack name, newest first. */
  readonly events: Record<string, StackEvent[]> = {};
  /** DescribeStacks calls made, by stack name. */
  readonly describeCalls: Record<string, number> = {};

  /** Answers DescribeStacks. */
  describeStacks(input: DescribeStacksCommandInput) {
    const name = input.StackName ?? "";
    const n = this.describeCalls[name] = (this.describeCalls[name] ?? 0) + 1;
    const script = this.scripts[name] ??
      [{ status: "UPDATE_COMPLETE", outputs: { [`${name}-Out`]: `value-of-${name}` } }];
    const step = script[Math.min(n, script.length) - 1]!;
    if (step === "throttle") {
      const error = new Error("Rate exceeded");
      error.name = "Throttling";
      return Promise.reject(error);
    }
    if (step === "missing") {
      const error = new Error(`Stack with id ${name} does not exist`);
      error.name = "ValidationError";
      return Promise.reject(error);
    }
    return Promise.resolve({
      Stacks: [{
        StackName: name,
        CreationTime: new Date(0),
        StackStatus: step.status as StackStatus,
        Outputs: Object.entries(step.outputs ?? {}).map(([OutputKey, OutputValue]) => ({
          OutputKey,
          OutputValue,
        })),
      }],
    });
  }

  /** Answers DescribeStackEvents (one page). */
  describeStackEvents(input: DescribeStackEventsCommandInput) {
    return Promise.resolve({ StackEvents: this.events[input.StackName ?? ""] ?? [] });
  }
}

/** A CloudFormation event (newest-first lists are built by the caller). */
export function stackEvent(
  stackName: string,
  logicalId: string,
  status: string,
  reason: string,
  options: { at: Date; type?: string },
): StackEvent {
  return {
    StackId: `arn:aws:cloudformation:us-east-1:${PIPELINE_ACCOUNT}:stack/${stackName}/1`,
    EventId: crypto.randomUUID(),
    StackName: stackName,
    LogicalResourceId: logicalId,
    ResourceType: options.type ?? "AWS::SQS::Queue",
    ResourceStatus: status as ResourceStatus,
    ResourceStatusReason: reason,
    Timestamp: options.at,
  };
}
