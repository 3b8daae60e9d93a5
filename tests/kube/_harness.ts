/**
 * Test harness for the Kubernetes tests: configurations, a git repository with one commit per
 * configuration, a workspace checked out at a commit, and a runner for `aphex pipeline-update` /
 * `aphex apply` against the fake API server.
 * @module
 */
import { captureContext, type Command, execute } from "../../command/contract.ts";
import { parseConfigOrThrow } from "../../models/config_parse.ts";
import { topologyHash } from "../../templates/topology.ts";
import { checkoutCommit } from "../../adapters/git/checkout.ts";
import { makeRepo, testGitEnv } from "../stages/_git_repo.ts";
import { type FakeApiServer, startFakeApiServer } from "./_fake_api.ts";

/** A configuration with the given environments (`name` or `name!` for an approval gate). */
export function configYaml(
  envs: string[],
  options: { pullRequests?: boolean; roleArn?: string; pipelineStack?: boolean } = {},
): string {
  return [
    'version: "1.0"',
    "pipeline:",
    "  name: shop",
    "  namespace: argo",
    "  eventsNamespace: argo-events",
    "  image: ghcr.io/example/aphex:1.0.0",
    "  serviceAccount: aphex-pipeline",
    "  artifactBucket: shop-artifacts",
    ...(options.roleArn ? [`  roleArn: ${options.roleArn}`] : []),
    "  github:",
    "    owner: example-org",
    "    repo: shop",
    "    branch: main",
    "    webhookSecret: { name: github-webhook, key: secret }",
    "  webhook:",
    "    url: https://hooks.example.com",
    "  argoUrl: https://argo.example.com",
    ...(options.pipelineStack
      ? ["  pipelineStack: { name: ShopPipeline, path: infra/pipeline.ts }"]
      : []),
    "  pullRequests:",
    `    enabled: ${options.pullRequests ? "true" : "false"}`,
    "build:",
    '  commands: ["true"]',
    "environments:",
    ...envs.flatMap((e) => [
      `  - name: ${e.replace(/!$/, "")}`,
      "    region: us-east-1",
      '    account: "111111111111"',
      ...(e.endsWith("!") ? ["    approval: true"] : []),
      "    stacks:",
      `      - { name: App-${e.replace(/!$/, "")}, path: infra/app.ts }`,
    ]),
    "",
  ].join("\n");
}

/** S3 settings that make every S3 call fail at once on 127.0.0.1 (port 9 is discard, closed). */
export const CLOSED_S3_ENV: Record<string, string> = {
  AWS_ENDPOINT_URL_S3: "http://127.0.0.1:9",
  AWS_ACCESS_KEY_ID: "test",
  AWS_SECRET_ACCESS_KEY: "test",
  AWS_REGION: "us-east-1",
  AWS_MAX_ATTEMPTS: "1",
  AWS_EC2_METADATA_DISABLED: "true",
};

/** Topology hash of a configuration text. */
export function hashOf(yaml: string): string {
  return topologyHash(parseConfigOrThrow(yaml));
}

/** A test world: fake API server, repository, workspace, kubeconfig. */
export interface World {
  /** Temp root. */
  root: string;
  /** The fake API server. */
  api: FakeApiServer;
  /** Commits of the repository (one per configuration). */
  commits: string[];
  /** Workspace directory. */
  workspace: string;
  /** Outputs directory of the stage. */
  outputs: string;
  /** Kubeconfig path. */
  kubeconfig: string;
  /** Checks the workspace out at a commit (file:// URL allowed here only). */
  checkout(sha: string): Promise<void>;
  /** Runs a command with `args`; returns exit code and captured output. */
  run(
    command: Command,
    args: string[],
    env?: Record<string, string>,
  ): Promise<{ code: number; out: string; err: string }>;
  /** Reads an output parameter file. */
  output(name: string): Promise<string>;
}

/** Creates a world for `configs` (one commit each), runs `fn`, cleans everything up. */
export async function withWorld(
  configs: string[],
  fn: (w: World) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "aphex-kube-test-" });
  const api = startFakeApiServer();
  try {
    const repo = await makeRepo(root, configs.map((c) => ({ "aphex-config.yaml": c })));
    const workspace = `${root}/ws`;
    const outputs = `${root}/outputs`;
    const kubeconfig = await api.writeKubeconfig(root);
    const gitEnv = testGitEnv(root);
    const world: World = {
      root,
      api,
      commits: repo.commits,
      workspace,
      outputs,
      kubeconfig,
      async checkout(sha) {
        await checkoutCommit({
          workspace,
          commitSha: sha,
          repoUrl: repo.url,
          allowFileUrls: true,
          env: gitEnv,
        });
      },
      async run(command, args, env = {}) {
        const ctx = captureContext(args, {
          // Stage records go to the bucket inside a Workflow: point S3 at a closed loopback port
          // with test keys, so recording fails fast and nothing reaches a real AWS endpoint.
          env: { PATH: gitEnv.PATH!, HOME: root, ...CLOSED_S3_ENV, ...env },
          cwd: root,
        });
        const code = await execute(command, ctx);
        return { code, out: ctx.out.join(""), err: ctx.err.join("") };
      },
      output: (name) => Deno.readTextFile(`${outputs}/${name}`),
    };
    await fn(world);
  } finally {
    await api.close();
    await Deno.remove(root, { recursive: true });
  }
}
