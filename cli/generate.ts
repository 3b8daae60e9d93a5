/**
 * `aphex generate`: writes the Argo manifests of `aphex-config.yaml` into a directory, atomically
 * (every file computed first, written to a temporary file in the same directory, then renamed; an
 * error leaves the previous files untouched). `--check` writes nothing and exits 1 with a unified
 * diff when the files are out of date.
 * @module
 */
import { join, resolve } from "node:path";
import { createTwoFilesPatch } from "diff";
import { type Command, runMain, str } from "../command/contract.ts";
import { CONFIG_OPTION, DEFAULT_CONFIG_FILE, loadConfigFile } from "../command/config_file.ts";
import { AphexError, ExitCode } from "../models/errors.ts";
import {
  GENERATED_HEADER,
  type GeneratedFile,
  generateManifests,
  MANIFEST_FILES,
} from "../templates/generate.ts";
import { yamlComment } from "../templates/yaml.ts";

/** Default output directory. */
export const DEFAULT_OUT_DIR = "manifests";

/** What happens (or would happen) to one file. */
export type FileStatus = "created" | "updated" | "unchanged" | "removed";

/** One entry of a generation plan. */
export interface PlannedFile {
  /** File name inside the output directory. */
  file: string;
  /** What happens to it. */
  status: FileStatus;
  /** Current content (null when absent). */
  before: string | null;
  /** New content (null when removed). */
  after: string | null;
  /** Number of YAML documents in the new content. */
  documents: number;
}

/** File-system operations used to write manifests (injected by tests). */
export interface WriteFs {
  /** Creates a temporary file in `dir`; returns its path. */
  makeTempFile(options: { dir: string; prefix: string; suffix: string }): Promise<string>;
  /** Writes a whole text file. */
  writeTextFile(path: string, text: string): Promise<void>;
  /** Renames atomically (same directory). */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file. */
  remove(path: string): Promise<void>;
  /** Creates a directory and its parents. */
  mkdir(path: string): Promise<void>;
}

/** The real file system. */
export const denoFs: WriteFs = {
  makeTempFile: (o) => Deno.makeTempFile(o),
  writeTextFile: (p, t) => Deno.writeTextFile(p, t),
  rename: (a, b) => Deno.rename(a, b),
  remove: (p) => Deno.remove(p),
  mkdir: (p) => Deno.mkdir(p, { recursive: true }),
};

async function readOrNull(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new AphexError(`${path}: cannot read: ${e instanceof Error ? e.message : e}`);
  }
}

/**
 * Compares generated files with the output directory. Files the generator no longer produces are
 * planned for removal only if they carry the generator's header (hand-written files are kept).
 */
export async function planManifests(
  outDir: string,
  files: GeneratedFile[],
): Promise<PlannedFile[]> {
  const plan: PlannedFile[] = [];
  const header = yamlComment(GENERATED_HEADER);
  for (const name of MANIFEST_FILES) {
    const before = await readOrNull(join(outDir, name));
    const generated = files.find((f) => f.file === name);
    if (generated) {
      const status: FileStatus = before === null
        ? "created"
        : before === generated.text
        ? "unchanged"
        : "updated";
      plan.push({
        file: name,
        status,
        before,
        after: generated.text,
        documents: generated.documents.length,
      });
    } else if (before !== null && before.startsWith(header)) {
      plan.push({ file: name, status: "removed", before, after: null, documents: 0 });
    }
  }
  return plan;
}

/**
 * Applies a plan: every changed file is first written to a temporary file in `outDir`; only when
 * all are written are they renamed over the targets, then stale files are removed. If any write
 * fails, the temporary files are deleted and the previous files are left untouched.
 */
export async function writeManifests(
  outDir: string,
  plan: PlannedFile[],
  options: { fs?: WriteFs } = {},
): Promise<void> {
  const fs = options.fs ?? denoFs;
  const changed = plan.filter((p) => p.status === "created" || p.status === "updated");
  const temps: { temp: string; target: string }[] = [];
  try {
    await fs.mkdir(outDir);
    for (const p of changed) {
      const temp = await fs.makeTempFile({ dir: outDir, prefix: `.${p.file}.`, suffix: ".tmp" });
      temps.push({ temp, target: join(outDir, p.file) });
      await fs.writeTextFile(temp, p.after ?? "");
    }
  } catch (e) {
    for (const { temp } of temps) await fs.remove(temp).catch(() => {});
    throw new AphexError(
      `cannot write manifests to ${outDir}: ${
        e instanceof Error ? e.message : e
      } (previous files left unchanged)`,
      { cause: e },
    );
  }
  for (const { temp, target } of temps) await fs.rename(temp, target);
  for (const p of plan) if (p.status === "removed") await fs.remove(join(outDir, p.file));
}

/** Unified diff of one planned change (`a/<dir>/<file>` → `b/<dir>/<file>`). */
export function diffPlanned(dirLabel: string, p: PlannedFile): string {
  const path = dirLabel ? `${dirLabel}/${p.file}` : p.file;
  return createTwoFilesPatch(
    p.before === null ? "/dev/null" : `a/${path}`,
    p.after === null ? "/dev/null" : `b/${path}`,
    p.before ?? "",
    p.after ?? "",
    undefined,
    undefined,
    { context: 3 },
  );
}

/** The `generate` command. */
export const command: Command = {
  spec: {
    name: "generate",
    summary: "Generate the Argo WorkflowTemplate, EventSource, Sensor and RBAC manifests",
    description:
      "Writes workflow-template.yaml, event-source.yaml, sensor.yaml and rbac.yaml into the output\n" +
      "directory atomically. With --check nothing is written: exit 1 and a unified diff when the\n" +
      "files are out of date, exit 0 when they are up to date.",
    options: {
      config: CONFIG_OPTION,
      dir: {
        type: "string",
        description: "Directory of the generated manifests (the same flag as apply --dir)",
        aliases: ["out"],
        env: "APHEX_MANIFESTS_DIR",
        default: DEFAULT_OUT_DIR,
        valueName: "DIR",
      },
      check: {
        type: "boolean",
        description: "Write nothing; exit 1 with a diff when files would change",
      },
      json: { type: "boolean", description: "Print the result as JSON on stdout" },
    },
  },
  async run(values, _positionals, ctx) {
    const file = str(values, "config") ?? DEFAULT_CONFIG_FILE;
    const out = str(values, "dir") ?? DEFAULT_OUT_DIR;
    const json = values.json === true;
    const config = await loadConfigFile(file, { cwd: ctx.cwd });
    const files = generateManifests(config);
    const outDir = resolve(ctx.cwd, out);
    const plan = await planManifests(outDir, files);
    const drift = plan.filter((p) => p.status !== "unchanged");
    const summary = plan.map((p) => ({
      file: join(out, p.file),
      status: p.status,
      bytes: p.after === null ? 0 : new TextEncoder().encode(p.after).length,
      documents: p.documents,
    }));
    if (values.check === true) {
      const diffs = drift.map((p) => diffPlanned(out, p));
      if (json) {
        ctx.stdout(
          JSON.stringify(
            { upToDate: drift.length === 0, out, files: summary, diff: diffs.join("") },
            null,
            2,
          ) + "\n",
        );
      } else {
        for (const d of diffs) ctx.stdout(d);
      }
      if (drift.length > 0) {
        ctx.stderr(
          `${out}: ${drift.length} file${drift.length === 1 ? "" : "s"} out of date ` +
            `(${
              drift.map((p) =>
                `${p.file} ${
                  p.status === "created" ? "missing" : p.status === "removed" ? "stale" : "differs"
                }`
              ).join(", ")
            }); ` +
            `run 'aphex generate --config ${file} --dir ${out}'\n`,
        );
        return ExitCode.Failed;
      }
      if (!json) ctx.stdout(`${out}: up to date (${plan.length} files)\n`);
      return ExitCode.Ok;
    }
    await writeManifests(outDir, plan);
    if (json) {
      ctx.stdout(JSON.stringify({ out, files: summary }) + "\n");
    } else {
      for (const s of summary) {
        const verb = s.status === "removed"
          ? "removed  "
          : s.status === "unchanged"
          ? "unchanged"
          : "wrote    ";
        const detail = s.status === "removed"
          ? ""
          : ` (${s.bytes} bytes, ${s.documents} document${s.documents === 1 ? "" : "s"})`;
        ctx.stdout(`${verb} ${s.file}${detail}\n`);
      }
    }
    return ExitCode.Ok;
  },
};

if (import.meta.main) await runMain(command);
