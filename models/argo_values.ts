/**
 * Values as Argo Workflows hands them to a step at run time (read from Argo's source), decoded
 * without I/O.
 *
 * `{{workflow.failures}}` is set by the controller (`workflow/controller/operator.go`) to
 * `strconv.Quote(json.Marshal(failures))`: a Go-quoted string whose content is the JSON array.
 * Template substitution (`util/template/simple_template.go`) then inserts every value Go-quoted
 * with the outer quotes stripped into the template's JSON text, which restores the value itself;
 * so the pod's environment variable holds the Go-quoted form, outer quotes included.
 * @module
 */

const SIMPLE_ESCAPES: Record<string, number> = {
  a: 0x07,
  b: 0x08,
  f: 0x0c,
  n: 0x0a,
  r: 0x0d,
  t: 0x09,
  v: 0x0b,
  "\\": 0x5c,
  '"': 0x22,
  "'": 0x27,
};

/**
 * Decodes a Go double-quoted string literal as `strconv.Unquote` does (`\a \b \f \n \r \t \v \\
 * \" \'`, `\xHH` and octal `\ooo` bytes, `\uHHHH` and `\UHHHHHHHH` code points). Returns `null`
 * when the text is not exactly one such literal.
 *
 * @example
 * ```ts
 * unquoteGoString(String.raw`"[{\"phase\":\"Failed\"}]"`); // '[{"phase":"Failed"}]'
 * ```
 */
export function unquoteGoString(text: string): string | null {
  if (text.length < 2 || !text.startsWith('"') || !text.endsWith('"')) return null;
  const bytes: number[] = [];
  const encoder = new TextEncoder();
  const pushCodePoint = (cp: number) => bytes.push(...encoder.encode(String.fromCodePoint(cp)));
  const body = text.slice(1, -1);
  for (let i = 0; i < body.length;) {
    const c = body[i]!;
    if (c === '"' || c === "\n") return null; // unescaped quote or newline: not one literal
    if (c !== "\\") {
      const cp = body.codePointAt(i)!;
      pushCodePoint(cp);
      i += cp > 0xffff ? 2 : 1;
      continue;
    }
    const e = body[i + 1];
    if (e === undefined) return null;
    if (e in SIMPLE_ESCAPES) {
      bytes.push(SIMPLE_ESCAPES[e]!);
      i += 2;
    } else if (e === "x" || e === "u" || e === "U") {
      const n = e === "x" ? 2 : e === "u" ? 4 : 8;
      const hex = body.slice(i + 2, i + 2 + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) return null;
      const v = parseInt(hex, 16);
      if (e === "x") bytes.push(v);
      else if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return null;
      else pushCodePoint(v);
      i += 2 + n;
    } else if (/[0-7]/.test(e)) {
      const oct = body.slice(i + 1, i + 4);
      if (!/^[0-7]{3}$/.test(oct) || parseInt(oct, 8) > 255) return null;
      bytes.push(parseInt(oct, 8));
      i += 4;
    } else {
      return null;
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/**
 * The JSON text inside Argo's `{{workflow.failures}}` as a pod receives it: the Go-quoted form is
 * unquoted; a bare JSON array (older controllers, hand-run reports) is returned as is; empty,
 * `null` and an unresolved `{{…}}` literal mean "no failures" (`""`).
 */
export function argoFailuresJson(value: string | undefined): string {
  const trimmed = (value ?? "").trim();
  if (trimmed === "" || trimmed === "null" || trimmed.startsWith("{{")) return "";
  if (trimmed.startsWith('"')) {
    const inner = unquoteGoString(trimmed);
    if (inner === null) return trimmed; // left for the JSON parser to reject, with its message
    const unwrapped = inner.trim();
    return unwrapped === "null" ? "" : unwrapped;
  }
  return trimmed;
}
