/**
 * Paired benchmark (issue 18): uploading 1 GiB of artifacts to a local s3rver, the store's
 * `put({ path })` (bounded part-buffer pool) against the previous implementation reproduced here
 * as the baseline (`@aws-sdk/lib-storage` `Upload` fed by `fs.createReadStream`, 1 MiB reads,
 * 8 MiB parts, 4 parts in flight). Both sides upload two files at a time, as `runBuild` does.
 * Target: peak RSS < 160 MiB, throughput no worse.
 *
 *   deno run -A tests/bench/upload_memory.ts [--gib 1] [--rounds 3]
 *
 * Each upload runs in its own child process (peak RSS is its VmHWM); the sides alternate and
 * medians are printed. s3rver (the same for both sides) runs in a separate process and is the
 * throughput bottleneck on a 2-core machine.
 * @module
 */
import { createReadStream } from "node:fs";
import { parseArgs } from "node:util";
import { Upload } from "@aws-sdk/lib-storage";
import { createS3Client } from "../../adapters/aws/clients.ts";
import { S3ArtifactStore } from "../../adapters/store/s3_store.ts";
import { listArtifactFiles } from "../../stages/build.ts";
import { startLocalS3 } from "../stages/_s3rver.ts";
import { alternate, median, row, vmHwmBytes } from "./_paired.ts";

const MiB = 1024 * 1024;
const SELF = new URL(import.meta.url).pathname;
const PART = 8 * MiB;
const QUEUE = 4;

async function makeData(dir: string, totalMiB: number, files: number): Promise<void> {
  const block = new Uint8Array(MiB);
  crypto.getRandomValues(block.subarray(0, 65536));
  for (let i = 65536; i < MiB; i += 65536) block.copyWithin(i, 0, 65536);
  await Deno.mkdir(dir, { recursive: true });
  for (let f = 0; f < files; f++) {
    using file = await Deno.open(`${dir}/part-${f}.bin`, { write: true, create: true });
    for (let m = 0; m < totalMiB / files; m++) {
      block[0] = m & 0xff;
      await file.write(block);
    }
  }
}

/** Child: uploads every file of `dir`, two at a time; prints ms and VmHWM. */
async function childUpload(mode: string, dir: string, aws: string, bucket: string) {
  const client = await createS3Client(JSON.parse(aws));
  const store = new S3ArtifactStore(client, bucket, { partSize: PART, queueSize: QUEUE });
  const files = await listArtifactFiles(dir);
  const t = performance.now();
  const queue = [...files];
  const put = async (path: string, key: string) => {
    if (mode === "new") return await store.put(key, { path }, { sha256: "0".repeat(64) });
    const stream = createReadStream(path, { highWaterMark: MiB });
    try {
      await new Upload({
        client,
        partSize: PART,
        queueSize: QUEUE,
        leavePartsOnError: false,
        params: { Bucket: bucket, Key: key, Body: stream, Metadata: { sha256: "0".repeat(64) } },
      }).done();
    } finally {
      stream.destroy();
    }
  };
  await Promise.all([0, 1].map(async () => {
    for (let f = queue.shift(); f; f = queue.shift()) await put(f.path, `${mode}/${f.relPath}`);
  }));
  const ms = performance.now() - t;
  store.close();
  console.log(JSON.stringify({ ms, hwm: vmHwmBytes() }));
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    gib: { type: "string", default: "1" },
    rounds: { type: "string", default: "3" },
    child: { type: "string" },
    dir: { type: "string" },
    aws: { type: "string" },
    bucket: { type: "string" },
  },
});
if (values.child) {
  await childUpload(values.child, values.dir!, values.aws!, values.bucket!);
} else {
  const root = await Deno.makeTempDir({ prefix: "aphex-upload-bench-" });
  const s3 = await startLocalS3();
  try {
    const totalMiB = Math.round(Number(values.gib) * 1024);
    const rounds = Number(values.rounds);
    console.log(
      `# upload to s3rver (${new Date().toISOString()}, ${navigator.hardwareConcurrency} CPUs, ` +
        `${totalMiB} MiB, median of ${rounds} alternating rounds; target peak RSS < 160 MiB)`,
    );
    for (const files of [1, 4]) {
      const dir = `${root}/data-${files}`;
      await makeData(dir, totalMiB, files);
      const rss: Record<string, number[]> = { old: [], new: [] };
      const side = (mode: "old" | "new") => async () => {
        const out = await new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            SELF,
            "--child",
            mode,
            "--dir",
            dir,
            "--aws",
            JSON.stringify(s3.aws),
            "--bucket",
            s3.bucket,
          ],
          stdout: "piped",
          stderr: "inherit",
        }).output();
        if (out.code !== 0) throw new Error(`upload child ${mode} failed`);
        const r = JSON.parse(new TextDecoder().decode(out.stdout)) as { ms: number; hwm: number };
        rss[mode]!.push(r.hwm);
        return r.ms;
      };
      const runs = await alternate(rounds, {
        "lib-storage stream (previous)": side("old"),
        "store.put, part-buffer pool": side("new"),
      });
      for (const xs of Object.values(rss)) xs.shift(); // warm-up round
      const base = runs["lib-storage stream (previous)"]!;
      const mine = runs["store.put, part-buffer pool"]!;
      const speed = (ms: number) => `${(totalMiB / (ms / 1000)).toFixed(0)} MiB/s`;
      console.log([
        `## ${files} file(s), ${totalMiB} MiB`,
        row("lib-storage stream (previous)", base),
        row("store.put, part-buffer pool", mine, base),
        `throughput (median): previous ${speed(median(base))}, now ${speed(median(mine))}`,
        `peak RSS (VmHWM, median): previous ${(median(rss.old!) / MiB).toFixed(0)} MiB, now ${
          (median(rss.new!) / MiB).toFixed(0)
        } MiB (runs ${rss.new!.map((b) => (b / MiB).toFixed(0)).join(", ")})`,
      ].join("\n"));
      await Deno.remove(dir, { recursive: true });
    }
  } finally {
    await s3.stop();
    await Deno.remove(root, { recursive: true });
  }
}
