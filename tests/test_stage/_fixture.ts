/**
 * Test helper for the test stage: a local git repository with a config whose `dev` environment
 * runs the given test commands (and `prod` has no tests), a local artifact store, and the stage
 * inputs/deps pointing at them.
 * @module
 */
import { outputsKey } from "../../adapters/store/artifact_store.ts";
import { LocalArtifactStore } from "../../adapters/store/local_store.ts";
import type { TestDeps, TestInputs } from "../../stages/test.ts";
import type { StackOutputs } from "../../adapters/store/test_results.ts";
import { makeRepo, testGitEnv } from "../stages/_git_repo.ts";

/** A fake GitHub token: present in the stage's environment, never in a test command's. */
export const FAKE_TOKEN = "ghp_aphexTestTokenNeverShown0123456789";

/** Config text: `dev` runs `commands`, `prod` has no tests section. */
export function testConfigYaml(commands: string[]): string {
  return [
    'version: "1.0"',
    "build:",
    '  commands: ["true"]',
    "  artifacts: dist",
    "environments:",
    "  - name: dev",
    "    region: eu-west-2",
    '    account: "012345678901"',
    "    stacks:",
    "      - { name: App-dev, path: infra/app.ts }",
    "    tests:",
    "      commands:",
    ...commands.map((c) => `        - ${JSON.stringify(c)}`),
    "  - name: prod",
    "    region: us-east-1",
    '    account: "111111111111"',
    "    stacks:",
    "      - { name: App-prod, path: infra/app.ts }",
    "",
  ].join("\n");
}

/** What a test gets from {@linkcode withTestFixture}. */
export interface TestFixture {
  /** Temp root (removed afterwards). */
  root: string;
  /** Commit under test. */
  sha: string;
  /** `file://` URL of the origin repository. */
  repoUrl: string;
  /** Stage inputs for `dev`. */
  inputs: TestInputs;
  /** Stage deps (local git, allowFileUrls, a fake token in env). */
  deps: TestDeps;
  /** Lines logged by the stage. */
  logs: string[];
  /** The local artifact store the stage uses. */
  store: LocalArtifactStore;
}

/** Options of {@linkcode withTestFixture}. */
export interface FixtureOptions {
  /** Extra files committed to the repository (path → content). */
  files?: Record<string, string>;
  /** Stack outputs stored as `<sha>/outputs/dev.json`; `null` stores nothing. */
  outputs?: StackOutputs | null;
}

/** Runs `fn` with a fresh repository, workspace and store; removes everything afterwards. */
export async function withTestFixture(
  commands: string[],
  options: FixtureOptions,
  fn: (f: TestFixture) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "aphex-test-stage-" });
  try {
    const repo = await makeRepo(root, [{
      "aphex-config.yaml": testConfigYaml(commands),
      ...options.files,
    }]);
    const sha = repo.commits[0]!;
    const store = new LocalArtifactStore(`${root}/store`);
    const outputs = options.outputs === undefined
      ? { "App-dev": { ApiUrl: "https://api.example.invalid/dev" } }
      : options.outputs;
    if (outputs !== null) {
      await store.put(outputsKey(sha, "dev"), JSON.stringify(outputs));
    }
    const logs: string[] = [];
    const inputs: TestInputs = {
      workspace: `${root}/ws`,
      commitSha: sha,
      repoUrl: repo.url,
      configFile: "aphex-config.yaml",
      storeDir: `${root}/store`,
      outputsDir: `${root}/outputs`,
      environment: "dev",
    };
    const deps: TestDeps = {
      env: {
        ...testGitEnv(root),
        HOME: "/nonexistent-aphex-home",
        APHEX_GITHUB_TOKEN: FAKE_TOKEN,
      },
      log: (l) => logs.push(l),
      allowFileUrls: true,
    };
    await fn({ root, sha, repoUrl: repo.url, inputs, deps, logs, store });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}
