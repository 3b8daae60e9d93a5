/**
 * JUnit report files in the workspace: the glob rules (`--junit-glob`), finding the files a test
 * command wrote, and reading them within bounds.
 *
 * The glob matcher is written here rather than taken from a package (picomatch, minimatch): those
 * read a leading `!`, `+(…)`, `@(…)` as negation and extglobs, while these patterns are
 * workspace paths whose every other character must match itself.
 * @module
 */
import { join, resolve } from "node:path";
import { usageError } from "../../models/errors.ts";
import type { JUnitReport } from "../../models/test_report.ts";

/** Directories never searched for JUnit reports. */
export const JUNIT_EXCLUDED_DIRS: readonly string[] = ["node_modules", ".git"];

/** Largest JUnit file read (bigger ones are skipped with a note). */
export const MAX_JUNIT_BYTES = 32 * 1024 * 1024;

/** Most JUnit files read after one command. */
export const MAX_JUNIT_FILES = 1000;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

function segmentToRegExp(seg: string): string {
  let out = "";
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    if (c === "*") {
      while (seg[i + 1] === "*") i++;
      out += "[^/]*";
    } else if (c === "?") {
      out += "[^/]";
    } else if (c === "[") {
      const end = seg.indexOf("]", i + 2);
      if (end < 0) {
        out += "\\[";
        continue;
      }
      let body = seg.slice(i + 1, end);
      const negate = body.startsWith("!") || body.startsWith("^");
      if (negate) body = body.slice(1);
      out += `[${negate ? "^/" : ""}${body.replace(/[\\\]^]/g, "\\$&")}]`;
      i = end;
    } else if (c === "{") {
      const end = seg.indexOf("}", i + 1);
      const inner = end < 0 ? "" : seg.slice(i + 1, end);
      if (end < 0 || inner.includes("{")) {
        out += "\\{";
        continue;
      }
      out += `(?:${inner.split(",").map(segmentToRegExp).join("|")})`;
      i = end;
    } else {
      out += escapeRegExp(c);
    }
  }
  return out;
}

/**
 * Compiles a workspace-relative glob to a RegExp over `/`-separated relative paths: `*` and `?`
 * stay within one path segment, `**` as a whole segment matches any number of segments (zero
 * included), `[abc]`/`[!abc]` are character classes and `{a,b}` alternatives within a segment.
 * Usage error for absolute patterns and patterns with `..`.
 */
export function globToRegExp(glob: string): RegExp {
  let g = glob.trim();
  while (g.startsWith("./")) g = g.slice(2);
  const segments = g.split("/").filter((s) => s !== "" && s !== ".");
  if (g.startsWith("/") || segments.length === 0 || segments.includes("..")) {
    throw usageError(
      `JUnit glob ${JSON.stringify(glob)} must be a non-empty path relative to the workspace ` +
        "without '..' (e.g. test-results/**/*.xml)",
    );
  }
  let re = "^";
  for (const [i, seg] of segments.entries()) {
    const last = i === segments.length - 1;
    if (seg === "**") re += last ? ".*" : "(?:[^/]+/)*";
    else re += segmentToRegExp(seg) + (last ? "" : "/");
  }
  return new RegExp(re + "$");
}

/** Modification stamp of a report file (mtime and size). */
export type FileStamps = Map<string, { mtimeMs: number; size: number }>;

/** Options of {@linkcode findReportFiles}. */
export interface FindReportOptions {
  /** Absolute directories not searched (besides node_modules and .git), e.g. the local store. */
  excludeDirs?: string[];
}

/**
 * Files under `root` whose workspace-relative path matches one of `patterns`, with their mtime and
 * size. Skips `node_modules`, `.git`, the `excludeDirs` and symbolic links.
 */
export async function findReportFiles(
  root: string,
  patterns: readonly RegExp[],
  options: FindReportOptions = {},
): Promise<FileStamps> {
  const excluded = new Set((options.excludeDirs ?? []).map((d) => resolve(d)));
  const found: FileStamps = new Map();
  const walk = async (abs: string, rel: string): Promise<void> => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(abs));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.PermissionDenied) return;
      throw e;
    }
    for (const entry of entries) {
      const childAbs = join(abs, entry.name);
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory) {
        if (JUNIT_EXCLUDED_DIRS.includes(entry.name) || excluded.has(childAbs)) continue;
        await walk(childAbs, childRel);
      } else if (entry.isFile && patterns.some((p) => p.test(childRel))) {
        try {
          const stat = await Deno.stat(childAbs);
          found.set(childRel, { mtimeMs: stat.mtime?.getTime() ?? 0, size: stat.size });
        } catch {
          // removed while we looked
        }
      }
    }
  };
  await walk(resolve(root), "");
  return found;
}

/**
 * Report files modified by a command: new since `before`, changed (mtime or size) since
 * `before`, or modified after `startedMs`. Sorted by path.
 */
export function changedReportFiles(
  before: FileStamps,
  after: FileStamps,
  startedMs: number,
): string[] {
  const out: string[] = [];
  for (const [path, stamp] of after) {
    const old = before.get(path);
    if (
      !old || old.mtimeMs !== stamp.mtimeMs || old.size !== stamp.size || stamp.mtimeMs > startedMs
    ) {
      out.push(path);
    }
  }
  return out.sort();
}

/**
 * Reads the JUnit files a command wrote (workspace-relative `paths`), at most
 * {@linkcode MAX_JUNIT_FILES} of at most {@linkcode MAX_JUNIT_BYTES} each; what is skipped is
 * added to `notes`.
 */
export async function readReports(
  workspace: string,
  paths: string[],
  notes: string[],
): Promise<JUnitReport[]> {
  const reports: JUnitReport[] = [];
  if (paths.length > MAX_JUNIT_FILES) {
    notes.push(`${paths.length} JUnit files found; only the first ${MAX_JUNIT_FILES} were read`);
  }
  for (const path of paths.slice(0, MAX_JUNIT_FILES)) {
    const abs = join(workspace, path);
    try {
      const { size } = await Deno.stat(abs);
      if (size > MAX_JUNIT_BYTES) {
        notes.push(`${path}: ${size} bytes is over the ${MAX_JUNIT_BYTES}-byte limit; not read`);
        continue;
      }
      reports.push({ name: path, content: await Deno.readTextFile(abs) });
    } catch (e) {
      notes.push(`${path}: cannot be read (${e instanceof Error ? e.message : e})`);
    }
  }
  return reports;
}
