/**
 * `aphex validate`: checks `aphex-config.yaml` against the schema and the semantic rules.
 * Exit 0 with a one-line summary when valid; exit 2 with every error on stderr otherwise.
 * @module
 */
import { type Command, runMain, str } from "./_command.ts";
import { checkConfigFile, CONFIG_OPTION, DEFAULT_CONFIG_FILE } from "./_config_file.ts";
import { ExitCode, formatIssue } from "../models/errors.ts";

/** The `validate` command. */
export const command: Command = {
  spec: {
    name: "validate",
    summary: "Check aphex-config.yaml and report every problem with file:line:col",
    options: {
      config: CONFIG_OPTION,
      json: { type: "boolean", description: "Print the result as JSON on stdout" },
      "skip-paths": {
        type: "boolean",
        description: "Do not check that stacks[].path files exist (a config read outside its " +
          "repository, like Aphex's own example)",
        env: "APHEX_SKIP_PATHS",
      },
    },
  },
  async run(values, _positionals, ctx) {
    const file = str(values, "config") ?? DEFAULT_CONFIG_FILE;
    const result = await checkConfigFile(file, {
      cwd: ctx.cwd,
      checkPaths: values["skip-paths"] !== true,
    });
    const json = values.json === true;
    if (!result.ok) {
      if (json) {
        ctx.stdout(JSON.stringify({ valid: false, file, errors: result.issues }) + "\n");
      }
      for (const issue of result.issues) ctx.stderr(formatIssue(issue) + "\n");
      const n = result.issues.length;
      ctx.stderr(`${file}: ${n} error${n === 1 ? "" : "s"}\n`);
      return ExitCode.Usage;
    }
    const envs = result.config.environments;
    const stacks = envs.reduce((n, e) => n + e.stacks.length, 0);
    if (json) {
      ctx.stdout(
        JSON.stringify({ valid: true, file, environments: envs.length, stacks }) + "\n",
      );
    } else {
      ctx.stdout(
        `${file}: valid (${envs.length} environment${envs.length === 1 ? "" : "s"}, ` +
          `${stacks} stack${stacks === 1 ? "" : "s"})\n`,
      );
    }
    return ExitCode.Ok;
  },
};

if (import.meta.main) await runMain(command);
