/**
 * `aphex validate`: checks `aphex-config.yaml` against the schema and the semantic rules, then
 * against every limit `aphex generate` would hit (object size, Argo's DAG and template caps, a
 * bucket for cluster pipelines), so a valid config always generates.
 * Exit 0 with a one-line summary when valid (warnings, e.g. an image tag without a digest, on
 * stderr); exit 2 with every error on stderr otherwise.
 * @module
 */
import { type Command, runMain, str } from "../command/contract.ts";
import {
  CONFIG_OPTION,
  configParseOptions,
  DEFAULT_CONFIG_FILE,
  readConfigText,
} from "../command/config_file.ts";
import {
  configWarnings,
  locateProblems,
  parseConfig,
  type ParseConfigResult,
} from "../models/config_parse.ts";
import { ExitCode, formatIssue } from "../models/errors.ts";
import { clusterProblems, FULL_CHECK_FROM } from "../templates/limits.ts";

/**
 * Parses the text, then checks what generate would refuse (located like parse errors). The
 * generator is loaded only for configurations large enough to reach a size limit.
 */
async function check(
  text: string,
  options: { file: string; pathExists?: (path: string) => boolean },
): Promise<ParseConfigResult> {
  const file = options.file;
  const parsed = parseConfig(text, options);
  if (!parsed.ok) return parsed;
  const problems = parsed.config.environments.length < FULL_CHECK_FROM
    ? clusterProblems(parsed.config)
    : (await import("../templates/generate.ts")).pipelineProblems(parsed.config);
  return problems.length === 0
    ? parsed
    : { ok: false, issues: locateProblems(text, problems, { file }) };
}

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
    const text = await readConfigText(file, { cwd: ctx.cwd });
    const result = await check(
      text,
      configParseOptions(file, { cwd: ctx.cwd, checkPaths: values["skip-paths"] !== true }),
    );
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
    const warnings = configWarnings(text, result.config, { file });
    for (const w of warnings) ctx.stderr(`warning: ${formatIssue(w)}\n`);
    const envs = result.config.environments;
    const stacks = envs.reduce((n, e) => n + e.stacks.length, 0);
    if (json) {
      ctx.stdout(
        JSON.stringify({ valid: true, file, environments: envs.length, stacks, warnings }) + "\n",
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
