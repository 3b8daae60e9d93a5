/**
 * The `aphex` CLI dispatcher. Each command module is loaded lazily with a statically written
 * specifier, so `aphex validate` never loads the AWS SDK or the Kubernetes client, and
 * `deno compile` still sees every module.
 * @module
 */
import denoJson from "../deno.json" with { type: "json" };
import {
  type Command,
  type CommandContext,
  type CommandSpec,
  execute,
  paint,
  parseCommandArgs,
  renderHelp,
  reportError,
} from "../command/contract.ts";
import { ExitCode, usageError } from "../models/errors.ts";
import { closest } from "../models/suggest.ts";

/** Aphex version (from deno.json). */
export const VERSION: string = denoJson.version;

interface Entry {
  summary: string;
  load: () => Promise<{ command: Command }>;
  /**
   * The command's spec alone, for commands whose module loads an SDK: `--help` is answered from
   * it without loading the command (tests/startup_graph_test.ts runs every `--help` with the SDKs
   * poisoned).
   */
  help?: () => Promise<{ spec: CommandSpec }>;
  /** `stage`: run by the pipeline's WorkflowTemplate in the cluster; default: a laptop command. */
  group?: "stage";
}

/** Every command: name → one-line summary and lazy loader. */
export const COMMANDS: Record<string, Entry> = {
  init: {
    summary: "Write a first aphex-config.yaml from the CDK app in this repository",
    load: () => import("./init.ts"),
  },
  validate: {
    summary: "Check aphex-config.yaml and report every problem with file:line:col",
    load: () => import("./validate.ts"),
  },
  generate: {
    summary: "Generate the Argo WorkflowTemplate, EventSource, Sensor and RBAC manifests",
    load: () => import("./generate.ts"),
  },
  graph: {
    summary: "Print the pipeline topology as a Mermaid, DOT or text graph",
    load: () => import("./graph.ts"),
  },
  build: {
    group: "stage",
    summary: "Check out the commit, run build.commands, store artifacts with SHA-256 checksums",
    load: () => import("../stages/build.ts"),
  },
  preflight: {
    group: "stage",
    summary: "Check config, tools, credentials/roles, CDK bootstrap and context before deploying",
    load: () => import("../stages/preflight.ts"),
  },
  synth: {
    group: "stage",
    summary: "Synthesize each environment's CDK apps and check the configured stacks and order",
    load: () => import("../stages/synth.ts"),
  },
  plan: {
    group: "stage",
    summary: "Prepare and describe one environment's change sets without executing them",
    load: () => import("../stages/plan.ts"),
    help: () => import("../stages/plan_spec.ts"),
  },
  deploy: {
    group: "stage",
    summary: "Deploy one environment's CDK stacks in order (synth just-in-time, outputs, events)",
    load: () => import("../stages/deploy.ts"),
    help: () => import("../stages/deploy_spec.ts"),
  },
  "approval-check": {
    group: "stage",
    summary: "After an approval gate: fail the run as 'approval expired' when its timeout elapsed",
    load: () => import("../stages/approval_check.ts"),
  },
  test: {
    group: "stage",
    summary: "Run an environment's tests.commands against its deployed stacks; store the results",
    load: () => import("../stages/test.ts"),
  },
  "artifacts verify": {
    summary: "Re-download a build's artifacts and check them against metadata.json",
    load: () => import("./artifacts.ts"),
  },
  "event parse": {
    group: "stage",
    summary: "Verify and parse a GitHub webhook; print the event and deploy/validate/ignore",
    load: () => import("./event.ts"),
  },
  "pipeline-update": {
    group: "stage",
    summary: "Deploy the pipeline stack, apply the pipeline's own manifests, resubmit on change",
    load: () => import("../stages/pipeline_update.ts"),
    help: () => import("../stages/pipeline_update_spec.ts"),
  },
  apply: {
    summary: "Bootstrap: apply the generated manifests to the cluster and print next steps",
    load: () => import("./apply.ts"),
    help: () => import("./apply_spec.ts"),
  },
  report: {
    group: "stage",
    summary: "Record the run, write CloudWatch logs/metrics, notify, set GitHub commit statuses",
    load: () => import("../stages/report.ts"),
    help: () => import("../stages/report_spec.ts"),
  },
  rollback: {
    summary: "Redeploy an environment's stored cloud assembly (default: its last good commit)",
    load: () => import("./rollback.ts"),
    help: () => import("./rollback_spec.ts"),
  },
  history: {
    summary: "List recent pipeline runs: commit, status, duration, failed stage",
    load: () => import("./history.ts"),
  },
  run: {
    summary: "Run the pipeline on the local checkout (--local): build, synth/diff, deploy, tests",
    load: () => import("../stages/run_local.ts"),
    help: () => import("../stages/run_local_spec.ts"),
  },
};

/** Renders `aphex --help`: laptop commands first, then the stages the pipeline runs. */
export function renderMainHelp(options: { color?: boolean } = {}): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length)) + 2;
  const rows = (group: Entry["group"]) =>
    Object.entries(COMMANDS).filter(([, e]) => e.group === group).map(([name, e]) =>
      `  ${name.padEnd(width)}${e.summary}`
    );
  const heading = (text: string) => paint(text, "bold", options.color);
  return [
    `aphex ${VERSION}: Argo Workflows pipelines for AWS CDK apps`,
    "",
    "Usage: aphex <command> [options]      (aphex help <command> for its options)",
    "",
    heading("In your repository:"),
    ...rows(undefined),
    "",
    heading("Pipeline stages") +
    " (run by the WorkflowTemplate in the cluster; also runnable here):",
    ...rows("stage"),
    "",
    "Global options:",
    "  -h, --help     Show this help",
    "  -V, --version  Print the version",
    "",
    "Exit codes: 0 ok, 1 the operation failed, 2 usage or configuration error.",
    "",
  ].join("\n");
}

/** Finds the command named by the first one or two words of `args`. */
export function resolveCommand(args: string[]): { name: string; rest: string[] } | undefined {
  const two = args.slice(0, 2).join(" ");
  if (args.length >= 2 && COMMANDS[two]) return { name: two, rest: args.slice(2) };
  const one = args[0];
  if (one !== undefined && COMMANDS[one]) return { name: one, rest: args.slice(1) };
  return undefined;
}

/** Runs the CLI with a context; returns the exit code. Never throws. */
export async function main(ctx: CommandContext): Promise<number> {
  const [first] = ctx.args;
  if (first === "help" && ctx.args.length > 1) {
    // `aphex help CMD` is `aphex CMD --help`.
    const found = resolveCommand(ctx.args.slice(1));
    if (!found || found.rest.length > 0) return reportError(unknownCommand(ctx.args.slice(1)), ctx);
    const { command } = await COMMANDS[found.name]!.load();
    ctx.stdout(renderHelp(command.spec));
    return ExitCode.Ok;
  }
  if (first === undefined || first === "-h" || first === "--help" || first === "help") {
    (first === undefined ? ctx.stderr : ctx.stdout)(renderMainHelp({ color: ctx.color }));
    return first === undefined ? ExitCode.Usage : ExitCode.Ok;
  }
  if (first === "-V" || first === "--version" || first === "version") {
    ctx.stdout(`aphex ${VERSION}\n`);
    return ExitCode.Ok;
  }
  const found = resolveCommand(ctx.args);
  if (!found) return reportError(unknownCommand(ctx.args), ctx);
  const entry = COMMANDS[found.name]!;
  const commandCtx = { ...ctx, args: found.rest };
  if (entry.help && (await printedHelp(entry.help, commandCtx))) return ExitCode.Ok;
  const { command } = await entry.load();
  return await execute(command, commandCtx);
}

/** Prints the help when the arguments ask for it (usage errors are left to the command). */
async function printedHelp(
  load: () => Promise<{ spec: CommandSpec }>,
  ctx: CommandContext,
): Promise<boolean> {
  const { spec } = await load();
  try {
    if (!parseCommandArgs(spec, ctx).help) return false;
  } catch {
    return false;
  }
  ctx.stdout(renderHelp(spec));
  return true;
}

const GLOBAL_FLAGS = ["--help", "--version"];

/** The usage error for words that name no command, with a "did you mean" when one is close. */
function unknownCommand(args: string[]) {
  const [first = "", second] = args;
  const group = Object.keys(COMMANDS).filter((k) => k.startsWith(`${first} `));
  if (group.length) {
    const sub = second === undefined ? undefined : closest(`${first} ${second}`, group);
    return usageError(
      `'${first}' needs a subcommand: ${group.join(", ")}` +
        (sub ? `; did you mean '${sub}'?` : ""),
    );
  }
  if (first.startsWith("-")) {
    const flag = closest(first, GLOBAL_FLAGS);
    return usageError(
      `unknown option '${first}'${flag ? `; did you mean '${flag}'?` : "."} See 'aphex --help'.`,
    );
  }
  const names = [...Object.keys(COMMANDS), "help", "version"];
  const suggestion = closest(first, names) ??
    closest([first, second].filter(Boolean).join(" "), names);
  return usageError(
    `unknown command '${first}'${suggestion ? `; did you mean '${suggestion}'?` : "."} ` +
      "See 'aphex --help'.",
  );
}
