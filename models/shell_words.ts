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
 * Splits `text` like a POSIX shell would into words, without expanding anything.
 *
 * @example
 * ```ts
 * shellWords(`npx "my cdk" deploy`); // { words: ["npx", "my cdk", "deploy"], complete: true }
 * shellWords("npm ci && npm test");   // { words: ["npm", "ci"], complete: false }
 * ```
 */
export function shellWords(text: string): ShellWords {
  const words: string[] = [];
  for (const entry of parse(text, (name) => `$${name}`)) {
    if (typeof entry !== "string") return { words, complete: false };
    words.push(entry);
  }
  return { words, complete: true };
}
