/**
 * `aphex init`: a first `aphex-config.yaml` for a repository with a CDK app. Finds `cdk.json`,
 * synthesizes the app once (the project's own CDK CLI, no AWS credentials), lists its stacks in
 * dependency order with their environment, and writes a commented configuration that validates
 * as written. Never overwrites a file without `--force`.
 * @module
 */
import { existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { type Command, type OptionValues, runMain, str } from "../command/contract.ts";
import { DEFAULT_CONFIG_FILE } from "../command/config_file.ts";
import { parseConfig } from "../models/config_parse.ts";
import { AphexError, ExitCode, formatIssue, usageError } from "../models/errors.ts";
import { AWS_REGIONS } from "../models/aws_regions.ts";
import { closest } from "../models/suggest.ts";
import type { AssemblyStack } from "../adapters/cdk/cli.ts";
import { defaultWorkspace } from "../command/stage_runtime.ts";

/** The published JSON schema of `aphex-config.yaml` (editors validate against it). */
export const SCHEMA_URL = "https://aphex.dev/schema/aphex-config.schema.json";

/** One environment of `--env name:region:account`. */
export interface InitEnvironment {
  /** Environment name. */
  name: string;
  /** AWS region. */
  region: string;
  /** AWS account id (12 digits). */
  account: string;
}

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

/** What {@linkcode renderInitConfig} writes. */
export interface InitPlan {
  /** Environments (in order). */
  environments: InitEnvironment[];
  /** Whether the environments are the example (no `--env` given). */
  example: boolean;
  /** Stacks in dependency order. */
  stacks: AssemblyStack[];
  /** File the stacks are defined in, relative to the repository root. */
  stackPath: string;
  /** CDK app directory relative to the repository root (`.` for the root). */
  appDir: string;
}

/** Renders the commented configuration (pure). */
export function renderInitConfig(plan: InitPlan): string {
  const install = plan.appDir === "." ? "npm ci" : `npm ci --prefix ${plan.appDir}`;
  const lines = [
    `# yaml-language-server: $schema=${SCHEMA_URL}`,
    "# Aphex pipeline configuration, written by `aphex init`. Check it with `aphex validate`, then",
    "# `aphex generate` writes the Argo manifests into manifests/ (commit them) and `aphex apply`",
    "# installs them in the cluster once.",
    'version: "1.0"',
    "",
    "build:",
    "  # Shell commands run at the repository root on every push, in order.",
    "  commands:",
    `    - ${JSON.stringify(install)}`,
    "",
    "# Deployed in this order; each environment deploys its stacks in the order listed",
    "# (dependencies first). Stacks are matched by CloudFormation stack name.",
    "environments:",
  ];
  for (const env of plan.environments) {
    lines.push(
      `  - name: ${env.name}`,
      `    region: ${env.region}`,
      `    account: "${env.account}"${plan.example ? " # replace with your AWS account id" : ""}`,
      "    stacks:",
    );
    for (const s of plan.stacks) {
      const deps = s.dependencies.length > 0 ? ` # after ${s.dependencies.join(", ")}` : "";
      lines.push(
        `      - name: ${s.stackName}${deps}`,
        `        path: ${plan.stackPath}`,
      );
    }
  }
  lines.push(
    "",
    "# pipeline: set the image, artifact bucket and GitHub repository before `aphex generate`",
    "# for a cluster (see README, Configuration reference).",
    "",
  );
  return lines.join("\n");
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
    if (found.length > 1) {
      ctx.stderr(
        `[init] several CDK apps: ${found.map((f) => relative(top, f)).join(", ")}; using ` +
          `${relative(top, cdkJson)} (add the others' stacks by hand)\n`,
      );
    }
    const appDir = dirname(cdkJson);
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
      import("../adapters/cdk/cli.ts"),
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
    };
    const text = renderInitConfig(plan);
    // What is written must validate as written (stack paths included).
    const checked = parseConfig(text, {
      file,
      pathExists: (p) => existsSync(resolve(top, p)),
    });
    if (!checked.ok) {
      throw new AphexError(
        `aphex init produced an invalid configuration (please report):\n` +
          checked.issues.map(formatIssue).join("\n"),
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
      ctx.stdout(
        `Wrote ${relative(ctx.cwd, target) || file} (${environments.length} environment(s)). ` +
          "Next: aphex validate, aphex generate, commit, aphex apply.\n",
      );
    }
    return ExitCode.Ok;
  },
};

if (import.meta.main) await runMain(command);
