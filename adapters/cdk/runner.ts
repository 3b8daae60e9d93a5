/**
 * Running one subprocess for the CDK adapter: the {@linkcode CdkRunner} contract (argv, no shell,
 * a complete environment) and the default runner, which streams the output live line by line with
 * a `[label]` prefix and keeps a bounded, redacted tail for the result.
 *
 * Every CDK subprocess (synth, deploy, the app's dependency install) runs through an injected
 * runner, so the deploy stage can plug in its live-streaming runner and tests can prove the argv.
 * @module
 */

/** One subprocess to run (argv form; nothing goes through a shell). */
export interface CdkRunRequest {
  /** Program, e.g. `npx`. */
  bin: string;
  /** Arguments. */
  args: string[];
  /** Working directory (the CDK app dir). */
  cwd: string;
  /** Complete environment of the process (nothing else is inherited). */
  env: Record<string, string>;
  /** Short label for log prefixes, e.g. `synth` or `deploy/aphex-app`. */
  label: string;
}

/** What a finished subprocess reports. */
export interface CdkRunResult {
  /** Exit code (non-zero on failure or signal). */
  exitCode: number;
  /** Tail of the combined output (stdout and stderr), already redacted by the runner. */
  output: string;
}

/** Runs a subprocess, streaming its output live; injected by the deploy stage and by tests. */
export type CdkRunner = (request: CdkRunRequest) => Promise<CdkRunResult>;

/** Characters of output the default runner keeps in memory. */
const DEFAULT_RUNNER_TAIL = 64 * 1024;

/** Options of {@linkcode createCdkRunner}. */
export interface CdkRunnerOptions {
  /** Redacts secrets from every line before it is logged or kept (default: identity). */
  redact?: (text: string) => string;
  /** Receives every output line, already prefixed `[label] ` (default: written to stderr). */
  log?: (line: string) => void;
  /** Characters of output kept for the result (default 64 KiB). */
  tailChars?: number;
}

/**
 * Builds a runner on `new Deno.Command(bin, { args })` (no shell): output is streamed line by line
 * with a `[label]` prefix while a bounded, redacted tail is kept for the result.
 */
export function createCdkRunner(options: CdkRunnerOptions = {}): CdkRunner {
  const redact = options.redact ?? ((text: string) => text);
  const encoder = new TextEncoder();
  const log = options.log ?? ((line: string) => Deno.stderr.writeSync(encoder.encode(`${line}\n`)));
  const limit = options.tailChars ?? DEFAULT_RUNNER_TAIL;
  return async (request) => {
    const child = new Deno.Command(request.bin, {
      args: request.args,
      cwd: request.cwd,
      env: request.env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let tail = "";
    const emit = (raw: string) => {
      const line = redact(raw);
      log(`[${request.label}] ${line}`);
      tail = (tail + line + "\n").slice(-limit);
    };
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      let pending = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        pending += chunk;
        let nl: number;
        while ((nl = pending.indexOf("\n")) >= 0) {
          emit(pending.slice(0, nl).replace(/\r$/, ""));
          pending = pending.slice(nl + 1);
        }
      }
      if (pending.length > 0) emit(pending);
    };
    const [status] = await Promise.all([child.status, pump(child.stdout), pump(child.stderr)]);
    return { exitCode: status.code, output: tail };
  };
}

/** The default runner: {@linkcode createCdkRunner} logging to stderr, without redaction. */
export const denoCdkRunner: CdkRunner = createCdkRunner();
