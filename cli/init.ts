/**
 * `aphex init`: a first `aphex-config.yaml` for a repository with a CDK app. Finds `cdk.json`,
 * synthesizes the app once (the project's own CDK CLI, no AWS credentials), lists its stacks in
 * dependency order with their environment, and writes a commented configuration that validates
 * as written. With `--pipeline-stack`, also writes the pipeline's own CDK app (a stack using
 * `AphexPipelineResources` from `aphex/cdk`) and sets `pipeline.pipelineStack`. Never overwrites a
 * file without `--force`. The files' text comes from `templates/init_scaffold.ts` (pure); this
 * module finds what goes into them, checks the result and writes it.
 * @module
 */
import { existsSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { type Command, type OptionValues, runMain, str } from "../command/contract.ts";
import { DEFAULT_CONFIG_FILE } from "../command/config_file.ts";
import { parseConfig } from "../models/config_parse.ts";
import { AphexError, ExitCode, formatIssue, usageError } from "../models/errors.ts";
import { AWS_REGIONS } from "../models/aws_regions.ts";
import { closest } from "../models/suggest.ts";
import type { AssemblyStack } from "../adapters/cdk/assembly.ts";
import { defaultWorkspace } from "../command/stage_runtime.ts";
import {
  defaultPipelineStackFile,
  type InitEnvironment,
  type InitPlan,
  PIPELINE_STACK_NAME,
  renderInitConfig,
  renderPipelineCdkJson,
  renderPipelineStack,
} from "../templates/init_scaffold.ts";

/** Parses `--env name:region:account` (usage error naming the problem). */
export function parseEnvFlag(text: string): InitEnvironment {
  const parts = text.split(":");
  if (parts.length !== 3 || parts.some((p) => p === "")) {
    throw usageError(
      `--env ${
        JSON.stringify(text)
      }: expected NAME:REGION:ACCOUNT, e.g. dev:us-east-1:123456789012`,
    );
  }
  const [name, region, account] = parts as [string, string, string];
  if (!AWS_REGIONS.includes(region)) {
    const hint = closest(region, AWS_REGIONS);
    throw usageError(
      `--env ${text}: "${region}" is not an AWS region${hint ? `; did you mean "${hint}"?` : ""}`,
    );
  }
  if (!/^\d{12}$/.test(account)) {
    throw usageError(`--env ${text}: the account must be 12 digits`);
  }
  return { name, region, account };
}

const SKIP_DIRS = new Set(["node_modules", ".git", "cdk.out", ".aphex", "dist"]);

/** `cdk.json` files under `top` (breadth first, at most 3 levels down, skipping build folders). */
export async function findCdkJson(top: string): Promise<string[]> {
  const found: string[] = [];
  let level = [top];
  for (let depth = 0; depth <= 3 && level.length > 0; depth++) {
    const next: string[] = [];
    for (const dir of level) {
      for await (const entry of Deno.readDir(dir)) {
        if (entry.isFile && entry.name === "cdk.json") found.push(join(dir, entry.name));
        if (entry.isDirectory && !SKIP_DIRS.has(entry.name)) next.push(join(dir, entry.name));
      }
    }
    level = next.sort();
  }
  return found;
}

/** Stacks in an order that respects their dependencies (stable otherwise). */
export function dependencyOrder(stacks: readonly AssemblyStack[]): AssemblyStack[] {
  const byName = new Map(stacks.map((s) => [s.stackName, s]));
  const done = new Set<string>();
  const out: AssemblyStack[] = [];
  const visit = (s: AssemblyStack, path: Set<string>) => {
    if (done.has(s.stackName) || path.has(s.stackName)) return;
    path.add(s.stackName);
    for (const d of s.dependencies) {
      const dep = byName.get(d);
      if (dep) visit(dep, path);
    }
    done.add(s.stackName);
    out.push(s);
  };
  for (const s of stacks) visit(s, new Set());
  return out;
}

/** The file of the app's entry point named by `cdk.json`'s `app` command, if it exists. */
async function appEntry(cdkJson: string): Promise<string | undefined> {
  try {
    const app = (JSON.parse(await Deno.readTextFile(cdkJson)) as { app?: unknown }).app;
    if (typeof app !== "string") return undefined;
    for (const word of app.split(/\s+/)) {
      const file = resolve(dirname(cdkJson), word);
      if (/\.[cm]?[jt]sx?$|\.py$|\.java$|\.go$|\.cs$/.test(word) && existsSync(file)) return file;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** `aphex init`. */
export const command: Command = {
  spec: {
    name: "init",
    summary: "Write a first aphex-config.yaml from the CDK app in this repository",
    description:
      "Finds cdk.json, synthesizes the app once with its own CDK CLI (no AWS credentials " +
      "needed), lists its stacks in dependency order with their environment, and writes a " +
      "commented configuration that validates as written. Environments come from --env " +
      "NAME:REGION:ACCOUNT (repeatable, in deploy order), else one example environment.",
    options: {
      env: {
        type: "string",
        description: "Environment as NAME:REGION:ACCOUNT, e.g. dev:us-east-1:123456789012",
        multiple: true,
        valueName: "SPEC",
      },
      config: {
        type: "string",
        description: "Configuration file to write, relative to the repository root",
        default: DEFAULT_CONFIG_FILE,
        valueName: "FILE",
      },
      workspace: {
        type: "string",
        description: "Repository root (default: the enclosing git repository's top level)",
        env: "APHEX_WORKSPACE",
        valueName: "DIR",
      },
      force: { type: "boolean", description: "Overwrite an existing configuration file" },
      "cdk-command": {
        type: "string",
        description: "Command running the project's CDK CLI",
        env: "APHEX_CDK_COMMAND",
        default: "npx --no-install cdk",
        valueName: "CMD",
      },
      json: { type: "boolean", description: "Print the stacks found as JSON on stdout" },
      "pipeline-stack": {
        type: "boolean",
        description: "Also write the pipeline's own CDK app (AphexPipelineResources from " +
          "aphex/cdk, with a cdk.json) and set pipeline.pipelineStack",
      },
      "pipeline-stack-file": {
        type: "string",
        description: "File of --pipeline-stack, relative to the repository root, in a folder " +
          "without cdk.json (default: <CDK app>/pipeline/pipeline-stack.ts)",
        valueName: "FILE",
      },
      "oidc-provider-arn": {
        type: "string",
        description: "EKS cluster's IAM OIDC provider ARN, written into the pipeline stack's " +
          "cdk.json context (aphex:oidcProviderArn)",
        valueName: "ARN",
      },
    },
  },
  async run(values: OptionValues, _positionals, ctx) {
    const given = str(values, "workspace");
    const top = given === undefined ? defaultWorkspace(ctx) : resolve(ctx.cwd, given);
    const file = str(values, "config") ?? DEFAULT_CONFIG_FILE;
    const target = resolve(top, file);
    if (existsSync(target) && values.force !== true) {
      throw usageError(`${relative(ctx.cwd, target) || file} exists; pass --force to overwrite it`);
    }
    const envFlags = Array.isArray(values.env) ? values.env : [];
    const environments = envFlags.map(parseEnvFlag);
    const example = environments.length === 0;
    if (example) {
      const region = ctx.env.CDK_DEFAULT_REGION ?? ctx.env.AWS_REGION ?? "us-east-1";
      environments.push({
        name: "dev",
        region: AWS_REGIONS.includes(region) ? region : "us-east-1",
        account: /^\d{12}$/.test(ctx.env.CDK_DEFAULT_ACCOUNT ?? "")
          ? ctx.env.CDK_DEFAULT_ACCOUNT!
          : "123456789012",
      });
    }
    const names = new Set<string>();
    for (const e of environments) {
      if (names.has(e.name)) throw usageError(`--env: environment "${e.name}" given twice`);
      names.add(e.name);
    }

    const found = await findCdkJson(top);
    if (found.length === 0) {
      throw usageError(
        `no cdk.json in ${top} (looked 3 folders deep): aphex init needs a CDK app ` +
          "(`cdk init app --language typescript`)",
      );
    }
    const cdkJson = found[0]!;
    const appDir = dirname(cdkJson);
    const withPipelineStack = values["pipeline-stack"] === true ||
      str(values, "pipeline-stack-file") !== undefined;
    const stackFileRel = str(values, "pipeline-stack-file") ??
      defaultPipelineStackFile(relative(top, appDir) || ".");
    const stackFile = resolve(top, stackFileRel);
    const stackCdkJson = join(dirname(stackFile), "cdk.json");
    if (withPipelineStack) {
      if (!/\.[cm]?ts$/.test(stackFile)) {
        throw usageError(`--pipeline-stack-file ${stackFileRel}: expected a .ts file`);
      }
      // Its own app: a folder whose cdk.json runs another app would never synthesize the stack
      // (a cdk.json this command wrote may be overwritten with --force).
      if (existsSync(stackCdkJson)) {
        const ours =
          (JSON.parse(renderPipelineCdkJson(basename(stackFile))) as { app: string }).app;
        let app: unknown;
        try {
          app = (JSON.parse(await Deno.readTextFile(stackCdkJson)) as { app?: unknown }).app;
        } catch {
          app = undefined;
        }
        if (app !== ours) {
          throw usageError(
            `--pipeline-stack-file ${stackFileRel}: ${relative(top, stackCdkJson)} runs another ` +
              "CDK app; the pipeline stack is its own app: put it in a folder without cdk.json",
          );
        }
      }
      for (const f of [stackFile, stackCdkJson]) {
        if (existsSync(f) && values.force !== true) {
          throw usageError(`${relative(ctx.cwd, f)} exists; pass --force to overwrite it`);
        }
      }
    }
    if (found.length > 1) {
      ctx.stderr(
        `[init] several CDK apps: ${found.map((f) => relative(top, f)).join(", ")}; using ` +
          `${relative(top, cdkJson)} (add the others' stacks by hand)\n`,
      );
    }
    const first = environments[0]!;
    ctx.stderr(
      `[init] cdk synth of ${relative(top, appDir) || "."} for aws://${first.account}/` +
        `${first.region} (APHEX_ENV=${first.name})\n`,
    );
    // The synth machinery is loaded only here: `aphex init --help` stays light.
    const [
      { createCdkRunner },
      { parseCdkCommand, synthesizeApp },
      { makeRedactor, secretValuesFromEnv },
    ] = await Promise.all([
      import("../adapters/cdk/runner.ts"),
      import("../adapters/cdk/app.ts"),
      import("../adapters/process/exec.ts"),
    ]);
    const baseEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(ctx.env)) if (v !== undefined) baseEnv[k] = v;
    const outputDir = await Deno.makeTempDir({ prefix: "aphex-init-" });
    const runner = createCdkRunner({
      redact: makeRedactor(secretValuesFromEnv(ctx.env)),
      // The assembly folder is temporary: do not print a path that is gone afterwards.
      log: (line) => ctx.stderr(`[init] ${line.replace(outputDir, "a temporary folder")}\n`),
    });
    let stacks: AssemblyStack[];
    try {
      const assembly = await synthesizeApp(appDir, {
        account: first.account,
        region: first.region,
        environment: first.name,
        workspace: top,
        env: baseEnv,
        outputDir,
        runner,
        cdkCommand: parseCdkCommand(str(values, "cdk-command")),
      });
      stacks = dependencyOrder(assembly.stacks);
    } finally {
      await Deno.remove(outputDir, { recursive: true }).catch(() => {});
    }
    if (stacks.length === 0) {
      throw new AphexError(`the CDK app in ${relative(top, appDir) || "."} defines no stacks`);
    }
    const entry = await appEntry(cdkJson);
    const stackPath = relative(top, entry ?? cdkJson);
    const plan: InitPlan = {
      environments,
      example,
      stacks,
      stackPath,
      appDir: relative(top, appDir) || ".",
      ...(withPipelineStack
        ? { pipelineStack: { name: PIPELINE_STACK_NAME, path: relative(top, stackFile) } }
        : {}),
    };
    const text = renderInitConfig(plan);
    // What is written must validate as written (stack paths included).
    const checked = parseConfig(text, {
      file,
      pathExists: (p) => resolve(top, p) === stackFile || existsSync(resolve(top, p)),
    });
    if (!checked.ok) {
      throw new AphexError(
        `aphex init produced an invalid configuration (please report):\n` +
          checked.issues.map(formatIssue).join("\n"),
      );
    }
    if (withPipelineStack) {
      await Deno.mkdir(dirname(stackFile), { recursive: true });
      await Deno.writeTextFile(
        stackFile,
        renderPipelineStack(relative(dirname(stackFile), top) || ".", relative(top, target)),
      );
      await Deno.writeTextFile(
        stackCdkJson,
        renderPipelineCdkJson(basename(stackFile), str(values, "oidc-provider-arn")),
      );
    }
    await Deno.writeTextFile(target, text);

    const rows = stacks.map((s, i) => ({
      order: i + 1,
      stackName: s.stackName,
      displayName: s.displayName,
      environment: s.environment ? `aws://${s.environment.account}/${s.environment.region}` : null,
      dependencies: s.dependencies,
    }));
    if (values.json === true) {
      ctx.stdout(JSON.stringify({ file: target, app: plan.appDir, stacks: rows }) + "\n");
    } else {
      const width = Math.max(...rows.map((r) => r.stackName.length));
      ctx.stdout(`Stacks of ${plan.appDir}, in dependency order:\n`);
      for (const r of rows) {
        ctx.stdout(
          `  ${r.order}. ${r.stackName.padEnd(width)}  ${r.environment ?? "environment-agnostic"}` +
            (r.dependencies.length ? `  after ${r.dependencies.join(", ")}` : "") + "\n",
        );
      }
      if (withPipelineStack) {
        ctx.stdout(
          `Wrote ${relative(ctx.cwd, stackFile)} and its cdk.json (pipeline stack ` +
            `${PIPELINE_STACK_NAME}; deploy it once with cdk deploy -c aphex:oidcProviderArn=ARN).\n`,
        );
      }
      ctx.stdout(
        `Wrote ${relative(ctx.cwd, target) || file} (${environments.length} environment(s)). ` +
          "Next: aphex validate, aphex generate, commit, aphex apply.\n",
      );
    }
    return ExitCode.Ok;
  },
};

if (import.meta.main) await runMain(command);
