/**
 * The one argv splitter: shell quoting rules (`shell-quote`), never a shell. Used for
 * `--cdk-command` (argv that is run without a shell) and to find the tool a build, hook or test
 * command starts with (preflight).
 * @module
 */
// @ts-types="@types/shell-quote"
import { parse } from "shell-quote";

/** The words of `text` and whether that is all of it. */
export interface ShellWords {
  /** Words before the first operator, glob or comment, quotes removed, `$VAR` kept literally. */
  words: string[];
  /** False when an operator (`&&`, `|`, `;`, `>` …), a glob or a comment follows the words. */
  complete: boolean;
}

/**
 * Splits `text` like a POSIX shell would into words, without expanding anything. Never throws:
 * text it cannot read ends the words (`complete: false`).
 *
 * @example
 * ```ts
 * shellWords(`npx "my cdk" deploy`); // { words: ["npx", "my cdk", "deploy"], complete: true }
 * shellWords("npm ci && npm test");   // { words: ["npm", "ci"], complete: false }
 * ```
 */
export function shellWords(text: string): ShellWords {
  let entries: ReturnType<typeof parse>;
  try {
    entries = parse(text, (name) => `$${name}`);
  } catch {
    // shell-quote refuses a substitution it cannot read (`${`, `${x`, `${ x}`), where a shell
    // fails too: the words before it, the word it continues dropped, never the rest.
    const cut = unreadableSubstitution(text);
    if (cut < 0) return { words: [], complete: false };
    const before = text.slice(0, cut);
    const { words } = shellWords(before);
    return { words: /\s$/.test(before) ? words : words.slice(0, -1), complete: false };
  }
  const words: string[] = [];
  for (const entry of entries) {
    if (typeof entry !== "string") return { words, complete: false };
    words.push(entry);
  }
  return { words, complete: true };
}

/** Where the first `${` that shell-quote cannot read starts (-1: none is the cause). */
function unreadableSubstitution(text: string): number {
  for (let at = text.indexOf("${"); at >= 0;) {
    const next = text.indexOf("${", at + 2);
    try {
      parse(text.slice(0, next < 0 ? text.length : next), (name) => `$${name}`);
    } catch {
      return at;
    }
    at = next;
  }
  return -1;
}
