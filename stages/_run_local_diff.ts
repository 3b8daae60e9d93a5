/**
 * What a local run would deploy to an environment: `cdk diff` of its configured stacks against the
 * environment's account, from the assemblies the synth step produced (no second synth), with the
 * credentials and the CDK process environment a deployment would have. Informational only: a
 * failure to diff ends up in the returned note, and the deploy stage checks again. The AWS SDK
 * is loaded only when a diff runs.
 * @module
 */
import { resolve } from "node:path";
import type { EnvironmentConfig } from "../models/config.ts";
import { describeError, firstLine } from "../models/errors.ts";
import type { StsClientFactory } from "../adapters/aws/credentials.ts";
import type { CloudAssembly } from "../adapters/cdk/assembly.ts";
import { createCdkRunner } from "../adapters/cdk/runner.ts";
import { diffStacks } from "../adapters/cdk/diff.ts";
import { makeRedactor, secretValuesFromEnv } from "../adapters/process/exec.ts";

/** Options of {@linkcode diffEnvironment}. */
export interface DiffEnvironmentOptions {
  /** Repository checkout. */
  workspace: string;
  /** Commit being run. */
  commitSha: string;
  /** CDK bootstrap qualifier (`pipeline.cdkQualifier`). */
  qualifier?: string;
  /** Command running the project's CDK CLI. */
  cdkCommand: readonly string[];
  /** The environment's synthesized stacks: CDK app (relative to the workspace), display name. */
  stacks: readonly { app: string; displayName: string }[];
  /** The assembly synthesized for an app directory (absolute), if there is one. */
  assembly: (appDir: string) => Promise<CloudAssembly> | undefined;
  /** Environment of the run. */
  env: Record<string, string | undefined>;
  /** Output sink. */
  log: (line: string) => void;
  /** STS client factory (default: bounded clients on the default chain). */
  stsClient?: StsClientFactory;
}

/**
 * `cdk diff` of an environment's configured stacks against its account, one run per CDK app.
 * Returns the summary note: `diffed against aws://…`, `diff skipped: …` when the deploy
 * credentials cannot be had, or `diff failed (…)`.
 */
export async function diffEnvironment(
  env: EnvironmentConfig,
  options: DiffEnvironmentOptions,
): Promise<string> {
  const [{ resolveDeployCredentials }, { childEnvironment }] = await Promise.all([
    import("../adapters/aws/credentials.ts"),
    import("../adapters/cdk/environment.ts"),
  ]);
  let credentials;
  try {
    credentials = await resolveDeployCredentials(env, {
      qualifier: options.qualifier,
      stsClient: options.stsClient,
    });
  } catch (e) {
    const why = firstLine(describeError(e));
    options.log(`[diff] ${env.name}: skipped: ${why}`);
    return `diff skipped: ${why}`;
  }
  const redact = makeRedactor([...secretValuesFromEnv(options.env), ...credentials.secrets]);
  const runner = createCdkRunner({ redact, log: options.log });
  const childEnv = childEnvironment(options.env, env, {
    credentials,
    commitSha: options.commitSha,
    workspace: options.workspace,
  });
  const apps = new Map<string, string[]>();
  for (const s of options.stacks) apps.set(s.app, [...(apps.get(s.app) ?? []), s.displayName]);
  const failures: string[] = [];
  for (const [app, names] of apps) {
    const appDir = resolve(options.workspace, app);
    const assembly = await options.assembly(appDir);
    if (!assembly) {
      failures.push(`${app}: no assembly`);
      continue;
    }
    const result = await diffStacks(assembly.dir, {
      appDir,
      stacks: names,
      env: childEnv,
      runner,
      cdkCommand: options.cdkCommand,
      label: `diff/${env.name}`,
    });
    if (result.exitCode !== 0) failures.push(`${app}: cdk diff exited with ${result.exitCode}`);
  }
  return failures.length > 0
    ? `diff failed (${failures.join("; ")}); see the output above`
    : `diffed against aws://${env.account}/${env.region}`;
}
