/**
 * Questions on this process's terminal: a yes/no prompt answered on stdin, asked only when stdin
 * is a terminal (the approval gates of `aphex run --local`).
 * @module
 */

/** Reads one line from the terminal's stdin (without its line break and surrounding blanks). */
async function readTerminalLine(): Promise<string> {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(256);
  let text = "";
  while (!text.includes("\n")) {
    const n = await Deno.stdin.read(buffer);
    if (n === null) break;
    text += decoder.decode(buffer.subarray(0, n), { stream: true });
  }
  return text.trim();
}

/**
 * Asks `question` (written with `options.write`, e.g. to stderr) and reads the answer from stdin:
 * true for `y` or `yes` (any case), false for anything else, undefined without asking when stdin
 * is not a terminal.
 */
export async function askYesNo(
  question: string,
  options: { write: (text: string) => void },
): Promise<boolean | undefined> {
  if (!Deno.stdin.isTerminal()) return undefined;
  options.write(question);
  return /^y(es)?$/i.test(await readTerminalLine());
}
