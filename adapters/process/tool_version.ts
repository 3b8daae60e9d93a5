/**
 * Asking a tool on PATH for its version: argv only, no shell, a clean environment given by the
 * caller, bounded in time.
 * @module
 */

/** Default bound of one `<tool> --version` / `<tool> -v` (ms). */
export const DEFAULT_TOOL_TIMEOUT_MS = 15_000;

/** Flags a tool may answer to with its version (the spec: `--version` or `-v`), tried in order. */
export const VERSION_FLAGS: readonly string[] = ["--version", "-v"];

interface VersionAnswer {
  ok: boolean;
  detail: string;
  /** The tool is not on PATH (no other flag is worth trying). */
  missing?: boolean;
  /** It did not answer in time (no other flag is tried: the bound would double). */
  timedOut?: boolean;
}

async function askVersion(
  tool: string,
  flag: string,
  options: { env: Record<string, string>; cwd: string; timeoutMs: number },
): Promise<VersionAnswer> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs);
  try {
    const out = await new Deno.Command(tool, {
      args: [flag],
      cwd: options.cwd,
      env: options.env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: controller.signal,
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim() ||
      new TextDecoder().decode(out.stderr).trim();
    const first = text.split("\n")[0]?.slice(0, 120) ?? "";
    if (controller.signal.aborted) {
      return {
        ok: false,
        timedOut: true,
        detail: `\`${tool} ${flag}\` did not answer within ${options.timeoutMs} ms`,
      };
    }
    if (!out.success) {
      return {
        ok: false,
        detail: `\`${tool} ${flag}\` exited with code ${out.code}${first ? `: ${first}` : ""}`,
      };
    }
    return { ok: true, detail: first };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      return { ok: false, missing: true, detail: `\`${tool}\` is not on PATH` };
    }
    return {
      ok: false,
      detail: `\`${tool} ${flag}\` could not run: ${e instanceof Error ? e.message : e}`,
    };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Asks a tool for its version (argv, no shell, bounded): `<tool> --version`, then `<tool> -v` when
 * the first is refused (tools that know only `-v`). Returns the version line, or a problem text
 * naming every attempt.
 */
export async function checkTool(
  tool: string,
  options: { env: Record<string, string>; cwd: string; timeoutMs?: number },
): Promise<{ ok: boolean; detail: string }> {
  const bounded = { ...options, timeoutMs: options.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS };
  const failures: string[] = [];
  for (const flag of VERSION_FLAGS) {
    const answer = await askVersion(tool, flag, bounded);
    if (answer.ok) return { ok: true, detail: answer.detail };
    if (answer.missing || answer.timedOut) return { ok: false, detail: answer.detail };
    failures.push(answer.detail);
  }
  return { ok: false, detail: failures.join("; ") };
}
