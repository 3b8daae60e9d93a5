/**
 * The secret boundary: every secret value a stage holds is replaced by `***` before any output of
 * a command or of the stage reaches a log line, a log file, a tail in `result.json` or the store.
 *
 * Why here, and on the byte stream: command output is split into lines (and long lines into 16 KiB
 * pieces) only after redaction, so a multi-line secret (a PEM key) or one crossing a split point
 * can never be cut into halves that each escape a per-line match. Each secret is also matched in
 * the forms it takes when a program prints it: JSON-escaped (`\n` for a newline), URL-encoded, and
 * line by line (every line of at least {@linkcode MIN_SECRET_LINE_CHARS} characters of a
 * multi-line secret, for programs that print it piecewise or re-indent it).
 * @module
 */

/** Replacement text of a redacted secret. */
export const REDACTED = "***";

/** Shortest single-line secret redacted (shorter values would mangle ordinary output). */
export const MIN_SECRET_CHARS = 4;

/** Shortest line of a multi-line secret redacted on its own. */
export const MIN_SECRET_LINE_CHARS = 8;

/** Replaces secret values in a text; `forms` lists the exact strings it replaces. */
export interface SecretRedactor {
  /** Redacts a complete text. */
  (text: string): string;
  /** Every string replaced (all forms of all secrets), longest first. */
  readonly forms: readonly string[];
}

/** The printed forms of one secret: itself, JSON-escaped, URL-encoded, and its long lines. */
export function secretForms(secret: string): string[] {
  const forms = new Set<string>();
  const add = (value: string, min: number) => {
    if (value.length < min) return;
    forms.add(value);
    forms.add(JSON.stringify(value).slice(1, -1));
    forms.add(encodeURIComponent(value));
    forms.add(encodeURIComponent(value).replaceAll("%20", "+"));
  };
  add(secret, MIN_SECRET_CHARS);
  const lines = secret.split(/\r?\n/);
  if (lines.length > 1) {
    add(secret.replace(/\r?\n/g, "\r\n"), MIN_SECRET_CHARS);
    for (const line of lines) add(line.trim(), MIN_SECRET_LINE_CHARS);
  }
  return [...forms];
}

/** Builds a redactor replacing every form (see {@linkcode secretForms}) of the given secrets. */
export function makeSecretRedactor(secrets: Iterable<string>): SecretRedactor {
  const all = new Set<string>();
  for (const s of secrets) for (const f of secretForms(s)) all.add(f);
  const forms = [...all].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
  const redact = (text: string): string => {
    if (forms.length === 0) return text;
    const stream = new StreamRedactor(forms);
    return stream.push(text) + stream.flush();
  };
  return Object.assign(redact, { forms });
}

/**
 * Redacts a text arriving in chunks: a secret split across chunks is still found. Text that could
 * be the start of a secret is held back until the next chunk (or {@linkcode flush}) decides.
 */
export class StreamRedactor {
  readonly #forms: readonly string[];
  #held = "";

  /** `forms`: the exact strings to replace (e.g. {@linkcode SecretRedactor.forms}). */
  constructor(forms: readonly string[]) {
    this.#forms = forms.filter((f) => f.length > 0);
  }

  /** Adds a chunk; returns the redacted text that is safe to emit now. */
  push(chunk: string): string {
    if (this.#forms.length === 0) return chunk;
    return this.#scan(this.#held + chunk, false);
  }

  /** Ends the stream: returns the rest, redacted (nothing more can complete a secret). */
  flush(): string {
    const rest = this.#held;
    this.#held = "";
    return rest.length === 0 ? "" : this.#scan(rest, true);
  }

  #scan(buf: string, final: boolean): string {
    // Positions where the text ends inside a form: a longer secret may still complete there.
    let pendingAt = buf.length;
    if (!final) {
      for (const form of this.#forms) {
        for (let p = Math.max(0, buf.length - form.length + 1); p < pendingAt; p++) {
          if (buf.charCodeAt(p) === form.charCodeAt(0) && form.startsWith(buf.slice(p))) {
            pendingAt = p;
            break;
          }
        }
      }
    }
    let out = "";
    let from = 0;
    for (;;) {
      // Earliest complete match; at one position the longest form wins.
      let at = -1;
      let len = 0;
      for (const form of this.#forms) {
        const i = buf.indexOf(form, from);
        if (i >= 0 && (at < 0 || i < at || (i === at && form.length > len))) {
          at = i;
          len = form.length;
        }
      }
      if (at < 0 || at >= pendingAt) break;
      out += buf.slice(from, at) + REDACTED;
      from = at + len;
    }
    const keep = Math.max(from, pendingAt);
    out += buf.slice(from, keep);
    this.#held = buf.slice(keep);
    return out;
  }
}
