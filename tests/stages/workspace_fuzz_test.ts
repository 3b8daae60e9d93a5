/**
 * Issue 13, workspace boundary, fuzzed: random trees of files, directories and symbolic links
 * (pointing inside and outside the workspace, relative, absolute, dangling) as the artifacts
 * directory of a build and as the pre-existing destination of a deploy. Proves that no byte from
 * outside the workspace is ever read for publishing and that no download writes outside its
 * destination.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import fc from "fast-check";
import { metadataKey } from "../../adapters/store/artifact_store.ts";
import { encodeBuildMetadata } from "../../adapters/store/artifacts.ts";
import { LocalArtifactStore } from "../../adapters/store/local_store.ts";
import { sha256File } from "../../adapters/store/hash.ts";
import {
  assertReadableInside,
  freshArtifactsDir,
  listPublishableFiles,
  resolveArtifactsDir,
} from "../../adapters/workspace/boundary.ts";
import { downloadArtifacts } from "../../adapters/store/download.ts";

const MARK = "OUTSIDE-BYTES-";
const NAMES = ["a", "b", "..c", "d d", ".e"] as const;
const TARGETS = [
  "outside-file",
  "outside-dir",
  "outside-root",
  "inside-file",
  "inside-dir",
  "dotdot",
  "absolute-root",
  "dangling",
  "self",
] as const;

type Entry =
  | { path: string[]; kind: "file" }
  | { path: string[]; kind: "dir" }
  | { path: string[]; kind: "link"; target: (typeof TARGETS)[number] };

const entry: fc.Arbitrary<Entry> = fc.record({
  path: fc.array(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 4 }),
  kind: fc.constantFrom("file", "dir", "link", "link"),
  target: fc.constantFrom(...TARGETS),
}).map((e) => (e.kind === "link" ? e : { path: e.path, kind: e.kind }) as Entry);

/** Whether every parent of `path` under `base` is a real directory (no link), lstat by lstat. */
function realParents(base: string, path: string[]): boolean {
  let cur = base;
  for (const segment of path.slice(0, -1)) {
    cur = join(cur, segment);
    try {
      const info = Deno.lstatSync(cur);
      if (info.isSymlink || !info.isDirectory) return false;
    } catch {
      return false;
    }
  }
  try {
    Deno.lstatSync(join(base, ...path));
    return false; // already exists
  } catch {
    return true;
  }
}

function linkTarget(target: Entry & { kind: "link" }, ctx: { root: string; dir: string }) {
  switch (target.target) {
    case "outside-file":
      return join(ctx.root, "outside", "secret");
    case "outside-dir":
      return join(ctx.root, "outside", "sub");
    case "outside-root":
      return join(ctx.root, "outside");
    case "inside-file":
      return join(ctx.dir, "a");
    case "inside-dir":
      return ctx.dir;
    case "dotdot":
      return "../".repeat(target.path.length + 2) + "outside/secret";
    case "absolute-root":
      return "/";
    case "dangling":
      return join(ctx.root, "nowhere");
    case "self":
      return target.path[target.path.length - 1]!;
  }
}

/** Builds the tree; returns the relative paths of the regular files reachable without links. */
function buildTree(entries: Entry[], ctx: { root: string; dir: string }): string[] {
  const files: string[] = [];
  for (const [i, e] of entries.entries()) {
    if (!realParents(ctx.dir, e.path)) continue;
    for (let k = 1; k < e.path.length; k++) {
      try {
        Deno.mkdirSync(join(ctx.dir, ...e.path.slice(0, k)));
      } catch { /* exists */ }
    }
    if (!realParents(ctx.dir, e.path)) continue;
    const full = join(ctx.dir, ...e.path);
    if (e.kind === "file") {
      Deno.writeTextFileSync(full, `inside ${i}\n`);
      files.push(e.path.join("/"));
    } else if (e.kind === "dir") Deno.mkdirSync(full);
    else Deno.symlinkSync(linkTarget(e, ctx), full);
  }
  return files.sort();
}

/** Every path and file content under `dir`, without following links. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (abs: string, rel: string) => {
    for (const e of [...Deno.readDirSync(abs)].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(abs, e.name);
      const r = `${rel}/${e.name}`;
      const info = Deno.lstatSync(p);
      if (info.isSymlink) out.push(`${r} -> ${Deno.readLinkSync(p)}`);
      else if (info.isDirectory) {
        out.push(`${r}/`);
        walk(p, r);
      } else out.push(`${r}: ${Deno.readTextFileSync(p)}`);
    }
  };
  walk(dir, "");
  return out;
}

async function makeOutside(root: string): Promise<void> {
  await Deno.mkdir(join(root, "outside", "sub"), { recursive: true });
  await Deno.writeTextFile(join(root, "outside", "secret"), `${MARK}token\n`);
  await Deno.writeTextFile(join(root, "outside", "sub", "a"), `${MARK}sub-a\n`);
  await Deno.writeTextFile(join(root, "outside", "a"), `${MARK}a\n`);
}

Deno.test("fuzz: publishing a random tree never reads a byte from outside the workspace", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(entry, { maxLength: 14 }),
      fc.constantFrom("plain", "dir-is-link", "parent-is-link"),
      async (entries, variant) => {
        const root = await Deno.makeTempDir({ prefix: "aphex-fuzz-" });
        try {
          await makeOutside(root);
          const ws = join(root, "ws");
          const settings = variant === "parent-is-link" ? "p/dist" : "dist";
          await Deno.mkdir(ws);
          const dir = join(ws, "dist");
          await Deno.mkdir(dir);
          const expected = buildTree(entries, { root, dir });
          if (variant === "dir-is-link") {
            await Deno.rename(dir, join(ws, "real-dist"));
            await Deno.symlink(join(root, "outside"), dir);
          } else if (variant === "parent-is-link") {
            await Deno.symlink(join(root, "outside"), join(ws, "p"));
          }
          const read: string[] = [];
          const published: string[] = [];
          try {
            const found = await resolveArtifactsDir(ws, settings);
            if (found.exists) {
              const realDir = await Deno.realPath(found.path);
              for (const f of await listPublishableFiles(found.path)) {
                // What build does before hashing and before uploading.
                await assertReadableInside(realDir, f.path, f.relPath);
                await sha256File(f.path);
                read.push(await Deno.readTextFile(f.path));
                published.push(f.relPath);
              }
            }
          } catch (e) {
            // Refusing is allowed (a linked directory or parent); reading outside is not.
            assert.notEqual(variant, "plain", String(e));
          }
          for (const text of read) assert.ok(!text.includes(MARK), `read outside bytes: ${text}`);
          if (variant === "plain") assert.deepEqual(published, expected);
          else assert.deepEqual(published, []);
        } finally {
          await Deno.remove(root, { recursive: true });
        }
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("fuzz: deploying into a random pre-existing tree never writes outside the destination", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(entry, { maxLength: 12 }),
      fc.uniqueArray(fc.array(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 3 }), {
        minLength: 1,
        maxLength: 6,
        selector: (p) => p.join("/"),
      }),
      async (entries, artifactPaths) => {
        const root = await Deno.makeTempDir({ prefix: "aphex-fuzz-" });
        try {
          await makeOutside(root);
          const ws = join(root, "ws");
          const dir = join(ws, "dist");
          await Deno.mkdir(dir, { recursive: true });
          buildTree(entries, { root, dir });
          const before = snapshot(join(root, "outside"));
          // A build's artifacts: no path may be a prefix directory of another (files only).
          const paths = artifactPaths.map((p) => p.join("/")).filter((p, _, all) =>
            !all.some((q) => q.startsWith(`${p}/`))
          );
          const sha = "b".repeat(40);
          const store = new LocalArtifactStore(join(root, "store"));
          const metas = [];
          for (const p of paths) {
            const body = new TextEncoder().encode(`artifact ${p}\n`);
            await store.put(`${sha}/artifacts/${p}`, body);
            const file = join(root, "tmp-hash");
            await Deno.writeFile(file, body);
            const d = await sha256File(file);
            metas.push({
              commitSha: sha,
              timestamp: new Date(0),
              s3Path: store.uriFor(`${sha}/artifacts/${p}`),
              artifactType: "file",
              sizeBytes: d.size,
              checksum: d.sha256,
            });
          }
          await store.put(
            metadataKey(sha),
            encodeBuildMetadata({
              commitSha: sha,
              artifacts: metas,
              build: {
                success: true,
                exitCode: 0,
                stdout: "",
                stderr: "",
                artifacts: paths,
                duration: 0,
              },
            }),
          );
          // deploy's order: a fresh directory, then the download into it.
          const dest = await freshArtifactsDir(ws, "dist");
          const result = await downloadArtifacts(store, sha, dest);
          assert.deepEqual(snapshot(join(root, "outside")), before, "outside changed");
          assert.deepEqual(result.problems, []);
          for (const p of paths) {
            assert.equal(await Deno.readTextFile(join(dest, p)), `artifact ${p}\n`);
          }
          const all = snapshot(dest).filter((l) => !l.endsWith("/"));
          assert.equal(all.length, paths.length, all.join("\n"));
        } finally {
          await Deno.remove(root, { recursive: true });
        }
      },
    ),
    { numRuns: 40 },
  );
});
