/**
 * The artifact store in a local directory (`.aphex/store/`, local runs and tests): one file per
 * key, written atomically (temp file + rename); no per-object checksum is kept.
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { AphexError } from "../../models/errors.ts";
import {
  type ArtifactBody,
  type ArtifactStore,
  type ObjectInfo,
  type PutOptions,
  validateKey,
} from "./artifact_store.ts";

/** A store in a local directory; writes are atomic (temp file + rename). */
export class LocalArtifactStore implements ArtifactStore {
  /** Absolute root directory. */
  readonly root: string;

  /** Opens (lazily creates) a store rooted at `root`. */
  constructor(root: string) {
    this.root = resolve(root);
  }

  /** The root directory. */
  get location(): string {
    return this.root;
  }

  /** `file://` URI of a key. */
  uriFor(key: string): string {
    return `file://${join(this.root, validateKey(key))}`;
  }

  #path(key: string): string {
    return join(this.root, validateKey(key));
  }

  /** Stores content atomically. */
  async put(key: string, body: ArtifactBody, options: PutOptions = {}): Promise<void> {
    const target = this.#path(key);
    const tmpDir = join(this.root, ".tmp");
    await Deno.mkdir(tmpDir, { recursive: true });
    await Deno.mkdir(dirname(target), { recursive: true });
    const tmp = join(tmpDir, crypto.randomUUID());
    try {
      if (typeof body === "string" || body instanceof Uint8Array) {
        await Deno.writeFile(tmp, typeof body === "string" ? new TextEncoder().encode(body) : body);
      } else {
        await Deno.copyFile(body.path, tmp);
      }
      await Deno.rename(tmp, target);
    } catch (e) {
      await Deno.remove(tmp).catch(() => {});
      throw new AphexError(
        `cannot store ${this.uriFor(key)}: ${e instanceof Error ? e.message : e}`,
      );
    }
    if (options.onProgress) options.onProgress((await Deno.stat(target)).size);
  }

  /** Streams a stored file. */
  async get(key: string): Promise<ReadableStream<Uint8Array>> {
    try {
      return (await Deno.open(this.#path(key), { read: true })).readable;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) throw new AphexError(`${this.uriFor(key)} not found`);
      throw e;
    }
  }

  /** Size of a stored file (the local store keeps no per-object checksum). */
  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const stat = await Deno.stat(this.#path(key));
      return stat.isFile ? { key, size: stat.size } : undefined;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    }
  }

  /** Whether a file exists under the key. */
  async exists(key: string): Promise<boolean> {
    return (await this.head(key)) !== undefined;
  }

  /** Lists stored files under a prefix. */
  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    const walk = async (dir: string, rel: string): Promise<void> => {
      let entries;
      try {
        entries = await Array.fromAsync(Deno.readDir(dir));
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return;
        throw e;
      }
      for (const entry of entries) {
        const key = rel ? `${rel}/${entry.name}` : entry.name;
        if (!rel && entry.name === ".tmp") continue;
        if (entry.isDirectory) {
          if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) {
            await walk(join(dir, entry.name), key);
          }
        } else if (entry.isFile && key.startsWith(prefix)) {
          out.push({ key, size: (await Deno.stat(join(dir, entry.name))).size });
        }
      }
    };
    await walk(this.root, "");
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Deletes a stored file. */
  async delete(key: string): Promise<void> {
    await Deno.remove(this.#path(key)).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  }

  /** Nothing to release. */
  close(): void {}
}
