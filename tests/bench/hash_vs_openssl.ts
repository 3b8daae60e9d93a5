/**
 * Paired benchmark (issue 18): the build's packaging + checksumming (list the artifacts directory,
 * SHA-256 every file with `sha256File`) against `openssl dgst -sha256` over the same files, for
 * 1 GiB as many files and as one big file; the previous implementation (an async
 * `Deno.open(...).readable` loop, 64 KiB reads) is run alongside for reference.
 * Target: ≤ 1.2× openssl, peak RSS < 128 MiB.
 *
 *   deno run -A tests/bench/hash_vs_openssl.ts [--gib 1] [--rounds 5]
 *
 * Sides run alternately (rotating order) after one warm-up round that also fills the page cache;
 * medians are printed. Aphex is timed twice: in-process (the stage's hashing phase) and as a whole
 * `deno run` child process (start-up included); peak RSS is the child's VmHWM.
 * @module
 */
import { createHash } from "node:crypto";
import { parseArgs } from "node:util";
import { sha256File } from "../../adapters/store/hash.ts";
import { listArtifactFiles } from "../../stages/build.ts";
import { alternate, median, row, vmHwmBytes } from "./_paired.ts";

const MiB = 1024 * 1024;
const SELF = new URL(import.meta.url).pathname;

/** What the build does: list the artifacts directory, hash every file. */
async function packageAndHash(dir: string): Promise<string[]> {
  const out = [];
  for (const f of await listArtifactFiles(dir)) out.push((await sha256File(f.path)).sha256);
  return out;
}

/** The previous implementation: 64 KiB async reads from `file.readable`. */
async function oldStreamLoop(dir: string): Promise<string[]> {
  const out = [];
  for (const f of await listArtifactFiles(dir)) {
    const hash = createHash("sha256");
    const file = await Deno.open(f.path);
    for await (const chunk of file.readable) hash.update(chunk);
    out.push(hash.digest("hex"));
  }
  return out;
}

async function writeFile(path: string, mib: number, block: Uint8Array): Promise<void> {
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  for (let m = 0; m < mib; m++) {
    block[0] = m & 0xff;
    await file.write(block);
  }
}

/** 1 GiB as five large/medium files plus 64 small ones, or as one file. */
async function makeData(dir: string, totalMiB: number, oneFile: boolean): Promise<void> {
  const block = new Uint8Array(MiB);
  crypto.getRandomValues(block.subarray(0, 65536));
  for (let i = 65536; i < MiB; i += 65536) block.copyWithin(i, 0, 65536);
  await Deno.mkdir(`${dir}/nested/deeper`, { recursive: true });
  if (oneFile) return await writeFile(`${dir}/big.bin`, totalMiB, block);
  const sizes = [0.4, 0.25, 0.15, 0.1].map((f) => Math.floor(totalMiB * f));
  sizes.push(totalMiB - sizes.reduce((a, b) => a + b, 0) - 1);
  for (const [i, size] of sizes.entries()) {
    await writeFile(`${dir}/${i % 2 ? "nested/" : ""}part-${i}.bin`, size, block);
  }
  for (let i = 0; i < 64; i++) {
    await Deno.writeFile(`${dir}/nested/deeper/small-${i}.txt`, block.subarray(0, 16 * 1024));
  }
}

interface ChildReport {
  ms: number;
  hwm: number;
}

async function child(mode: string, dir: string): Promise<ChildReport & { wallMs: number }> {
  const t = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SELF, "--child", mode, "--dir", dir],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const wallMs = performance.now() - t;
  if (out.code !== 0) throw new Error(`child ${mode} failed`);
  return { ...JSON.parse(new TextDecoder().decode(out.stdout)), wallMs };
}

async function openssl(dir: string): Promise<string[]> {
  const files = (await listArtifactFiles(dir)).map((f) => f.path);
  const out = await new Deno.Command("openssl", {
    args: ["dgst", "-sha256", "-r", ...files],
    stdout: "piped",
  }).output();
  if (out.code !== 0) throw new Error("openssl failed");
  return new TextDecoder().decode(out.stdout).trim().split("\n").map((l) => l.split(" ")[0]!);
}

async function compare(dir: string, label: string, rounds: number): Promise<string> {
  // Flush the freshly written data so disk writeback does not run during the measured rounds.
  await new Deno.Command("sync").output();
  const [expected, ours] = [await openssl(dir), await packageAndHash(dir)];
  if (expected.join() !== ours.join()) throw new Error("digests differ from openssl's");
  const rss: Record<string, number[]> = { build: [], old: [] };
  const wall: Record<string, number[]> = { build: [], old: [] };
  const runs = await alternate(rounds, {
    openssl: async () => void await openssl(dir),
    "aphex in-process": async () => {
      const r = await child("build", dir);
      rss.build!.push(r.hwm);
      wall.build!.push(r.wallMs);
      return r.ms;
    },
    "old stream loop in-process": async () => {
      const r = await child("old", dir);
      rss.old!.push(r.hwm);
      wall.old!.push(r.wallMs);
      return r.ms;
    },
  });
  // The first child run of each side was the warm-up round.
  for (const xs of [...Object.values(rss), ...Object.values(wall)]) xs.shift();
  const base = runs.openssl!;
  return [
    `## ${label}`,
    row("openssl dgst -sha256 (whole process)", base),
    row("aphex list + sha256File (in-process)", runs["aphex in-process"]!, base),
    row("aphex, whole deno run child process", wall.build!, base),
    row("old async stream loop (in-process)", runs["old stream loop in-process"]!, base),
    `peak RSS (VmHWM of the child, median): aphex ${
      (median(rss.build!) / MiB).toFixed(0)
    } MiB, old loop ${(median(rss.old!) / MiB).toFixed(0)} MiB (target < 128 MiB)`,
  ].join("\n");
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    gib: { type: "string", default: "1" },
    rounds: { type: "string", default: "5" },
    child: { type: "string" },
    dir: { type: "string" },
  },
});
if (values.child) {
  const t = performance.now();
  await (values.child === "build" ? packageAndHash : oldStreamLoop)(values.dir!);
  const ms = performance.now() - t;
  console.log(JSON.stringify({ ms, hwm: vmHwmBytes() }));
} else {
  const root = await Deno.makeTempDir({ prefix: "aphex-hash-bench-" });
  try {
    const totalMiB = Math.round(Number(values.gib) * 1024);
    const rounds = Number(values.rounds);
    console.log(
      `# hashing vs openssl (${new Date().toISOString()}, ${navigator.hardwareConcurrency} CPUs, ` +
        `${totalMiB} MiB, median of ${rounds} alternating rounds; target ≤ 1.2×)`,
    );
    await makeData(`${root}/many`, totalMiB, false);
    console.log(await compare(`${root}/many`, "many files (5 large + 64 small)", rounds));
    await Deno.remove(`${root}/many`, { recursive: true });
    await makeData(`${root}/one`, totalMiB, true);
    console.log(await compare(`${root}/one`, "one big file", rounds));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}
