/**
 * Which tools a configuration's commands need: the first word of each build, hook and test
 * command (shell word rules, see `shell_words.ts`), skipping builtins, paths and expansions. Pure;
 * preflight asks each tool for its version.
 * @module
 */
import type { AphexConfig, EnvironmentConfig } from "./config.ts";
import { shellWords } from "./shell_words.ts";

/** Tools every pipeline needs whatever the commands are. */
export const BASE_TOOLS: readonly string[] = ["git", "node", "npx"];

const SHELL_WORDS = new Set([
  "!",
  ".",
  ":",
  "[",
  "[[",
  "alias",
  "case",
  "cd",
  "command",
  "echo",
  "env",
  "eval",
  "exec",
  "exit",
  "export",
  "false",
  "for",
  "if",
  "printf",
  "pushd",
  "popd",
  "read",
  "set",
  "source",
  "test",
  "time",
  "true",
  "ulimit",
  "umask",
  "unset",
  "until",
  "while",
  "{",
  "(",
]);

/**
 * The tool a command string starts with: its first word after `VAR=value` assignments; undefined
 * for shell builtins/keywords, paths (`./x`, `/bin/x`), expansions and quoted words.
 */
export function commandTool(command: string): string | undefined {
  // A quoted first word may name anything (the check would guess): skipped, like expansions.
  if (/^\s*(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*["']/.test(command)) return undefined;
  const { words } = shellWords(command);
  let i = 0;
  while (i < words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i]!)) i++;
  const first = words[i];
  if (first === undefined || first === "") return undefined;
  if (SHELL_WORDS.has(first) || !/^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/.test(first)) return undefined;
  return first;
}

/**
 * Tools needed by the commands of the configuration (build, and the hooks and tests of the given
 * environments), after {@linkcode BASE_TOOLS}, each once, in order of first use.
 */
export function requiredTools(
  config: Pick<AphexConfig, "build">,
  environments: readonly EnvironmentConfig[],
): string[] {
  const commands = [
    ...config.build.commands,
    ...environments.flatMap((e) => [
      ...e.hooks.preDeploy,
      ...e.hooks.postDeploy,
      ...(e.tests?.commands ?? []),
    ]),
  ];
  const tools = [...BASE_TOOLS];
  for (const c of commands) {
    const tool = commandTool(c);
    if (tool && !tools.includes(tool)) tools.push(tool);
  }
  return tools;
}
