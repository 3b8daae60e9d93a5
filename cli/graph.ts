/**
 * `aphex graph`: prints the pipeline topology (the same steps the WorkflowTemplate runs) as
 * Mermaid (default), Graphviz DOT or text.
 * @module
 */
import { type Command, runMain, str } from "../command/contract.ts";
import { CONFIG_OPTION, DEFAULT_CONFIG_FILE, loadConfigFile } from "../command/config_file.ts";
import { ExitCode, usageError } from "../models/errors.ts";
import { GRAPH_FORMATS, type GraphFormat, renderGraph } from "../templates/graph.ts";

/** The `graph` command. */
export const command: Command = {
  spec: {
    name: "graph",
    summary: "Print the pipeline topology as a Mermaid, DOT or text graph",
    options: {
      config: CONFIG_OPTION,
      format: {
        type: "string",
        description: `Output format: ${GRAPH_FORMATS.join(", ")}`,
        env: "APHEX_GRAPH_FORMAT",
        default: "mermaid",
        valueName: "FORMAT",
      },
    },
  },
  async run(values, _positionals, ctx) {
    const format = str(values, "format") ?? "mermaid";
    if (!(GRAPH_FORMATS as readonly string[]).includes(format)) {
      throw usageError(
        `aphex graph: --format must be one of ${GRAPH_FORMATS.join(", ")} (got '${format}')`,
      );
    }
    const config = await loadConfigFile(str(values, "config") ?? DEFAULT_CONFIG_FILE, {
      cwd: ctx.cwd,
    });
    ctx.stdout(renderGraph(config, { format: format as GraphFormat }));
    return ExitCode.Ok;
  },
};

if (import.meta.main) await runMain(command);
