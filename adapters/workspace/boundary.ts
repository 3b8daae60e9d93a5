/**
 * The workspace boundary: the build publishes only bytes that lie inside the workspace's
 * artifacts directory, and deploy writes downloaded artifacts only inside a directory it created.
 *
 * Why here, in one place: the repository (and every command the build runs) is untrusted. A
 * committed symlink (`artifacts -> /var/run/secrets/...`, `dist/sub -> /elsewhere`), a symlinked
 * parent of `build.artifacts`, or one a build command makes, must never let the build read a file
 * outside the workspace (the pod's service-account or IRSA token) into the bucket, nor let deploy
 * write outside its destination. So:
 * - every path is resolved component by component with `lstat`; a symbolic link anywhere on the way
 *   to (or inside) the artifacts directory is refused or skipped, never followed;
 * - the real path of every file read is checked, by segment, to lie inside the real artifacts
 *   directory immediately before it is read;
 * - symlinks are never published;
 * - the artifacts directory is emptied (build, before the commands run) or created fresh (deploy,
 *   before downloading), so stale files of an earlier commit and committed links never survive;
 * - path checks compare segments, never text prefixes (`..x` is a name, `..` leaves).
 * @module
 */
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { artifactsDirProblem, isSafeRelativePath, pathSegments } from "../../models/_paths.ts";
import { AphexError, usageError } from "../../models/errors.ts";

/** Whether `candidate` lies strictly inside `root` (both absolute), compared by path segment. */
export function isInsideBySegments(root: string, candidate: string): boolean {
  const rel = relative(root, candidate);
  if (rel === "" || isAbsolute(rel)) return false;
  return rel.split(sep)[0] !== "..";
}

/** The real (symlink-free) path of the workspace; usage error when it does not exist. */
async function realWorkspace(workspace: string): Promise<string> {
  try {
    return await Deno.realPath(workspace);
  } catch (e) {
    throw usageError(
      `workspace ${workspace} is not readable: ${e instanceof Error ? e.message : e}`,
    );
  }
}

/**
 * Walks `segments` below `root` with `lstat`, refusing any symbolic link or non-directory on the
 * way. Returns the path, and whether its last component exists. With `create`, missing
 * directories are created (each one checked again after creation).
 */
async function walkDirectories(
  root: string,
  segments: string[],
  options: { create: boolean; what: string },
): Promise<{ path: string; exists: boolean }> {
  let cur = root;
  for (const [i, segment] of segments.entries()) {
    cur = join(cur, segment);
    let info: Deno.FileInfo | undefined;
    try {
      info = await Deno.lstat(cur);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    if (info === undefined) {
      if (!options.create) return { path: join(cur, ...segments.slice(i + 1)), exists: false };
      await Deno.mkdir(cur).catch((e) => {
        if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      });
      info = await Deno.lstat(cur);
    }
    const shown = segments.slice(0, i + 1).join("/");
    if (info.isSymlink) {
      throw new AphexError(
        `${options.what}: ${shown} is a symbolic link; links are never followed (workspace boundary)`,
      );
    }
    if (!info.isDirectory) throw new AphexError(`${options.what}: ${shown} is not a directory`);
  }
  return { path: cur, exists: true };
}

/** Options of {@linkcode resolveArtifactsDir}. */
export interface ArtifactsDirOptions {
  /** Local store root: the artifacts directory must neither contain it nor lie inside it. */
  storeDir?: string;
}

/**
 * Validates `build.artifacts` (segment rules, see `models/_paths.ts`) and resolves it inside the
 * real workspace without following any link. Usage error (exit 2) for a bad setting; AphexError
 * for a symlink on the way. `exists` is false when the directory is missing.
 */
export async function resolveArtifactsDir(
  workspace: string,
  artifacts: string,
  options: ArtifactsDirOptions = {},
): Promise<{ path: string; exists: boolean }> {
  const segments = checkArtifactsSetting(workspace, artifacts, options);
  const root = await realWorkspace(workspace);
  return await walkDirectories(root, segments, {
    create: false,
    what: `build.artifacts ${artifacts}`,
  });
}

/** Segment rules of `build.artifacts` and no overlap with the local store; usage error otherwise. */
function checkArtifactsSetting(
  workspace: string,
  artifacts: string,
  options: ArtifactsDirOptions,
): string[] {
  const problem = artifactsDirProblem(artifacts);
  if (problem) throw usageError(`build.artifacts ${JSON.stringify(artifacts)} ${problem}`);
  const segments = pathSegments(artifacts);
  if (options.storeDir) {
    const store = resolve(options.storeDir);
    const dir = resolve(workspace, ...segments);
    if (store === dir || isInsideBySegments(dir, store) || isInsideBySegments(store, dir)) {
      throw usageError(
        `build.artifacts ${artifacts} overlaps the local artifact store ${options.storeDir}`,
      );
    }
  }
  return segments;
}

/**
 * Empties the artifacts directory, or creates it: afterwards it is an empty real directory inside
 * the workspace. The build calls this before its commands run (so nothing of an earlier commit or
 * of the checkout is published), deploy before downloading (so it writes only into a directory it
 * created). A symlink at the directory itself is removed (never followed); one on a parent is
 * refused.
 */
export async function freshArtifactsDir(
  workspace: string,
  artifacts: string,
  options: ArtifactsDirOptions = {},
): Promise<string> {
  const segments = checkArtifactsSetting(workspace, artifacts, options);
  const root = await realWorkspace(workspace);
  const parent = await walkDirectories(root, segments.slice(0, -1), {
    create: true,
    what: `build.artifacts ${artifacts}`,
  });
  const dir = join(parent.path, segments[segments.length - 1]!);
  // Deno.remove does not follow links: a symlink is removed itself, a directory recursively.
  await Deno.remove(dir, { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
  await Deno.mkdir(dir);
  const info = await Deno.lstat(dir);
  if (info.isSymlink || !info.isDirectory) {
    throw new AphexError(`artifacts directory ${artifacts} changed while being created`);
  }
  return dir;
}

/** One file to publish. */
export interface WorkspaceFile {
  /** Absolute real path. */
  path: string;
  /** Path relative to the artifacts directory, `/`-separated. */
  relPath: string;
}

/**
 * Lists the regular files under `dir` (a directory returned by {@linkcode resolveArtifactsDir}),
 * sorted by relative path. Symbolic links and special files are skipped (reported through
 * `warn`), never followed; each file's real path is checked to lie inside the real `dir`.
 */
export async function listPublishableFiles(
  dir: string,
  warn: (message: string) => void = () => {},
): Promise<WorkspaceFile[]> {
  const realDir = await Deno.realPath(dir);
  const top = await Deno.lstat(dir);
  if (top.isSymlink) throw new AphexError(`${dir} is a symbolic link (workspace boundary)`);
  const out: WorkspaceFile[] = [];
  const walk = async (abs: string, rel: string): Promise<void> => {
    for await (const entry of Deno.readDir(abs)) {
      const childAbs = join(abs, entry.name);
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      // readDir reports the entry itself (d_type), but re-check with lstat: never trust a type
      // the tree could change.
      const info = await Deno.lstat(childAbs);
      if (info.isSymlink) warn(`skipping symbolic link ${childRel} (symlinks are never published)`);
      else if (info.isDirectory) await walk(childAbs, childRel);
      else if (info.isFile) {
        await assertReadableInside(realDir, childAbs, childRel);
        out.push({ path: childAbs, relPath: childRel });
      } else warn(`skipping special file ${childRel}`);
    }
  };
  await walk(realDir, "");
  return out.sort((a, b) => (a.relPath < b.relPath ? -1 : a.relPath > b.relPath ? 1 : 0));
}

/**
 * Throws unless `path` is a regular file (not a link) whose real path lies inside `realDir`.
 * Called when listing and again right before each file is read for upload.
 */
export async function assertReadableInside(
  realDir: string,
  path: string,
  shown: string,
): Promise<void> {
  const info = await Deno.lstat(path);
  if (info.isSymlink || !info.isFile) {
    throw new AphexError(`artifact ${shown} is no longer a regular file (workspace boundary)`);
  }
  const real = await Deno.realPath(path);
  if (!isInsideBySegments(realDir, real)) {
    throw new AphexError(`artifact ${shown} resolves outside the artifacts directory`);
  }
}

/**
 * The path to write the artifact `rel` at inside `destDir` (a directory from
 * {@linkcode freshArtifactsDir}), creating parent directories. Refuses unsafe relative paths and
 * any symlink or non-directory on the way: nothing is ever written through a link.
 */
export async function prepareDownloadTarget(destDir: string, rel: string): Promise<string> {
  if (!isSafeRelativePath(rel)) throw new AphexError(`unsafe artifact path ${JSON.stringify(rel)}`);
  const segments = rel.split("/");
  const parent = await walkDirectories(destDir, segments.slice(0, -1), {
    create: true,
    what: `artifact ${rel}`,
  });
  const target = join(parent.path, segments[segments.length - 1]!);
  try {
    const info = await Deno.lstat(target);
    if (info.isSymlink || info.isDirectory) {
      throw new AphexError(
        `artifact ${rel}: the target is a ${info.isSymlink ? "link" : "directory"}`,
      );
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (dirname(target) !== parent.path) throw new AphexError(`artifact ${rel} leaves its directory`);
  return target;
}

/**
 * Checks that `dir` (the stage's outputs directory) exists or can be created and is writable, by
 * writing and removing a probe file. Stages call it before their first side effect, so a stage can
 * never publish to the store and then fail to record its own outputs.
 */
export async function assertWritableDir(dir: string, what = "outputs directory"): Promise<void> {
  const probe = join(dir, `.aphex-probe-${crypto.randomUUID()}`);
  try {
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeFile(probe, new Uint8Array(), { createNew: true });
    await Deno.remove(probe);
  } catch (e) {
    throw usageError(`${what} ${dir} is not writable: ${e instanceof Error ? e.message : e}`);
  }
}
