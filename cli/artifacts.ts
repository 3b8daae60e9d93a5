/**
 * `aphex artifacts verify --commit-sha SHA`: downloads every artifact listed in
 * `<sha>/metadata.json` and re-hashes it; exit 1 naming each file whose SHA-256 or size differs.
 * @module
 */
import {
  type Command,
  type CommandContext,
  type OptionValues,
  runMain,
} from "../command/contract.ts";
import { ExitCode } from "../models/errors.ts";
import type { ArtifactStore } from "../adapters/store/artifact_store.ts";
import { openArtifactStore, verifyArtifacts } from "../adapters/store/artifacts.ts";
import type { AwsClientOptions } from "../adapters/aws/clients.ts";
import {
  configPath,
  loadStageConfig,
  resolveBucket,
  resolveStageInputs,
  STAGE_OPTIONS,
} from "../command/stage_runtime.ts";

/** Options of {@linkcode runArtifactsVerify}. */
export interface VerifyCommandDeps {
  /** Store to verify instead of one opened from the options. */
  store?: ArtifactStore;
  /** S3 client settings when the store is opened here. */
  aws?: AwsClientOptions;
}

/** Runs the verification for parsed options; returns the exit code. */
export async function runArtifactsVerify(
  values: OptionValues,
  ctx: CommandContext,
  deps: VerifyCommandDeps = {},
): Promise<number> {
  const inputs = resolveStageInputs(values, ctx);
  let store = deps.store;
  if (!store) {
    let bucket = inputs.artifactBucket;
    if (!bucket) {
      const exists = await Deno.stat(configPath(inputs)).then(() => true, () => false);
      if (exists) bucket = resolveBucket(inputs, await loadStageConfig(inputs));
    }
    store = await openArtifactStore({
      localRoot: inputs.storeDir,
      ...(bucket ? { bucket } : {}),
      aws: { env: ctx.env, ...deps.aws },
    });
  }
  try {
    const report = await verifyArtifacts(store, inputs.commitSha, {
      onFile: (path, ok) => ctx.stderr(`${ok ? "ok      " : "MISMATCH"} ${path}\n`),
    });
    if (values.json === true) ctx.stdout(JSON.stringify(report) + "\n");
    if (report.problems.length > 0) {
      for (const p of report.problems) ctx.stderr(`error: ${p.path}: ${p.problem}\n`);
      ctx.stderr(
        `error: ${report.problems.length} of ${report.checked} artifact(s) of ${inputs.commitSha} failed verification\n`,
      );
      return ExitCode.Failed;
    }
    ctx.stderr(
      `${report.checked} artifact(s) of ${inputs.commitSha} verified in ${store.location}\n`,
    );
    return ExitCode.Ok;
  } finally {
    if (!deps.store) store.close();
  }
}

const {
  workspace,
  "commit-sha": commitSha,
  config,
  "artifact-bucket": bucket,
  "store-dir": storeDir,
} = STAGE_OPTIONS;

/** `aphex artifacts verify`. */
export const command: Command = {
  spec: {
    name: "artifacts verify",
    summary: "Download a build's artifacts and re-check their SHA-256 against metadata.json",
    description: "Exit 1 naming every artifact that is missing or whose content differs.",
    options: {
      "commit-sha": commitSha!,
      "artifact-bucket": bucket!,
      workspace: workspace!,
      config: config!,
      "store-dir": storeDir!,
      json: { type: "boolean", description: "Print the report as JSON on stdout" },
    },
  },
  run: (values, _positionals, ctx) => runArtifactsVerify(values, ctx),
};

if (import.meta.main) await runMain(command);
