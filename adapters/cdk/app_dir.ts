/**
 * Where a stack's CDK app lives: the nearest directory holding `cdk.json`, walking up from the
 * stack's configured `path` without leaving the workspace, and the configured stacks grouped by
 * app so each app is synthesized once.
 * @module
 */
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { usageError } from "../../models/errors.ts";

/** File that marks the root of a CDK app. */
export const CDK_JSON = "cdk.json";

function isInside(root: string, candidate: string): boolean {
  const rel = relative(root, candidate);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Finds the CDK app directory of a stack: the nearest directory containing `cdk.json`, walking up
 * from the stack's `path` (relative to the workspace; a file's search starts at its directory),
 * never above the workspace root. Returns the absolute directory.
 *
 * @throws {AphexError} exit 2 when the path leaves the workspace or no `cdk.json` is found.
 */
export async function findCdkAppDir(workspace: string, stackPath: string): Promise<string> {
  const root = resolve(workspace);
  const target = resolve(root, stackPath);
  if (!isInside(root, target)) {
    throw usageError(`stack path "${stackPath}" is outside the workspace ${root}`);
  }
  let dir = (await isDirectory(target)) ? target : dirname(target);
  const searched: string[] = [];
  while (isInside(root, dir)) {
    searched.push(dir);
    if (await isFile(join(dir, CDK_JSON))) return dir;
    if (dir === root) break;
    dir = dirname(dir);
  }
  throw usageError(
    `no ${CDK_JSON} found for stack path "${stackPath}": looked in ${
      searched.map((d) => relative(root, d) || ".").join(", ")
    } (the CDK app must be inside the repository)`,
  );
}

/** Stacks that live in one CDK app. */
export interface CdkAppStacks {
  /** Absolute CDK app directory. */
  appDir: string;
  /** Configured stack names of this app, in configured order. */
  stacks: string[];
}

/**
 * Groups configured stacks by their CDK app ({@linkcode findCdkAppDir} of each `path`), apps in
 * order of first appearance: each app is synthesized once.
 */
export async function locateCdkApps(
  workspace: string,
  stacks: readonly { name: string; path: string }[],
): Promise<CdkAppStacks[]> {
  const apps: CdkAppStacks[] = [];
  for (const stack of stacks) {
    const appDir = await findCdkAppDir(workspace, stack.path);
    const app = apps.find((a) => a.appDir === appDir);
    if (app) app.stacks.push(stack.name);
    else apps.push({ appDir, stacks: [stack.name] });
  }
  return apps;
}
