/**
 * The command contract shared by every `aphex` subcommand and stage: an option table (flags with
 * `APHEX_*` env fallbacks), generated `--help`, and one error → exit-code mapping.
 *
 * Commands never touch `Deno.args`, `Deno.env` or `Deno.exit`: they get a {@linkcode CommandContext}
 * (tests build one with {@linkcode captureContext}); only {@linkcode runMain} reads the process.
 * @module
 */
import { parseArgs } from "node:util";
import { AphexError, ExitCode, usageError } from "../models/errors.ts";
import { closest } from "../models/suggest.ts";

/** One option of a command. */
export interface OptionSpec {
  /** `string` takes a value, `boolean` is a switch. */
  type: "string" | "boolean";
  /** Help text. */
  description: string;
  /** Environment variable read when the flag is absent (flags win). */
  env?: string;
  /** Default when neither flag nor env var is given (shown in help). */
  default?: string;
  /** May be given several times (string options). */
  multiple?: boolean;
  /** One-letter alias. */
  short?: string;
  /** Value placeholder in help, e.g. `FILE`. */
  valueName?: string;
  /**
   * Former flag names still accepted (not shown in help), so renaming a flag to the name other
   * commands use for the same setting does not break scripts. Kept for one release.
   */
  aliases?: string[];
  /** Not shown in help. */
  hidden?: boolean;
}

/** Declarative description of a command. */
export interface CommandSpec {
  /** Words after `aphex`, e.g. `validate` or `event parse`. */
  name: string;
  /** One line for `aphex --help`. */
  summary: string;
  /** Longer text under the usage line. */
  description?: string;
  /** Options, keyed by long flag name. */
  options: Record<string, OptionSpec>;
  /** Positional arguments accepted (names for help); none if unset. */
  positionals?: string[];
}

/** Parsed option values: strings, booleans, or string arrays for `multiple` options. */
export type OptionValues = Record<string, string | boolean | string[] | undefined>;

/** What a command gets instead of the process: args, env, cwd and output sinks. */
export interface CommandContext {
  /** Arguments after the command name. */
  args: string[];
  /** Environment variables. */
  env: Record<string, string | undefined>;
  /** Working directory (absolute). */
  cwd: string;
  /** Writes data to standard output. */
  stdout(text: string): void;
  /** Writes logs and errors to standard error. */
  stderr(text: string): void;
  /** Reads standard input; throws as soon as it exceeds `maxBytes` (see {@linkcode readBounded}). */
  stdin?(options: ReadBoundedOptions): Promise<Uint8Array>;
  /** Whether stderr may be coloured (a terminal and no `NO_COLOR`); default false. */
  color?: boolean;
}

/** A runnable command. */
export interface Command {
  /** Its description. */
  spec: CommandSpec;
  /** Runs with parsed options; returns the exit code. */
  run(values: OptionValues, positionals: string[], ctx: CommandContext): Promise<number>;
}

/** Renders `--help` text for a command. */
export function renderHelp(spec: CommandSpec): string {
  const positionals = (spec.positionals ?? []).map((p) => ` ${p}`).join("");
  const lines = [`Usage: aphex ${spec.name} [options]${positionals}`, "", spec.summary];
  if (spec.description) lines.push("", spec.description);
  lines.push("", "Options:");
  const rows: [string, string][] = Object.entries(spec.options).filter(([, o]) => !o.hidden).map(
    ([name, o]) => {
      const flag = `${o.short ? `-${o.short}, ` : "    "}--${name}` +
        (o.type === "string" ? ` ${o.valueName ?? "VALUE"}` : "");
      const extra = [
        o.env ? `env ${o.env}` : "",
        o.default !== undefined ? `default ${o.default}` : "",
        o.multiple ? "repeatable" : "",
      ].filter(Boolean).join("; ");
      return [flag, extra ? `${o.description} (${extra})` : o.description] as [string, string];
    },
  );
  rows.push(["-h, --help", "Show this help"]);
  const width = Math.max(...rows.map(([f]) => f.length)) + 2;
  for (const [flag, text] of rows) lines.push(`  ${flag.padEnd(width)}${text}`);
  lines.push("", "Exit codes: 0 ok, 1 the operation failed, 2 usage or configuration error.");
  return lines.join("\n") + "\n";
}

/**
 * Parses arguments against a spec; env fallbacks and defaults are applied.
 * Throws a usage error (exit code 2) for unknown flags or missing values.
 */
export function parseCommandArgs(
  spec: CommandSpec,
  ctx: Pick<CommandContext, "args" | "env">,
): { values: OptionValues; positionals: string[]; help: boolean } {
  const options: Record<
    string,
    { type: "string" | "boolean"; short?: string; multiple?: boolean }
  > = {
    help: { type: "boolean", short: "h" },
  };
  /** Flag as typed (alias or canonical) → canonical option name. */
  const canonical = new Map<string, string>([["help", "help"]]);
  for (const [name, o] of Object.entries(spec.options)) {
    for (const flag of [name, ...(o.aliases ?? [])]) {
      canonical.set(flag, name);
      options[flag] = {
        type: o.type,
        ...(o.short && flag === name ? { short: o.short } : {}),
        // Repeats are counted from the tokens below, so every flag is parsed as repeatable.
        ...(o.type === "string" ? { multiple: true } : {}),
      };
    }
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: ctx.args,
      options,
      strict: true,
      tokens: true,
      allowPositionals: (spec.positionals?.length ?? 0) > 0,
    });
  } catch (e) {
    const message = (e instanceof Error ? e.message.split("\n")[0]! : String(e)).replace(
      /\.+$/,
      "",
    );
    const unknown = /^Unknown option '(-{1,2})([^']*)'/.exec(message);
    const visible = Object.entries(spec.options).filter(([, o]) => !o.hidden).map(([n]) => n);
    const suggestion = unknown?.[1] === "--"
      ? closest(unknown[2]!, [...visible, "help"])
      : undefined;
    const hint = suggestion ? `; did you mean '--${suggestion}'?` : ".";
    throw usageError(`aphex ${spec.name}: ${message}${hint} See 'aphex ${spec.name} --help'.`);
  }
  // A setting given twice is refused unless the option is repeatable: parseArgs would silently
  // keep the last one (`synth --env a --env b` synthesized only b).
  const given = new Map<string, string[]>();
  for (const token of parsed.tokens ?? []) {
    if (token.kind !== "option") continue;
    const name = canonical.get(token.name) ?? token.name;
    given.set(name, [...(given.get(name) ?? []), token.rawName]);
  }
  for (const [name, flags] of given) {
    if (flags.length > 1 && name !== "help" && spec.options[name]?.multiple !== true) {
      throw usageError(
        `aphex ${spec.name}: --${name} may be given only once (got ${flags.join(", ")}). ` +
          `See 'aphex ${spec.name} --help'.`,
      );
    }
  }
  const values: OptionValues = {};
  const raw: OptionValues = {};
  for (const [flag, value] of Object.entries(parsed.values as OptionValues)) {
    const name = canonical.get(flag) ?? flag;
    const o = spec.options[name];
    raw[name] = Array.isArray(value) && o?.multiple !== true ? value[value.length - 1] : value;
  }
  for (const [name, o] of Object.entries(spec.options)) {
    let value = raw[name];
    if (value === undefined && o.env) {
      const fromEnv = ctx.env[o.env];
      if (fromEnv !== undefined && fromEnv !== "") {
        value = o.type === "boolean" ? parseBool(fromEnv, o.env) : o.multiple ? [fromEnv] : fromEnv;
      }
    }
    if (value === undefined && o.default !== undefined) {
      value = o.type === "boolean" ? o.default === "true" : o.multiple ? [o.default] : o.default;
    }
    values[name] = value;
  }
  return { values, positionals: parsed.positionals, help: raw.help === true };
}

function parseBool(text: string, name: string): boolean {
  if (/^(1|true|yes)$/i.test(text)) return true;
  if (/^(0|false|no)$/i.test(text)) return false;
  throw usageError(`${name}=${text}: must be true or false`);
}

/** Reads a string option (undefined when unset). */
export function str(values: OptionValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" ? v : undefined;
}

/**
 * Runs a command: parses args, prints help, maps errors to exit codes. Never throws.
 * {@linkcode AphexError}s print their message; anything else is reported as an internal error.
 */
export async function execute(command: Command, ctx: CommandContext): Promise<number> {
  terminatedBy = undefined;
  let code: number;
  try {
    const { values, positionals, help } = parseCommandArgs(command.spec, ctx);
    if (help) {
      ctx.stdout(renderHelp(command.spec));
      return ExitCode.Ok;
    }
    code = await command.run(values, positionals, ctx);
  } catch (e) {
    code = reportError(e, ctx);
  }
  // A stage stopped by Ctrl-C or SIGTERM exits as the shell reports a process killed by it.
  return terminatedBy ? signalExitCode(terminatedBy) : code;
}

let terminatedBy: "SIGINT" | "SIGTERM" | undefined;

/**
 * Records that the process received SIGINT or SIGTERM (stages listening for them call this):
 * the command then exits 130 or 143 whatever the stage returned.
 */
export function noteTerminationSignal(signal: "SIGINT" | "SIGTERM"): void {
  terminatedBy ??= signal;
}

/** Exit code of a command stopped by a signal: 128 + its number (SIGINT 130, SIGTERM 143). */
export function signalExitCode(signal: "SIGINT" | "SIGTERM"): number {
  return signal === "SIGINT" ? 130 : 143;
}

/** Wraps `text` in an ANSI colour when `color` is on. */
export function paint(text: string, style: "red" | "yellow" | "bold" | "dim", color = false) {
  if (!color) return text;
  const code = { red: 31, yellow: 33, bold: 1, dim: 2 }[style];
  return `\x1b[${code}m${text}\x1b[0m`;
}

/**
 * Whether output to a stream may be coloured: only on a terminal, never when `NO_COLOR` is set
 * to anything non-empty (https://no-color.org), `TERM=dumb` neither.
 */
export function useColor(env: Record<string, string | undefined>, isTerminal: boolean): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.TERM === "dumb") return false;
  return isTerminal;
}

/** Prints an error to stderr and returns its exit code. */
export function reportError(
  e: unknown,
  ctx: Pick<CommandContext, "stderr"> & { color?: boolean },
): number {
  if (e instanceof AphexError) {
    ctx.stderr(`${paint("error:", "red", ctx.color)} ${e.message}\n`);
    return e.exitCode;
  }
  const message = e instanceof Error ? (e.stack ?? e.message) : String(e);
  ctx.stderr(`${paint("internal error (please report):", "red", ctx.color)} ${message}\n`);
  return ExitCode.Failed;
}

/** Options of {@linkcode readBounded}. */
export interface ReadBoundedOptions {
  /** Most bytes accepted. */
  maxBytes: number;
  /** The error thrown when the input is larger (default: a usage error naming `maxBytes`). */
  tooLarge?: () => Error;
}

/**
 * Reads a stream into memory, refusing (and cancelling the stream) as soon as it holds more than
 * `maxBytes` — the input is never buffered past the limit.
 */
export async function readBounded(
  stream: ReadableStream<Uint8Array>,
  options: ReadBoundedOptions,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > options.maxBytes) {
        throw options.tooLarge?.() ??
          usageError(`input exceeds ${options.maxBytes} bytes; refused`);
      }
      chunks.push(value);
    }
  } finally {
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

function writeAll(file: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  while (offset < bytes.length) offset += file.writeSync(bytes.subarray(offset));
}

/** Exit code when the reader of stdout went away (`aphex … | head`): 128 + SIGPIPE. */
export const BROKEN_PIPE_EXIT = 141;

/**
 * The real process as a {@linkcode CommandContext}. Only CLI entry points call this.
 * When the reader of stdout closes the pipe (`aphex generate --check | head`), the process ends
 * quietly with {@linkcode BROKEN_PIPE_EXIT}, as a program killed by SIGPIPE would: nobody reads
 * the rest, and it is not an internal error.
 */
export function processContext(args: string[]): CommandContext {
  const env = Deno.env.toObject();
  return {
    args,
    env,
    cwd: Deno.cwd(),
    stdout: (t) => {
      try {
        writeAll(Deno.stdout, t);
      } catch (e) {
        if (e instanceof Deno.errors.BrokenPipe) Deno.exit(BROKEN_PIPE_EXIT);
        throw e;
      }
    },
    stderr: (t) => {
      try {
        writeAll(Deno.stderr, t);
      } catch (e) {
        if (!(e instanceof Deno.errors.BrokenPipe)) throw e;
      }
    },
    stdin: (options) => readBounded(Deno.stdin.readable, options),
    color: useColor(env, Deno.stderr.isTerminal()),
  };
}

/** Entry point of a runnable module: `if (import.meta.main) await runMain(command)`. */
export async function runMain(command: Command, args: string[] = Deno.args): Promise<never> {
  Deno.exit(await execute(command, processContext(args)));
}

/** A context that records output, for tests. */
export function captureContext(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; stdin?: Uint8Array } = {},
): CommandContext & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const stdin = options.stdin;
  return {
    args,
    env: options.env ?? {},
    cwd: options.cwd ?? Deno.cwd(),
    stdout: (t) => void out.push(t),
    stderr: (t) => void err.push(t),
    ...(stdin
      ? { stdin: (o: ReadBoundedOptions) => readBounded(ReadableStream.from([stdin]), o) }
      : {}),
    out,
    err,
  };
}
