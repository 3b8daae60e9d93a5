/**
 * The deploy's hooks (`environments[].hooks.preDeploy` / `postDeploy`): trusted commands of the
 * configuration, run one after another in the workspace with the environment's credentials; the
 * first that fails, times out or is cancelled stops the deploy.
 * @module
 */
import { AphexError } from "../../models/errors.ts";
import { type Redactor, runShellCommand } from "./exec.ts";

/** Options of {@linkcode runHooks}. */
export interface HookOptions {
  /** Working directory (the workspace). */
  cwd: string;
  /** Environment of the commands. */
  env: Record<string, string>;
  /** Receives every (prefixed, redacted) line. */
  log: (line: string) => void;
  /** Redacts command text and output. */
  redact: Redactor;
  /** Timeout of each command in ms (`--hook-timeout`). */
  timeoutMs: number;
  /** Cancels the running command (its process group is killed). */
  signal?: AbortSignal;
}

/**
 * Runs the hooks of `kind` in order, each labelled `<kind>/<n>`.
 *
 * @throws {AphexError} exit 1 naming the hook that failed, timed out or was cancelled.
 */
export async function runHooks(
  kind: "preDeploy" | "postDeploy",
  commands: readonly string[],
  options: HookOptions,
): Promise<void> {
  const timeoutMs = options.timeoutMs;
  for (const [i, command] of commands.entries()) {
    const label = `${kind}/${i + 1}`;
    options.log(`[${label}] $ ${command}`);
    const run = await runShellCommand(command, {
      cwd: options.cwd,
      env: options.env,
      label,
      log: (line) => options.log(line),
      redact: options.redact,
      timeoutMs,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (run.exitCode !== 0 || run.cancelled || run.timedOut) {
      const why = run.cancelled
        ? `was cancelled by ${String(options.signal?.reason ?? "signal")}`
        : run.timedOut
        ? `timed out after ${timeoutMs} ms`
        : `exited with code ${run.exitCode}`;
      throw new AphexError(`${kind} hook #${i + 1} (${run.command}) ${why}`);
    }
  }
}
