/**
 * Inputs of the commands that may work on the workspace as it is (synth, preflight, deploy,
 * `run --local`): the workspace options, checking out only when a commit is given, and the
 * `--cdk-command` option.
 * @module
 */
import { type CommandContext, type OptionSpec, type OptionValues, str } from "./contract.ts";
import { DEFAULT_CDK_COMMAND } from "../adapters/cdk/cli.ts";
import { checkoutCommit, type GitRunner, validateCommitSha } from "../adapters/git/checkout.ts";
import {
  GITHUB_TOKEN_ENV,
  resolveRepoUrl,
  resolveWorkspace,
  STAGE_OPTIONS,
} from "./stage_runtime.ts";

/** Options shared by `aphex deploy` and `aphex synth`: the CDK CLI command. */
export const CDK_COMMAND_OPTION = {
  type: "string",
  description: "Command running the project's CDK CLI, split like a shell would (no shell runs it)",
  env: "APHEX_CDK_COMMAND",
  default: DEFAULT_CDK_COMMAND.join(" "),
  valueName: "CMD",
} as const;

/** Inputs of stages that may work on the workspace as it is (synth, preflight). */
export interface WorkspaceInputs {
  /** Absolute workspace directory. */
  workspace: string;
  /** Config file (absolute, or relative to the workspace). */
  configFile: string;
  /** Commit to check out first; unset: the workspace is used as it is. */
  commitSha?: string;
  /** Branch holding the commit. */
  branch?: string;
  /** Repository URL (default from `pipeline.github` of a readable config). */
  repoUrl?: string;
  /** Only this environment (`--env`, `APHEX_ENV`); unset: every environment. */
  environment?: string;
  /**
   * Keep the cloud assemblies here (`--output DIR`, relative to the workspace): one folder
   * `<account>-<region>[/<app>]` per synthesized app. Unset: temporary folders, removed after synth.
   */
  outputDir?: string;
}

/**
 * Options of stages that check out only when a commit is given: `--workspace` (default the
 * current directory), `--commit-sha` (optional), `--branch`, `--repo-url`, `--config`, `--env`.
 */
export const WORKSPACE_OPTIONS: Record<string, OptionSpec> = {
  workspace: STAGE_OPTIONS.workspace!,
  "commit-sha": {
    ...STAGE_OPTIONS["commit-sha"]!,
    description: "Commit to check out first (default: use the workspace as it is)",
  },
  branch: STAGE_OPTIONS.branch!,
  "repo-url": STAGE_OPTIONS["repo-url"]!,
  config: STAGE_OPTIONS.config!,
  // Accepted so a pull-request step's "never a bucket" reaches every stage; these stages take a
  // bucket from no config (preflight records only to an explicitly given one).
  "local-store": STAGE_OPTIONS["local-store"]!,
  env: {
    type: "string",
    description: "Only this environment (default: every environment)",
    env: "APHEX_ENV",
    valueName: "NAME",
  },
};

/** Resolves {@linkcode WorkspaceInputs} from parsed {@linkcode WORKSPACE_OPTIONS}. */
export function resolveWorkspaceInputs(
  values: OptionValues,
  ctx: Pick<CommandContext, "cwd"> & { env?: Record<string, string | undefined> },
): WorkspaceInputs {
  const inputs: WorkspaceInputs = {
    workspace: resolveWorkspace(values, ctx),
    configFile: str(values, "config") ?? "aphex-config.yaml",
  };
  const sha = str(values, "commit-sha");
  if (sha) inputs.commitSha = validateCommitSha(sha);
  const branch = str(values, "branch");
  if (branch) inputs.branch = branch;
  const repoUrl = str(values, "repo-url");
  if (repoUrl) inputs.repoUrl = repoUrl;
  const env = str(values, "env");
  if (env) inputs.environment = env;
  const output = str(values, "output");
  if (output) inputs.outputDir = output;
  return inputs;
}

/** Checks out `inputs.commitSha` into the workspace when one is given. */
export async function checkoutIfRequested(
  inputs: WorkspaceInputs,
  deps: {
    env: Record<string, string | undefined>;
    log: (line: string) => void;
    git?: GitRunner;
    allowFileUrls?: boolean;
  },
): Promise<void> {
  if (!inputs.commitSha) return;
  const repoUrl = await resolveRepoUrl({
    workspace: inputs.workspace,
    commitSha: inputs.commitSha,
    configFile: inputs.configFile,
    storeDir: "",
    outputsDir: "",
    ...(inputs.repoUrl ? { repoUrl: inputs.repoUrl } : {}),
  });
  await checkoutCommit({
    workspace: inputs.workspace,
    commitSha: inputs.commitSha,
    ...(repoUrl ? { repoUrl } : {}),
    ...(inputs.branch ? { branch: inputs.branch } : {}),
    ...(deps.env[GITHUB_TOKEN_ENV] ? { token: deps.env[GITHUB_TOKEN_ENV] } : {}),
    ...(deps.allowFileUrls ? { allowFileUrls: true } : {}),
    ...(deps.git ? { git: deps.git } : {}),
    env: deps.env,
    log: deps.log,
  });
}
