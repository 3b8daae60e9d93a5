/**
 * Pure path rules of the workspace boundary (see `adapters/workspace/boundary.ts` for the filesystem side).
 * Paths are compared segment by segment, never by text prefix: `..dist` is an ordinary name, only
 * a segment that is exactly `..` leaves a directory.
 * @module
 */

/** Directory of the local artifact store and other Aphex state inside a workspace. */
export const APHEX_STATE_DIR = ".aphex";

/** The segments of a `/`-separated relative path, without empty and `.` segments. */
export function pathSegments(rel: string): string[] {
  return rel.split("/").filter((s) => s !== "" && s !== ".");
}

/**
 * Why `build.artifacts` is unacceptable, or undefined when it is fine. It must name a
 * sub-directory of the repository: not the root (`.` would publish `.git/**` and the store's own
 * earlier output, nesting deeper on every rebuild), not `.git`, not the local store, and never
 * leave the repository.
 */
export function artifactsDirProblem(value: string): string | undefined {
  if (value.includes("\u0000") || value.includes("\\")) {
    return "must be a /-separated relative path (no backslashes or NUL)";
  }
  if (value.startsWith("/")) return "must be relative to the repository root (no leading '/')";
  const segments = pathSegments(value);
  if (segments.includes("..")) {
    return "must not contain '..' segments (it would leave the repository)";
  }
  if (segments.length === 0) {
    return "must be a sub-directory of the repository, not its root ('.' would publish .git and earlier artifacts)";
  }
  if (segments.includes(".git")) return "must not be or lie inside .git";
  if (segments[0] === APHEX_STATE_DIR) {
    return `must not lie inside ${APHEX_STATE_DIR}/ (the local artifact store)`;
  }
  return undefined;
}

/**
 * Whether a `/`-separated relative artifact path stays inside its directory: no empty, `.` or
 * `..` segments, no backslash or NUL. `..x` is a valid name.
 */
export function isSafeRelativePath(rel: string): boolean {
  if (rel.length === 0 || rel.includes("\u0000") || rel.includes("\\") || rel.startsWith("/")) {
    return false;
  }
  return rel.split("/").every((s) => s !== "" && s !== "." && s !== "..");
}
