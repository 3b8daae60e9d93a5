/**
 * Stored cloud assemblies and the last-good pointer (issue 14).
 *
 * - `<sha>/assemblies/<env>/<n>/<file>`: the cloud assembly (the `n`-th CDK app of the
 *   environment) that the plan's change sets were prepared from, every file stored with its
 *   SHA-256; `<sha>/assemblies/<env>/checksums.json` lists them and is written last, so a reader
 *   that finds it finds a complete assembly (as `metadata.json` does for a build).
 * - `envs/<env>/last-good.json`: the commit whose deploy and tests last succeeded in the
 *   environment. It is written with one put: an S3 PutObject replaces an object atomically
 *   (readers see the old or the new document, never a part, with strong read-after-write
 *   consistency) and the local store writes a temporary file and renames it over the key, so no
 *   extra temp key and copy are needed.
 * @module
 */
import { dirname, join, relative, resolve } from "node:path";
import { AphexError, describeError } from "../../models/errors.ts";
import { type ArtifactStore, readText, validateKey } from "./artifact_store.ts";
import { sha256File, sha256Stream } from "./hash.ts";

/** One stored file of an assembly. */
export interface AssemblyFile {
  /** Path relative to the assembly directory. */
  path: string;
  /** Lowercase hex SHA-256. */
  sha256: string;
  /** Size in bytes. */
  size: number;
}

/** `<sha>/assemblies/<env>/checksums.json`. */
export interface StoredAssemblies {
  /** Commit. */
  commitSha: string;
  /** Environment. */
  environment: string;
  /** One entry per CDK app, in the order the environment's stacks name them. */
  assemblies: { appDir: string; files: AssemblyFile[] }[];
}

/** Key prefix of an environment's stored assemblies. */
export function assembliesPrefix(commitSha: string, environment: string): string {
  return validateKey(`${commitSha}/assemblies/${environment}`) + "/";
}

/** Key of the checksums document of an environment's stored assemblies. */
export function assembliesKey(commitSha: string, environment: string): string {
  return validateKey(`${assembliesPrefix(commitSha, environment)}checksums.json`);
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (at: string) => {
    for await (const entry of Deno.readDir(at)) {
      const path = join(at, entry.name);
      if (entry.isDirectory) await walk(path);
      else if (entry.isFile) out.push(relative(dir, path));
      // Links are never stored: an assembly is plain files written by `cdk synth`.
    }
  };
  await walk(dir);
  return out.sort();
}

/**
 * Stores the assemblies of one environment's deploy (`dirs`: assembly directory and the CDK app
 * directory relative to the workspace, per app), each file with its SHA-256, checksums last.
 */
export async function storeAssemblies(
  store: ArtifactStore,
  target: { commitSha: string; environment: string },
  dirs: readonly { dir: string; appDir: string }[],
): Promise<string> {
  const prefix = assembliesPrefix(target.commitSha, target.environment);
  const doc: StoredAssemblies = { ...target, assemblies: [] };
  for (const [n, { dir, appDir }] of dirs.entries()) {
    const files: AssemblyFile[] = [];
    for (const path of await listFiles(dir)) {
      const digest = await sha256File(join(dir, path));
      await store.put(validateKey(`${prefix}${n}/${path}`), { path: join(dir, path) });
      files.push({ path, sha256: digest.sha256, size: digest.size });
    }
    doc.assemblies.push({ appDir, files });
  }
  const key = assembliesKey(target.commitSha, target.environment);
  await store.put(key, JSON.stringify(doc, null, 2) + "\n", { contentType: "application/json" });
  return store.uriFor(key);
}

/**
 * Downloads an environment's stored assemblies into fresh directories below `destDir`, checking
 * every file's SHA-256 and size. Returns the assembly directories with their app directories.
 *
 * @throws {AphexError} exit 1 when none is stored for the commit or a file does not verify.
 */
export async function fetchAssemblies(
  store: ArtifactStore,
  target: { commitSha: string; environment: string },
  destDir: string,
): Promise<{ dir: string; appDir: string }[]> {
  const key = assembliesKey(target.commitSha, target.environment);
  if (!(await store.exists(key))) {
    throw new AphexError(
      `no stored cloud assembly of ${target.environment} at ${target.commitSha} ` +
        `(${store.uriFor(key)} not found): only commits deployed since assemblies are stored can ` +
        `be redeployed without rebuilding`,
    );
  }
  const doc = JSON.parse(await readText(store, key)) as StoredAssemblies;
  const prefix = assembliesPrefix(target.commitSha, target.environment);
  const out: { dir: string; appDir: string }[] = [];
  for (const [n, assembly] of doc.assemblies.entries()) {
    const dir = resolve(destDir, String(n));
    for (const file of assembly.files) {
      const path = resolve(dir, file.path);
      if (!path.startsWith(dir + "/")) {
        throw new AphexError(`stored assembly path ${JSON.stringify(file.path)} leaves its folder`);
      }
      await Deno.mkdir(dirname(path), { recursive: true });
      const [forHash, forFile] = (await store.get(validateKey(`${prefix}${n}/${file.path}`))).tee();
      const handle = await Deno.open(path, { write: true, createNew: true });
      const [digest] = await Promise.all([sha256Stream(forHash), forFile.pipeTo(handle.writable)]);
      if (digest.sha256 !== file.sha256 || digest.size !== file.size) {
        throw new AphexError(
          `stored assembly file ${file.path} of ${target.environment} at ${target.commitSha} ` +
            `failed verification (SHA-256 or size ` +
            `differs from checksums.json)`,
        );
      }
    }
    out.push({ dir, appDir: assembly.appDir });
  }
  return out;
}

/** `envs/<env>/last-good.json`. */
export interface LastGood {
  /** Commit whose deploy and tests succeeded. */
  sha: string;
  /** ISO time it was recorded. */
  time: string;
  /** Workflow that deployed it (null outside the pipeline). */
  workflow: string | null;
  /** CloudFormation stacks of the environment at that commit, in deploy order. */
  stacks: string[];
}

/** Key of an environment's last-good pointer. */
export function lastGoodKey(environment: string): string {
  return validateKey(`envs/${environment}/last-good.json`);
}

/** Writes the last-good pointer (one atomic put, see the module documentation). */
export async function writeLastGood(
  store: ArtifactStore,
  environment: string,
  record: LastGood,
): Promise<string> {
  const key = lastGoodKey(environment);
  await store.put(key, JSON.stringify(record, null, 2) + "\n", { contentType: "application/json" });
  return store.uriFor(key);
}

/** Reads the last-good pointer; undefined when the environment never had a good deploy. */
export async function readLastGood(
  store: ArtifactStore,
  environment: string,
): Promise<LastGood | undefined> {
  const key = lastGoodKey(environment);
  if (!(await store.exists(key))) return undefined;
  try {
    const doc = JSON.parse(await readText(store, key)) as LastGood;
    if (typeof doc.sha !== "string" || !/^[0-9a-f]{40}$/.test(doc.sha)) throw new Error("no sha");
    return doc;
  } catch (e) {
    throw new AphexError(`${store.uriFor(key)} is not a last-good record: ${describeError(e)}`);
  }
}
