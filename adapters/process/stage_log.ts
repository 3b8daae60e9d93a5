/**
 * The log of one stage run: every line is redacted (the secret boundary, `redact.ts`), passed to
 * the stage's sink and appended to a temporary file, which the stage uploads to the artifact store
 * when it fails. Secrets learnt while the stage runs (assumed-role credentials) are added on the
 * way; every later line is redacted with them too.
 * @module
 */
import { makeRedactor, type Redactor } from "./exec.ts";

/** A stage's redacting log, teed into a file (see {@linkcode openStageLog}). */
export interface StageLog {
  /** Redacts `line`, then writes it to the sink and to the file. */
  log(line: string): void;
  /** Redacts a text with every secret known so far. */
  redact: Redactor;
  /** Adds secrets learnt during the run (redacted from every later line). */
  addSecrets(values: Iterable<string>): void;
  /** Path of the log file (removed by {@linkcode StageLog.close}). */
  readonly file: string;
  /** Closes and removes the log file. */
  close(): Promise<void>;
}

/**
 * Opens the log of a stage run named `name` (the file is `aphex-<name>-*.log` in the temporary
 * directory), writing every redacted line to `options.sink` as well.
 */
export async function openStageLog(
  name: string,
  options: { sink: (line: string) => void; secrets: Iterable<string> },
): Promise<StageLog> {
  const secrets = new Set(options.secrets);
  let redactor = makeRedactor(secrets);
  const file = await Deno.makeTempFile({ prefix: `aphex-${name}-`, suffix: ".log" });
  const handle = await Deno.open(file, { write: true, truncate: true });
  const encoder = new TextEncoder();
  const redact = (text: string) => redactor(text);
  return {
    file,
    redact,
    log(line) {
      const clean = redact(line);
      options.sink(clean);
      const bytes = encoder.encode(clean + "\n");
      for (let off = 0; off < bytes.length;) off += handle.writeSync(bytes.subarray(off));
    },
    addSecrets(values) {
      for (const value of values) secrets.add(value);
      redactor = makeRedactor(secrets);
    },
    async close() {
      handle.close();
      await Deno.remove(file).catch(() => {});
    },
  };
}
