import assert from "node:assert/strict";
import { join } from "node:path";
import { captureContext } from "../command/contract.ts";
import {
  command as generate,
  planManifests,
  type PlannedFile,
  type WriteFs,
  writeManifests,
} from "../cli/generate.ts";
import { command as graph } from "../cli/graph.ts";
import { main } from "../cli/main.ts";
import { execute } from "../command/contract.ts";
import { AphexError } from "../models/errors.ts";
import { loadConfigFile } from "../command/config_file.ts";
import { generateManifests } from "../templates/generate.ts";
import { rawConfig, rawEnvironment } from "./generate_table.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const SNAPSHOTS = join(ROOT, "tests", "snapshots");
const UPDATE = Deno.env.get("APHEX_UPDATE_SNAPSHOTS") === "1";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "aphex-generate-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function run(args: string[], cwd: string) {
  const ctx = captureContext(args, { cwd });
  const code = await execute(generate, ctx);
  return { code, out: ctx.out.join(""), err: ctx.err.join("") };
}

async function snapshot(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for await (const e of Deno.readDir(dir)) {
    files[e.name] = await Deno.readTextFile(join(dir, e.name));
  }
  return files;
}

Deno.test("snapshot: the committed manifests/ match the example configuration", async () => {
  const config = await loadConfigFile("aphex-config.yaml", { cwd: ROOT });
  for (const f of generateManifests(config)) {
    const committed = await Deno.readTextFile(join(ROOT, "manifests", f.file)).catch(() => null);
    assert.equal(
      committed,
      f.text,
      `manifests/${f.file} is out of date with aphex-config.yaml: run 'deno task generate' and commit the result`,
    );
  }
});

Deno.test("snapshot: aphex graph of the example configuration (mermaid, dot, text)", async () => {
  for (const [format, ext] of [["mermaid", "mmd"], ["dot", "dot"], ["text", "txt"]]) {
    const ctx = captureContext(["--format", format!], { cwd: ROOT });
    assert.equal(await execute(graph, ctx), 0);
    const file = join(SNAPSHOTS, `example-graph.${ext}`);
    if (UPDATE) await Deno.writeTextFile(file, ctx.out.join(""));
    assert.equal(
      ctx.out.join(""),
      await Deno.readTextFile(file),
      `${file} differs; rerun with APHEX_UPDATE_SNAPSHOTS=1 if the change is intended`,
    );
  }
});

Deno.test("graph: unknown format is a usage error", async () => {
  const ctx = captureContext(["--format", "svg"], { cwd: ROOT });
  assert.equal(await execute(graph, ctx), 2);
  assert.match(ctx.err.join(""), /--format must be one of mermaid, dot, text/);
});

Deno.test("generate writes every file, is idempotent, and --check reports up to date", async () => {
  await withTempDir(async (dir) => {
    await Deno.copyFile(join(ROOT, "aphex-config.yaml"), join(dir, "aphex-config.yaml"));
    const first = await run(["--out", "out"], dir);
    assert.equal(first.code, 0, first.err);
    for (const f of ["workflow-template.yaml", "event-source.yaml", "sensor.yaml", "rbac.yaml"]) {
      assert.match(first.out, new RegExp(`wrote +out/${f} \\(\\d+ bytes, \\d+ documents?\\)`));
    }
    const files = await snapshot(join(dir, "out"));
    assert.deepEqual(Object.keys(files).sort(), [
      "event-source.yaml",
      "rbac.yaml",
      "sensor.yaml",
      "workflow-template.yaml",
    ]);
    const second = await run(["--out", "out", "--json"], dir);
    assert.equal(second.code, 0);
    const json = JSON.parse(second.out);
    assert.deepEqual(json.files.map((f: { status: string }) => f.status), [
      "unchanged",
      "unchanged",
      "unchanged",
      "unchanged",
    ]);
    assert.deepEqual(await snapshot(join(dir, "out")), files);
    const check = await run(["--out", "out", "--check"], dir);
    assert.equal(check.code, 0, check.err);
    assert.match(check.out, /up to date/);
  });
});

Deno.test("--check on drift exits 1 with a unified diff and writes nothing", async () => {
  await withTempDir(async (dir) => {
    await Deno.copyFile(join(ROOT, "aphex-config.yaml"), join(dir, "aphex-config.yaml"));
    assert.equal((await run(["--out", "out"], dir)).code, 0);
    const target = join(dir, "out", "sensor.yaml");
    const edited = (await Deno.readTextFile(target)).replace(
      "serviceAccountName: webshop-sensor",
      "serviceAccountName: hand-edited",
    );
    await Deno.writeTextFile(target, edited);
    await Deno.remove(join(dir, "out", "rbac.yaml"));
    const before = await snapshot(join(dir, "out"));
    const check = await run(["--out", "out", "--check"], dir);
    assert.equal(check.code, 1);
    assert.match(check.out, /^--- a\/out\/sensor\.yaml/m);
    assert.match(check.out, /^\+\+\+ b\/out\/sensor\.yaml/m);
    assert.match(check.out, /^- {4}serviceAccountName: hand-edited$/m);
    assert.match(check.out, /^\+ {4}serviceAccountName: webshop-sensor$/m);
    assert.match(check.out, /^\+\+\+ b\/out\/rbac\.yaml/m);
    assert.match(
      check.err,
      /2 files out of date \(sensor\.yaml differs, rbac\.yaml missing\).*aphex generate/,
    );
    assert.deepEqual(await snapshot(join(dir, "out")), before);
    const json = await run(["--out", "out", "--check", "--json"], dir);
    assert.equal(json.code, 1);
    assert.equal(JSON.parse(json.out).upToDate, false);
  });
});

Deno.test("files no longer generated are removed only when they carry the generator's header", async () => {
  await withTempDir(async (dir) => {
    await Deno.copyFile(join(ROOT, "aphex-config.yaml"), join(dir, "aphex-config.yaml"));
    assert.equal((await run(["--out", "out"], dir)).code, 0);
    await Deno.writeTextFile(join(dir, "out", "notes.yaml"), "hand: written\n");
    const raw = rawConfig([rawEnvironment("dev")], { github: false });
    await Deno.writeTextFile(join(dir, "local.yaml"), JSON.stringify(raw));
    const res = await run(["--config", "local.yaml", "--out", "out"], dir);
    assert.equal(res.code, 0, res.err);
    assert.match(res.out, /removed +out\/event-source\.yaml/);
    assert.deepEqual(Object.keys(await snapshot(join(dir, "out"))).sort(), [
      "notes.yaml",
      "rbac.yaml",
      "workflow-template.yaml",
    ]);
  });
});

Deno.test("configuration errors exit 2 and leave previous files untouched", async () => {
  await withTempDir(async (dir) => {
    await Deno.copyFile(join(ROOT, "aphex-config.yaml"), join(dir, "aphex-config.yaml"));
    assert.equal((await run(["--out", "out"], dir)).code, 0);
    const before = await snapshot(join(dir, "out"));
    await Deno.writeTextFile(
      join(dir, "bad.yaml"),
      "version: '1.0'\nbuild: {}\nenvironments: []\n",
    );
    const bad = await run(["--config", "bad.yaml", "--out", "out"], dir);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /bad\.yaml/);
    const missing = await run(["--config", "nope.yaml", "--out", "out"], dir);
    assert.equal(missing.code, 2);
    // A configuration whose WorkflowTemplate would exceed 1 MiB.
    const envs = Array.from(
      { length: 3000 },
      (_, i) => rawEnvironment(`e${String(i).padStart(39, "0")}`, { stacks: 1 }),
    );
    await Deno.writeTextFile(join(dir, "huge.yaml"), JSON.stringify(rawConfig(envs)));
    const huge = await run(["--config", "huge.yaml", "--out", "out"], dir);
    assert.equal(huge.code, 2);
    assert.match(huge.err, /over the 1048576-byte limit/);
    assert.deepEqual(await snapshot(join(dir, "out")), before);
  });
});

Deno.test("atomicity: a failed write leaves every previous file untouched and no temp files", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(join(dir, "a.yaml"), "old a\n");
    await Deno.writeTextFile(join(dir, "b.yaml"), "old b\n");
    const plan: PlannedFile[] = [
      { file: "a.yaml", status: "updated", before: "old a\n", after: "new a\n", documents: 1 },
      { file: "b.yaml", status: "updated", before: "old b\n", after: "new b\n", documents: 1 },
    ];
    let writes = 0;
    const failing: WriteFs = {
      makeTempFile: (o) => Deno.makeTempFile(o),
      writeTextFile: (
        p,
        t,
      ) => (++writes === 2 ? Promise.reject(new Error("disk full")) : Deno.writeTextFile(p, t)),
      rename: (a, b) => Deno.rename(a, b),
      remove: (p) => Deno.remove(p),
      mkdir: (p) => Deno.mkdir(p, { recursive: true }),
    };
    await assert.rejects(
      writeManifests(dir, plan, { fs: failing }),
      (e: unknown) =>
        e instanceof AphexError && /disk full.*previous files left unchanged/.test(e.message),
    );
    assert.deepEqual(await snapshot(dir), { "a.yaml": "old a\n", "b.yaml": "old b\n" });
    await writeManifests(dir, plan);
    assert.deepEqual(await snapshot(dir), { "a.yaml": "new a\n", "b.yaml": "new b\n" });
  });
});

Deno.test("planManifests marks created, updated and unchanged files", async () => {
  await withTempDir(async (dir) => {
    const config = await loadConfigFile("aphex-config.yaml", { cwd: ROOT });
    const files = generateManifests(config);
    await Deno.writeTextFile(
      join(dir, "rbac.yaml"),
      files.find((f) => f.file === "rbac.yaml")!.text,
    );
    await Deno.writeTextFile(join(dir, "sensor.yaml"), "old\n");
    const plan = await planManifests(dir, files);
    assert.deepEqual(plan.map((p) => [p.file, p.status]), [
      ["workflow-template.yaml", "created"],
      ["event-source.yaml", "created"],
      ["sensor.yaml", "updated"],
      ["rbac.yaml", "unchanged"],
    ]);
  });
});

Deno.test("aphex generate and aphex graph are dispatched by the CLI", async () => {
  for (const name of ["generate", "graph"]) {
    const ctx = captureContext([name, "--help"], { cwd: ROOT });
    assert.equal(await main(ctx), 0);
    assert.match(ctx.out.join(""), new RegExp(`^Usage: aphex ${name} \\[options\\]`));
  }
});
