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
  const rows: [string, string][] = Object.entries(spec.options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : "    "}--${name}` +
      (o.type === "string" ? ` ${o.valueName ?? "VALUE"}` : "");
    const extra = [
      o.env ? `env ${o.env}` : "",
      o.default !== undefined ? `default ${o.default}` : "",
      o.multiple ? "repeatable" : "",
    ].filter(Boolean).join("; ");
    return [flag, extra ? `${o.description} (${extra})` : o.description];
  });
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
  for (const [name, o] of Object.entries(spec.options)) {
    options[name] = {
      type: o.type,
      ...(o.short ? { short: o.short } : {}),
      ...(o.multiple ? { multiple: true } : {}),
    };
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: ctx.args,
      options,
      strict: true,
      allowPositionals: (spec.positionals?.length ?? 0) > 0,
    });
  } catch (e) {
    const message = (e instanceof Error ? e.message.split("\n")[0]! : String(e)).replace(
      /\.+$/,
      "",
    );
    throw usageError(`aphex ${spec.name}: ${message}. See 'aphex ${spec.name} --help'.`);
  }
  const values: OptionValues = {};
  const raw = parsed.values as OptionValues;
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
  try {
    const { values, positionals, help } = parseCommandArgs(command.spec, ctx);
    if (help) {
      ctx.stdout(renderHelp(command.spec));
      return ExitCode.Ok;
    }
    return await command.run(values, positionals, ctx);
  } catch (e) {
    return reportError(e, ctx);
  }
}

/** Prints an error to stderr and returns its exit code. */
export function reportError(e: unknown, ctx: Pick<CommandContext, "stderr">): number {
  if (e instanceof AphexError) {
    ctx.stderr(`error: ${e.message}\n`);
    return e.exitCode;
  }
  const message = e instanceof Error ? (e.stack ?? e.message) : String(e);
  ctx.stderr(`internal error (please report): ${message}\n`);
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

/** The real process as a {@linkcode CommandContext}. Only CLI entry points call this. */
export function processContext(args: string[]): CommandContext {
  return {
    args,
    env: Deno.env.toObject(),
    cwd: Deno.cwd(),
    stdout: (t) => writeAll(Deno.stdout, t),
    stderr: (t) => writeAll(Deno.stderr, t),
    stdin: (options) => readBounded(Deno.stdin.readable, options),
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
