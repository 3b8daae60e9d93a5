/**
 * Test helpers of the run-order tests: a repository with a linear history (and a force-pushed
 * branch), a local store with a published build of every commit, and runDeploy inputs per run
 * (each run a fresh shallow checkout, as in a pod).
 * @module
 */
import { join } from "node:path";
import {
  CloudFormationClient,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
} from "@aws-sdk/client-cloudformation";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { LocalArtifactStore } from "../../adapters/store/local_store.ts";
import type { DeployDeps, DeployInputs } from "../../stages/deploy.ts";
import { makeRepo, testGitEnv } from "../stages/_git_repo.ts";
import {
  assemblyManifest,
  configYaml,
  FAKE_CDK_COMMAND,
  FakeCloudFormation,
  PIPELINE_ACCOUNT,
  PIPELINE_ARN,
  publishBuild,
  REPO_FILES,
} from "../deploy/_fixture.ts";

/** Mocks STS (the pipeline's account) and CloudFormation; returns the restore function. */
export function mockAws(): () => void {
  const fake = new FakeCloudFormation();
  const sts = mockClient(STSClient);
  sts.on(GetCallerIdentityCommand).resolves({ Account: PIPELINE_ACCOUNT, Arn: PIPELINE_ARN });
  const cfn = mockClient(CloudFormationClient);
  cfn.on(DescribeStacksCommand).callsFake((input) => fake.describeStacks(input));
  cfn.on(DescribeStackEventsCommand).callsFake((input) => fake.describeStackEvents(input));
  return () => {
    sts.restore();
    cfn.restore();
  };
}

async function git(args: string[], cwd: string, env: Record<string, string>): Promise<string> {
  const out = await new Deno.Command("git", { args, cwd, env, clearEnv: true }).output();
  if (out.code !== 0) {
    throw new Error(`git ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout).trim();
}

/** A prepared history. */
export interface RunOrderFixture {
  /** Temp root. */
  root: string;
  /** Linear commits c1 → c2 → c3 → c4 of `main`. */
  commits: [string, string, string, string];
  /** A commit on another branch made from c1 (neither ancestor nor descendant of c2/c3). */
  forced: string;
  /** Repository URL. */
  repoUrl: string;
  /** Store with a build of every commit. */
  store: LocalArtifactStore;
  /** Environment of the stages. */
  env: Record<string, string>;
  /** Inputs of one run (fresh workspace per call). */
  inputs(sha: string, run: string): DeployInputs;
  /** Deps of one run. */
  deps(logs: string[]): DeployDeps;
  /** `deploy <stack>` lines the stand-in cdk recorded so far. */
  calls(): Promise<string[]>;
}

/** Sets up a {@linkcode RunOrderFixture}, runs `fn`, removes everything. */
export async function withRunOrderFixture(
  fn: (f: RunOrderFixture) => Promise<void>,
  options: { executionMode?: "queued" | "superseded" } = {},
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "aphex-run-order-" });
  try {
    const config = configYaml({ devStacks: ["aphex-fixture-network"] }).replace(
      'version: "1.0"\n',
      `version: "1.0"\npipeline:\n  executionMode: ${options.executionMode ?? "queued"}\n`,
    );
    const repo = await makeRepo(root, [
      { "aphex-config.yaml": config, ...REPO_FILES },
      { "src/a.txt": "2\n" },
      { "src/a.txt": "3\n" },
      { "src/a.txt": "4\n" },
    ]);
    const gitEnv = testGitEnv(root);
    await git(["checkout", "--quiet", "-b", "rewritten", repo.commits[0]!], repo.dir, gitEnv);
    await Deno.writeTextFile(join(repo.dir, "src-forced.txt"), "forced\n");
    await git(["add", "--all"], repo.dir, gitEnv);
    await git(["commit", "--quiet", "-m", "force-pushed"], repo.dir, gitEnv);
    const forced = await git(["rev-parse", "HEAD"], repo.dir, gitEnv);
    await git(["checkout", "--quiet", "main"], repo.dir, gitEnv);
    const store = new LocalArtifactStore(join(root, "store"));
    for (const sha of [...repo.commits, forced]) await publishBuild(store, sha);
    await Deno.writeTextFile(
      join(root, "manifest.json"),
      assemblyManifest("@ACCOUNT@", "@REGION@"),
    );
    const callsFile = join(root, "cdk-calls.txt");
    await Deno.writeTextFile(callsFile, "");
    const env = {
      ...gitEnv,
      FAKE_CDK_MANIFEST: join(root, "manifest.json"),
      FAKE_CDK_CALLS: callsFile,
    };
    await fn({
      root,
      commits: repo.commits as [string, string, string, string],
      forced,
      repoUrl: repo.url,
      store,
      env,
      inputs: (sha, run) => ({
        workspace: join(root, `ws-${run}`),
        commitSha: sha,
        repoUrl: repo.url,
        branch: "main",
        configFile: "aphex-config.yaml",
        storeDir: join(root, "store"),
        outputsDir: join(root, `outputs-${run}`),
        environment: "dev",
      }),
      deps: (logs) => ({
        env,
        log: (line) => logs.push(line),
        store,
        allowFileUrls: true,
        cdkCommand: FAKE_CDK_COMMAND,
        retry: { sleep: () => Promise.resolve() },
      }),
      calls: async () => (await Deno.readTextFile(callsFile)).split("\n").filter(Boolean),
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}
