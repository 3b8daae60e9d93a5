/**
 * The build stage (`aphex build`, also `deno run -A stages/build.ts`): checkout of the exact commit
 * → `build.commands` in order (first failure stops) → streaming SHA-256 of every file under
 * `build.artifacts` → upload to `<sha>/artifacts/<path>` (multipart, concurrent) → `<sha>/metadata.json`
 * last, so a reader that sees it sees a complete build. On failure: BuildResult with the exit code
 * and stderr tail, the log uploaded to `<sha>/logs/build.log`, exit 1, no metadata.json.
 * @module
 */
import {
  type Command,
  type CommandContext,
  type OptionValues,
  runMain,
} from "../command/contract.ts";
import type { AphexConfig } from "../models/config.ts";
import { AphexError, ExitCode } from "../models/errors.ts";
import type { ArtifactMetadata } from "../models/metadata.ts";
import type { BuildResult } from "../models/results.ts";
import {
  artifactKey,
  type ArtifactStore,
  logKey,
  metadataKey,
} from "../adapters/store/artifact_store.ts";
import { encodeBuildMetadata, openArtifactStore } from "../adapters/store/artifacts.ts";
import type { S3StoreOptions } from "../adapters/store/s3_store.ts";
import {
  type CommandOutcome,
  runShellCommand,
  secretValuesFromEnv,
} from "../adapters/process/exec.ts";
import { openStageLog } from "../adapters/process/stage_log.ts";
import { sha256File } from "../adapters/store/hash.ts";
import {
  assertReadableInside,
  freshArtifactsDir,
  listPublishableFiles,
  resolveArtifactsDir,
} from "../adapters/workspace/boundary.ts";
import {
  checkoutStage,
  GITHUB_TOKEN_ENV,
  resolveBucket,
  resolveStageInputs,
  runStageCommand,
  secondsOption,
  STAGE_OPTIONS,
  type StageDeps,
  type StageInputs,
  writeOutputs,
} from "../command/stage_runtime.ts";

/** Default per-command timeout (1 hour). */
export const DEFAULT_COMMAND_TIMEOUT_MS = 60 * 60 * 1000;

/** Environment variables never passed on to build commands. */
const WITHHELD_FROM_COMMANDS = [GITHUB_TOKEN_ENV];

/** Injected dependencies of {@linkcode runBuild}. */
export interface BuildDeps extends StageDeps {
  /** Multipart settings. */
  s3?: S3StoreOptions;
  /** Per-command timeout in milliseconds (default 1 hour). */
  commandTimeoutMs?: number;
  /** Artifacts uploaded at the same time (default 2). */
  uploadConcurrency?: number;
  /** Clock for artifact timestamps. */
  clock?: () => Date;
  /** Upload progress of each artifact (bytes sent so far). */
  onUploadProgress?: (key: string, loaded: number) => void;
}

/** Time spent in each phase, in milliseconds. */
export interface BuildTimings {
  /** Checkout. */
  checkoutMs: number;
  /** Build commands. */
  commandsMs: number;
  /** Listing and hashing the artifacts. */
  hashMs: number;
  /** Uploading artifacts and metadata. */
  uploadMs: number;
}

/** What {@linkcode runBuild} did. */
export interface BuildOutcome {
  /** Exit code for the stage: 0 ok, 1 failed. */
  exitCode: number;
  /** The build result (also in metadata.json on success). */
  result: BuildResult;
  /** Stored artifacts (empty on failure). */
  artifacts: ArtifactMetadata[];
  /** URI of metadata.json on success. */
  metadataUri?: string;
  /** URI of the uploaded log on failure (when the upload worked). */
  logUri?: string;
  /** Why the build failed. */
  failure?: string;
  /** Phase timings. */
  timings: BuildTimings;
}

/** One artifact file found under the artifacts directory. */
export interface ArtifactFile {
  /** Absolute path. */
  path: string;
  /** Path relative to the artifacts directory, `/`-separated. */
  relPath: string;
}

/** Kind of an artifact from its name. */
export function artifactType(relPath: string): string {
  if (/\.(zip|jar|war|whl|tgz|tar\.gz|tar|tar\.zst|tar\.xz|deb|rpm)$/i.test(relPath)) {
    return "package";
  }
  return "file";
}

/**
 * Lists the regular files under `dir` recursively, sorted by relative path. Symbolic links are
 * skipped (reported through `warn`), never followed; `dir` itself must not be a link
 * (see {@linkcode listPublishableFiles}, the workspace boundary).
 */
export async function listArtifactFiles(
  dir: string,
  warn: (message: string) => void = () => {},
): Promise<ArtifactFile[]> {
  return await listPublishableFiles(dir, warn);
}

/** Runs `fn` over `items` with at most `limit` in flight; the first error stops new work. */
async function forEachLimited<T>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  const results = await Promise.allSettled(
    Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker),
  );
  const rejected = results.find((r) => r.status === "rejected");
  if (rejected) throw (rejected as PromiseRejectedResult).reason;
}

function resultOf(
  partial: Partial<BuildResult> & Pick<BuildResult, "success" | "exitCode">,
  started: number,
): BuildResult {
  return {
    stdout: "",
    stderr: "",
    artifacts: [],
    duration: Math.round((performance.now() - started) / 10) / 100,
    ...partial,
  };
}

/**
 * Runs the build stage. Configuration and input errors throw an AphexError (exit code 2); a failed
 * checkout throws (exit 1); failed commands or uploads return an outcome with exit code 1
 * (see {@linkcode writeBuildOutputs} for the Argo output parameters).
 */
export async function runBuild(inputs: StageInputs, deps: BuildDeps): Promise<BuildOutcome> {
  const started = performance.now();
  const timings: BuildTimings = { checkoutMs: 0, commandsMs: 0, hashMs: 0, uploadMs: 0 };
  const sha = inputs.commitSha;
  const clock = deps.clock ?? (() => new Date());
  const journal = await openStageLog("build", {
    sink: deps.log,
    secrets: secretValuesFromEnv(deps.env),
  });
  const log = journal.log;
  const redact = journal.redact;
  let store: ArtifactStore | undefined = deps.store;
  const ownStore = store === undefined;
  try {
    // 1. checkout
    let t = performance.now();
    const config: AphexConfig = await checkoutStage(inputs, {
      ...deps,
      log: (line) => log(`[build] ${line}`),
    });
    timings.checkoutMs = Math.round(performance.now() - t);
    // Workspace boundary (adapters/workspace/boundary.ts): segment rules for build.artifacts, no symlink on the
    // way, and the directory emptied before the commands run (no stale or committed files).
    await freshArtifactsDir(inputs.workspace, config.build.artifacts, {
      storeDir: inputs.storeDir,
    });
    store ??= await openArtifactStore({
      localRoot: inputs.storeDir,
      ...(resolveBucket(inputs, config) ? { bucket: resolveBucket(inputs, config)! } : {}),
      aws: { env: deps.env, ...deps.aws },
      ...(deps.s3 ? { s3: deps.s3 } : {}),
    });
    const activeStore = store;
    log(`[build] commit ${sha}; artifact store ${activeStore.location}`);

    const fail = async (failure: string, result: BuildResult): Promise<BuildOutcome> => {
      log(`[build] FAILED: ${failure}`);
      const outcome: BuildOutcome = {
        exitCode: ExitCode.Failed,
        result,
        artifacts: [],
        failure,
        timings,
      };
      try {
        await activeStore.put(logKey(sha, "build"), { path: journal.file }, {
          contentType: "text/plain",
        });
        outcome.logUri = activeStore.uriFor(logKey(sha, "build"));
        deps.log(`[build] log uploaded to ${outcome.logUri}`);
      } catch (e) {
        deps.log(`[build] could not upload the log: ${e instanceof Error ? e.message : e}`);
      }
      return outcome;
    };

    // A reader must never see an old metadata.json next to artifacts being replaced.
    try {
      await activeStore.delete(metadataKey(sha));
    } catch (e) {
      const failure = redact(e instanceof Error ? e.message : String(e));
      return await fail(
        failure,
        resultOf({ success: false, exitCode: 1, stderr: failure }, started),
      );
    }

    // 2. commands
    t = performance.now();
    const commandEnv: Record<string, string | undefined> = {
      ...deps.env,
      APHEX_COMMIT_SHA: sha,
      APHEX_WORKSPACE: inputs.workspace,
      ...(inputs.branch ? { APHEX_BRANCH: inputs.branch } : {}),
    };
    for (const name of WITHHELD_FROM_COMMANDS) delete commandEnv[name];
    let last: CommandOutcome | undefined;
    for (const [i, command] of config.build.commands.entries()) {
      const label = `build/${i + 1}`;
      log(`[${label}] $ ${command}`);
      last = await runShellCommand(command, {
        cwd: inputs.workspace,
        env: commandEnv,
        label,
        log: (line) => log(line),
        redact,
        timeoutMs: deps.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
        ...(deps.signal ? { signal: deps.signal } : {}),
      });
      if (last.exitCode !== 0 || last.cancelled || last.timedOut) {
        timings.commandsMs = Math.round(performance.now() - t);
        const why = last.cancelled
          ? `cancelled by ${String(deps.signal?.reason ?? "signal")}`
          : last.timedOut
          ? `timed out after ${deps.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS} ms`
          : `exited with code ${last.exitCode}`;
        const failure = `build command #${i + 1} (${last.command}) ${why}`;
        return await fail(
          failure,
          resultOf({
            success: false,
            exitCode: last.exitCode === 0 ? 1 : last.exitCode,
            stdout: last.stdoutTail,
            stderr: last.stderrTail,
          }, started),
        );
      }
      log(`[${label}] ok in ${(last.durationMs / 1000).toFixed(2)} s`);
    }
    timings.commandsMs = Math.round(performance.now() - t);

    // 3. package + checksum
    t = performance.now();
    let files: ArtifactFile[] = [];
    let realDir = "";
    try {
      // The commands may have replaced the directory or a parent by a link: resolve again.
      const dir = await resolveArtifactsDir(inputs.workspace, config.build.artifacts, {
        storeDir: inputs.storeDir,
      });
      if (dir.exists) {
        realDir = await Deno.realPath(dir.path);
        files = await listPublishableFiles(dir.path, (m) => log(`[build] ${m}`));
      } else {
        log(
          `[build] warning: artifacts directory ${config.build.artifacts} does not exist; no artifacts stored`,
        );
      }
    } catch (e) {
      if (!(e instanceof AphexError)) throw e;
      const failure = redact(e.message);
      return await fail(
        failure,
        resultOf({ success: false, exitCode: 1, stderr: failure }, started),
      );
    }
    const digests = [];
    for (const file of files) {
      await assertReadableInside(realDir, file.path, file.relPath);
      digests.push({ ...file, ...(await sha256File(file.path)) });
    }
    timings.hashMs = Math.round(performance.now() - t);
    log(`[build] ${digests.length} artifact(s) hashed in ${(timings.hashMs / 1000).toFixed(2)} s`);

    // 4. upload, metadata last
    t = performance.now();
    const artifacts: ArtifactMetadata[] = new Array(digests.length);
    const result = resultOf({
      success: true,
      exitCode: 0,
      stdout: last?.stdoutTail ?? "",
      stderr: last?.stderrTail ?? "",
      artifacts: digests.map((d) => d.relPath),
    }, started);
    try {
      await forEachLimited(
        digests.map((d, index) => ({ ...d, index })),
        deps.uploadConcurrency ?? 2,
        async (d) => {
          if (deps.signal?.aborted) {
            throw new AphexError(`cancelled by ${String(deps.signal.reason)} during upload`);
          }
          const key = artifactKey(sha, d.relPath);
          await assertReadableInside(realDir, d.path, d.relPath);
          await activeStore.put(key, { path: d.path }, {
            sha256: d.sha256,
            ...(deps.onUploadProgress ? { onProgress: (n) => deps.onUploadProgress!(key, n) } : {}),
          });
          artifacts[d.index] = {
            commitSha: sha,
            timestamp: clock(),
            s3Path: activeStore.uriFor(key),
            artifactType: artifactType(d.relPath),
            sizeBytes: d.size,
            checksum: d.sha256,
          };
        },
      );
      if (deps.signal?.aborted) {
        throw new AphexError(`cancelled by ${String(deps.signal.reason)} during upload`);
      }
      result.duration = Math.round((performance.now() - started) / 10) / 100;
      await activeStore.put(
        metadataKey(sha),
        encodeBuildMetadata({ commitSha: sha, artifacts, build: result }),
        { contentType: "application/json" },
      );
    } catch (e) {
      timings.uploadMs = Math.round(performance.now() - t);
      const failure = redact(e instanceof Error ? e.message : String(e)) +
        "; metadata.json was not published (re-run the build once the store is reachable)";
      return await fail(failure, {
        ...result,
        success: false,
        exitCode: 1,
        stderr: failure,
        artifacts: [],
      });
    }
    timings.uploadMs = Math.round(performance.now() - t);
    const metadataUri = activeStore.uriFor(metadataKey(sha));
    log(
      `[build] ${artifacts.length} artifact(s) uploaded in ${
        (timings.uploadMs / 1000).toFixed(2)
      } s`,
    );
    log(`[build] published ${metadataUri}`);
    return { exitCode: ExitCode.Ok, result, artifacts, metadataUri, timings };
  } finally {
    await journal.close();
    if (ownStore) store?.close();
  }
}

/** Writes the build's Argo output parameters and result JSON. */
export async function writeBuildOutputs(dir: string, outcome: BuildOutcome): Promise<void> {
  await writeOutputs(dir, {
    parameters: {
      success: String(outcome.result.success),
      "exit-code": String(outcome.result.exitCode),
      "artifact-count": String(outcome.artifacts.length),
      "metadata-uri": outcome.metadataUri ?? "",
    },
    result: {
      result: outcome.result,
      artifacts: outcome.artifacts.map((a) => ({ ...a, timestamp: a.timestamp.toISOString() })),
      metadataUri: outcome.metadataUri ?? null,
      logUri: outcome.logUri ?? null,
      failure: outcome.failure ?? null,
      timings: outcome.timings,
    },
  });
}

/** `aphex build`. */
export const command: Command = {
  spec: {
    name: "build",
    summary: "Check out the commit, run build.commands, store the artifacts with SHA-256 checksums",
    description:
      "Artifacts go to <bucket>/<sha>/artifacts/…; <sha>/metadata.json is written last. " +
      "On failure the log goes to <sha>/logs/build.log and no metadata.json is published. " +
      "A token for https remotes is read from APHEX_GITHUB_TOKEN (never passed to build commands).",
    options: {
      ...STAGE_OPTIONS,
      "command-timeout": {
        type: "string",
        description: "Per-command timeout in seconds",
        env: "APHEX_COMMAND_TIMEOUT",
        default: String(DEFAULT_COMMAND_TIMEOUT_MS / 1000),
        valueName: "SECONDS",
      },
      json: { type: "boolean", description: "Print the result as JSON on stdout" },
    },
  },
  async run(values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
    const inputs = resolveStageInputs(values, ctx);
    const timeout = secondsOption(values, "command-timeout");
    const outcome = await runStageCommand(inputs, {
      ctx,
      stage: "build",
      describe: (o) => ({
        exitCode: o.exitCode,
        ...(o.failure ? { errorMessage: o.failure } : {}),
      }),
      run: (signal: AbortSignal, log: (line: string) => void) =>
        runBuild(inputs, {
          env: ctx.env,
          log,
          signal,
          commandTimeoutMs: timeout * 1000,
        }),
      failureParameters: { "artifact-count": "0", "metadata-uri": "" },
    });
    await writeBuildOutputs(inputs.outputsDir, outcome);
    if (values.json === true) {
      ctx.stdout(
        JSON.stringify({ ...outcome.result, metadataUri: outcome.metadataUri ?? null }) + "\n",
      );
    }
    return outcome.exitCode;
  },
};

if (import.meta.main) await runMain(command);
