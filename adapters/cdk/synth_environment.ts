/**
 * Every CDK app of one environment synthesized just in time (or read from the cloud assemblies the
 * build stored), and each configured stack found in its assembly and checked against the
 * environment's account and region. Shared by the deploy and plan stages.
 * @module
 */
import { relative } from "node:path";
import { AphexError } from "../../models/errors.ts";
import { synthesizeApp } from "./app.ts";
import { locateCdkApps } from "./app_dir.ts";
import {
  type AssemblyStack,
  type CloudAssembly,
  readCloudAssembly,
  selectStacks,
} from "./assembly.ts";
import type { CdkRunner } from "./runner.ts";

/** A configured stack in the cloud assembly of its app. */
export interface SynthesizedStack {
  /** The app's cloud assembly. */
  assembly: CloudAssembly;
  /** The stack's artifact in it. */
  stack: AssemblyStack;
  /** The app's directory (absolute). */
  appDir: string;
}

/** Options of {@linkcode synthesizeEnvironment}. */
export interface SynthesizeEnvironmentOptions {
  /** Commit of the run (`APHEX_COMMIT_SHA` of the app). */
  commitSha: string;
  /** Environment of the CDK CLI (see `childEnvironment`). */
  env: Record<string, string>;
  /** CDK CLI runner. */
  runner: CdkRunner;
  /** Command running the project's CDK CLI. */
  cdkCommand: readonly string[];
  /** Makes a fresh directory for one app's cloud assembly (the caller removes it). */
  makeOutputDir: () => Promise<string>;
  /**
   * Cloud assemblies the build stored, by app directory relative to the workspace: read instead of
   * synthesizing; an app missing from them is an error.
   */
  stored?: readonly { appDir: string; dir: string }[];
  /** Progress messages. */
  log: (line: string) => void;
}

/** What {@linkcode synthesizeEnvironment} made. */
export interface SynthesizedEnvironment {
  /** Every configured stack by its configured name. */
  stacks: Map<string, SynthesizedStack>;
  /** The assembly of each app, by app directory relative to the workspace. */
  assemblies: { dir: string; appDir: string }[];
}

/**
 * Synthesizes (or reads) the cloud assembly of every app holding a stack of `target`, and selects
 * the configured stacks in it.
 *
 * @throws {AphexError} when a stack is missing from its assembly or targets another account or
 * region (exit 2), when synth fails, or when a stored assembly lacks an app (exit 1).
 */
export async function synthesizeEnvironment(
  workspace: string,
  target: {
    name: string;
    account: string;
    region: string;
    stacks: readonly { name: string; path: string }[];
  },
  options: SynthesizeEnvironmentOptions,
): Promise<SynthesizedEnvironment> {
  const stacks = new Map<string, SynthesizedStack>();
  const assemblies: { dir: string; appDir: string }[] = [];
  for (const app of await locateCdkApps(workspace, target.stacks)) {
    const appRel = relative(workspace, app.appDir) || ".";
    const fromStore = options.stored?.find((a) => a.appDir === appRel);
    if (options.stored && !fromStore) {
      throw new AphexError(
        `the stored assembly of ${target.name} at ${options.commitSha} has no app ${appRel}`,
      );
    }
    let assembly: CloudAssembly;
    if (fromStore) {
      options.log(`stored cloud assembly of ${appRel} (no rebuild, no synth)`);
      assembly = await readCloudAssembly(fromStore.dir);
    } else {
      options.log(`cdk synth in ${appRel}`);
      assembly = await synthesizeApp(app.appDir, {
        account: target.account,
        region: target.region,
        environment: target.name,
        commitSha: options.commitSha,
        env: options.env,
        outputDir: await options.makeOutputDir(),
        runner: options.runner,
        cdkCommand: options.cdkCommand,
        workspace,
      });
    }
    assemblies.push({ dir: assembly.dir, appDir: appRel });
    const selected = selectStacks(assembly, app.stacks, {
      expectEnvironment: { account: target.account, region: target.region },
      context: `environment ${target.name}`,
    });
    app.stacks.forEach((name, i) =>
      stacks.set(name, { assembly, stack: selected[i]!, appDir: app.appDir })
    );
  }
  return { stacks, assemblies };
}
