/**
 * The command runner every stage shares: runs a command string from the configuration with the
 * user's shell semantics (`bash -lc`), streams its output live line by line with a
 * `[stage/n]` prefix, keeps only a bounded tail in memory, enforces a timeout, and kills the whole
 * process group on timeout or cancellation (SIGTERM/SIGINT of the stage). Secret values are
 * redacted from every line before it is logged or kept.
 *
 * The command string is trusted repository content; event data never enters it (stages pass such
 * data as environment variables).
 * @module
 */
import { makeSecretRedactor, REDACTED, type SecretRedactor, StreamRedactor } from "./redact.ts";

/** Which stream a line came from. */
export type StreamName = "stdout" | "stderr";

/** Receives every (already prefixed and redacted) output line. */
export type LogSink = (line: string, stream: StreamName) => void;

/** Replaces secret values in a text. */
export type Redactor = (text: string) => string;

/** Default bound of the in-memory tail kept per stream (characters). */
export const DEFAULT_TAIL_CHARS = 64 * 1024;

/** Longest line kept whole; longer lines are split into pieces of this size. */
export const MAX_LINE_CHARS = 16 * 1024;

/** Replacement text of a redacted secret. */
export { REDACTED };

// A webhook URL (Slack's included) is a bearer credential: its path is the secret.
const SECRET_NAME =
  /(SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|PRIVATE|CREDENTIAL|API_?KEY|ACCESS_KEY|AUTH|WEBHOOK)/i;

/** Whether an environment variable name looks like it holds a secret. */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/**
 * The values of environment variables whose names look secret (AWS keys, session tokens, API
 * tokens, passwords…). Values shorter than 4 characters are ignored (redacting them would mangle
 * ordinary output).
 */
export function secretValuesFromEnv(env: Record<string, string | undefined>): string[] {
  const values = new Set<string>();
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && value.length >= 4 && isSecretName(name)) values.add(value);
  }
  return [...values];
}

/**
 * Builds a redactor that replaces every occurrence of the given secrets in all their printed forms
 * (multi-line, JSON-escaped, URL-encoded; see `redact.ts`, the secret boundary).
 */
export function makeRedactor(secrets: Iterable<string>): Redactor {
  return makeSecretRedactor(secrets);
}

/** A bounded tail of text lines: keeps the most recent lines up to a character budget. */
export class TailBuffer {
  #lines: string[] = [];
  #head = 0;
  #chars = 0;
  readonly #limit: number;

  /** Creates a tail keeping at most `limit` characters (plus line separators). */
  constructor(limit: number = DEFAULT_TAIL_CHARS) {
    this.#limit = limit;
  }

  /** Appends one line, dropping the oldest lines beyond the budget. */
  push(line: string): void {
    const kept = line.length > this.#limit ? line.slice(line.length - this.#limit) : line;
    this.#lines.push(kept);
    this.#chars += kept.length;
    while (this.#chars > this.#limit && this.#head < this.#lines.length) {
      this.#chars -= this.#lines[this.#head]!.length;
      this.#head++;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#lines.length) {
      this.#lines = this.#lines.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Characters currently held. */
  get size(): number {
    return this.#chars;
  }

  /** The tail as text (lines joined with `\n`). */
  text(): string {
    return this.#lines.slice(this.#head).join("\n");
  }
}

/** Options of {@linkcode runShellCommand}. */
export interface RunCommandOptions {
  /** Working directory of the command. */
  cwd: string;
  /** Complete environment of the command (nothing is inherited). */
  env: Record<string, string | undefined>;
  /** Prefix label, e.g. `build/1`. */
  label: string;
  /** Receives every output line, prefixed `[label] ` and redacted. */
  log: LogSink;
  /** Kill the command (and its process group) after this many milliseconds. */
  timeoutMs?: number;
  /** Characters of tail kept per stream (default {@linkcode DEFAULT_TAIL_CHARS}). */
  tailChars?: number;
  /** Redacts secrets from lines (default: values of secret-looking variables of `env`). */
  redact?: Redactor;
  /** Aborting kills the command's process group (used on SIGTERM/SIGINT). */
  signal?: AbortSignal;
  /** Time between SIGTERM and SIGKILL of the group (default 5000 ms). */
  killGraceMs?: number;
  /** Shell and its flags (default `["bash", "-lc"]`); the command string is the last argument. */
  shell?: string[];
  /** Called with the process id once the command started (its process group id when grouped). */
  onSpawn?: (pid: number) => void;
}

/** What happened to one command. */
export interface CommandOutcome {
  /** The command string as configured (redacted). */
  command: string;
  /** Its label. */
  label: string;
  /** Exit code (128 + signal number when killed by a signal; 124 on timeout if none). */
  exitCode: number;
  /** Terminating signal, if any. */
  signal: string | null;
  /** Whether the timeout fired. */
  timedOut: boolean;
  /** Whether the run was cancelled through `signal`. */
  cancelled: boolean;
  /** Wall time in milliseconds. */
  durationMs: number;
  /** Bounded tail of standard output. */
  stdoutTail: string;
  /** Bounded tail of standard error. */
  stderrTail: string;
}

let setsidAvailable: boolean | undefined;

function spawnGrouped(
  argv: string[],
  options: { cwd: string; env: Record<string, string> },
): { child: Deno.ChildProcess; grouped: boolean } {
  const base = {
    cwd: options.cwd,
    env: options.env,
    clearEnv: true,
    stdin: "null" as const,
    stdout: "piped" as const,
    stderr: "piped" as const,
  };
  if (setsidAvailable !== false) {
    try {
      // setsid(1) execs the shell as the leader of a new session and process group (the spawned
      // child is never a group leader, so setsid does not fork): pid == pgid.
      const child = new Deno.Command("setsid", { ...base, args: argv }).spawn();
      setsidAvailable = true;
      return { child, grouped: true };
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      setsidAvailable = false;
    }
  }
  const [bin, ...args] = argv;
  return { child: new Deno.Command(bin!, { ...base, args }).spawn(), grouped: false };
}

/** Sends a signal to a process group (or to the process alone when not grouped); never throws. */
export function killGroup(pid: number, signal: Deno.Signal, grouped = true): void {
  try {
    Deno.kill(grouped ? -pid : pid, signal);
  } catch {
    // already gone
  }
}

async function pumpLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
  secrets?: StreamRedactor,
): Promise<void> {
  const decoder = new TextDecoder();
  let partial = "";
  const emit = (text: string) => {
    let start = 0;
    for (;;) {
      const nl = text.indexOf("\n", start);
      if (nl < 0) break;
      let line = partial + text.slice(start, nl);
      partial = "";
      if (line.endsWith("\r")) line = line.slice(0, -1);
      onLine(line);
      start = nl + 1;
    }
    partial += text.slice(start);
    while (partial.length >= MAX_LINE_CHARS) {
      onLine(partial.slice(0, MAX_LINE_CHARS));
      partial = partial.slice(MAX_LINE_CHARS);
    }
  };
  // Secrets are redacted on the stream, before lines are split (the secret boundary, redact.ts).
  const clean = (text: string) => secrets ? secrets.push(text) : text;
  for await (const chunk of stream) emit(clean(decoder.decode(chunk, { stream: true })));
  emit(clean(decoder.decode()) + (secrets ? secrets.flush() : ""));
  if (partial.length > 0) onLine(partial);
}

/**
 * Runs one configured command with `bash -lc` in its own process group and waits for it.
 * Never throws for a failing command: the outcome carries the exit code and output tails.
 *
 * @example
 * ```ts
 * const outcome = await runShellCommand("make build", {
 *   cwd: "/workspace", env: { PATH: "/usr/bin" }, label: "build/1",
 *   log: (line) => console.error(line), timeoutMs: 60_000,
 * });
 * ```
 */
export async function runShellCommand(
  command: string,
  options: RunCommandOptions,
): Promise<CommandOutcome> {
  const started = performance.now();
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(options.env)) if (v !== undefined) env[k] = v;
  const redact = options.redact ?? makeRedactor(secretValuesFromEnv(env));
  const prefix = `[${options.label}] `;
  const tails = {
    stdout: new TailBuffer(options.tailChars),
    stderr: new TailBuffer(options.tailChars),
  };
  const shell = options.shell ?? ["bash", "-lc"];
  const result = (partial: Partial<CommandOutcome>): CommandOutcome => ({
    command: redact(command),
    label: options.label,
    exitCode: 1,
    signal: null,
    timedOut: false,
    cancelled: false,
    durationMs: Math.round(performance.now() - started),
    stdoutTail: tails.stdout.text(),
    stderrTail: tails.stderr.text(),
    ...partial,
  });
  if (options.signal?.aborted) return result({ cancelled: true, exitCode: 130 });

  let spawned;
  try {
    spawned = spawnGrouped([...shell, command], { cwd: options.cwd, env });
  } catch (e) {
    const message = `cannot start ${shell[0]}: ${e instanceof Error ? e.message : e}`;
    tails.stderr.push(message);
    options.log(prefix + message, "stderr");
    return result({ exitCode: 127 });
  }
  const { child, grouped } = spawned;
  options.onSpawn?.(child.pid);

  let timedOut = false;
  let cancelled = false;
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const terminate = () => {
    killGroup(child.pid, "SIGTERM", grouped);
    killTimer ??= setTimeout(
      () => killGroup(child.pid, "SIGKILL", grouped),
      options.killGraceMs ?? 5000,
    );
  };
  const timeoutTimer = options.timeoutMs !== undefined
    ? setTimeout(() => {
      timedOut = true;
      const line = `${prefix}timed out after ${options.timeoutMs} ms; killing the process group`;
      tails.stderr.push(line);
      options.log(line, "stderr");
      terminate();
    }, options.timeoutMs)
    : undefined;
  const onAbort = () => {
    cancelled = true;
    terminate();
  };
  options.signal?.addEventListener("abort", onAbort, { once: true });

  const forms = (redact as Partial<SecretRedactor>).forms;
  const pump = (name: StreamName, stream: ReadableStream<Uint8Array>) =>
    pumpLines(stream, (raw) => {
      const line = redact(raw);
      tails[name].push(line);
      options.log(prefix + line, name);
    }, forms ? new StreamRedactor(forms) : undefined).catch(() => {/* stream cancelled */});
  const pumps = Promise.all([pump("stdout", child.stdout), pump("stderr", child.stderr)]);

  let status: Deno.CommandStatus;
  try {
    status = await child.status;
    // Background processes left by the command may hold the pipes open: give the output a moment
    // to drain, then kill what is left of the group so the stage never hangs.
    let drainTimer: ReturnType<typeof setTimeout> | undefined;
    const drained = await Promise.race([
      pumps.then(() => true),
      new Promise<boolean>((r) => drainTimer = setTimeout(() => r(false), 2000)),
    ]);
    clearTimeout(drainTimer);
    if (!drained) {
      killGroup(child.pid, "SIGKILL", grouped);
      await pumps;
    }
  } finally {
    clearTimeout(timeoutTimer);
    clearTimeout(killTimer);
    options.signal?.removeEventListener("abort", onAbort);
  }
  if (timedOut || cancelled) killGroup(child.pid, "SIGKILL", grouped);
  // Deno reports 128 + n as the code of a process killed by signal n.
  let exitCode = status.code;
  if (timedOut && exitCode === 0) exitCode = 124;
  return result({ exitCode, signal: status.signal, timedOut, cancelled });
}
