/**
 * Build-stage benchmarks, measured side by side in one run:
 *
 * 1. packaging + checksumming 1 GiB of artifacts (several files) vs a bare streaming SHA-256 loop
 *    over the same files (`node:crypto` createHash fed from `Deno.open(...).readable`);
 *    target ≤ 1.25×; peak RSS (VmHWM of a child process doing only that) < 200 MiB;
 * 2. upload of the same through `runBuild` to a local s3rver, time split hashing vs transfer;
 * 3. 200 trivial build commands through `runBuild` vs a shell loop starting the same invocation
 *    (`setsid bash -lc`: same flags, same new process group) once per command; target ≤ 1.2×
 *    (`command_overhead.ts` has the paired per-command comparison, target ≤ +0.5 ms).
 *
 * Run: `deno run -A tests/bench/build_bench.ts [--gib 1]`. Needs ~2 GiB of free disk in TMPDIR;
 * everything is deleted afterwards. Under `deno bench` only a small version (64 MiB, 20 commands)
 * is registered.
 * @module
 */
import { createHash } from "node:crypto";
import { parseArgs } from "node:util";
import { checkoutCommit } from "../../adapters/git/checkout.ts";
import { sha256File } from "../../adapters/store/hash.ts";
import { runShellCommand } from "../../adapters/process/exec.ts";
import { listArtifactFiles, runBuild } from "../../stages/build.ts";
import { makeRepo, testGitEnv } from "../stages/_git_repo.ts";
import { startLocalS3 } from "../stages/_s3rver.ts";

const MiB = 1024 * 1024;
/** Commands run with a HOME that has no profile files, for both sides of the comparison. */
const CMD_ENV = { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: "/nonexistent-aphex-home" };

/** The bare loop: streaming SHA-256 of each file. */
async function bareLoop(paths: string[]): Promise<number> {
  let total = 0;
  for (const path of paths) {
    const hash = createHash("sha256");
    const file = await Deno.open(path);
    for await (const chunk of file.readable) {
      hash.update(chunk);
      total += chunk.byteLength;
    }
    hash.digest("hex");
  }
  return total;
}

/** What the build does: list the artifacts directory, stream-hash every file. */
async function packageAndHash(dir: string): Promise<number> {
  let total = 0;
  for (const f of await listArtifactFiles(dir)) total += (await sha256File(f.path)).size;
  return total;
}

/** Writes files totalling `totalMiB` (one big, several medium, many small). */
async function makeArtifacts(dir: string, totalMiB: number): Promise<string[]> {
  const block = new Uint8Array(MiB);
  crypto.getRandomValues(block.subarray(0, 65536));
  for (let i = 65536; i < MiB; i += 65536) block.copyWithin(i, 0, 65536);
  const sizes = [0.4, 0.25, 0.15, 0.1].map((f) => Math.floor(totalMiB * f));
  sizes.push(totalMiB - sizes.reduce((a, b) => a + b, 0) - 1);
  const paths: string[] = [];
  await Deno.mkdir(`${dir}/nested/deeper`, { recursive: true });
  for (const [i, size] of sizes.entries()) {
    const path = `${dir}/${i % 2 ? "nested/" : ""}part-${i}.bin`;
    const file = await Deno.open(path, { write: true, create: true, truncate: true });
    for (let m = 0; m < size; m++) {
      block[0] = m & 0xff;
      await file.write(block);
    }
    file.close();
    paths.push(path);
  }
  for (let i = 0; i < 64; i++) {
    const path = `${dir}/nested/deeper/small-${i}.txt`;
    await Deno.writeFile(path, block.subarray(0, 16 * 1024));
    paths.push(path);
  }
  return paths.sort();
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now();
  const value = await fn();
  return [performance.now() - t, value];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Peak RSS (VmHWM) of a child process running one side of the hashing comparison. */
async function peakRss(mode: "bare" | "build", dir: string): Promise<number> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--rss-child", mode, "--dir", dir],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  return Number(new TextDecoder().decode(out.stdout).trim());
}

function vmHwmBytes(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
  return Number(m?.[1] ?? 0) * 1024;
}

const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const rate = (bytes: number, ms: number) => `${(bytes / MiB / (ms / 1000)).toFixed(0)} MiB/s`;

async function benchHashing(root: string, totalMiB: number): Promise<string> {
  const dir = `${root}/data/artifacts`;
  const paths = await makeArtifacts(dir, totalMiB);
  const bytes = (await Promise.all(paths.map((p) => Deno.stat(p)))).reduce((a, s) => a + s.size, 0);
  // Warm the page cache once, then alternate the two sides.
  await bareLoop(paths);
  const bare: number[] = [];
  const build: number[] = [];
  for (let round = 0; round < 3; round++) {
    bare.push((await timed(() => bareLoop(paths)))[0]);
    build.push((await timed(() => packageAndHash(dir)))[0]);
  }
  const [b, p] = [median(bare), median(build)];
  const rssBare = await peakRss("bare", dir);
  const rssBuild = await peakRss("build", dir);
  return [
    `## 1. packaging + checksumming ${
      (bytes / MiB).toFixed(0)
    } MiB (${paths.length} files), median of 3`,
    `bare streaming SHA-256 loop : ${fmt(b)} (${rate(bytes, b)}) runs ${bare.map(fmt).join(", ")}`,
    `build list + hash           : ${fmt(p)} (${rate(bytes, p)}) runs ${build.map(fmt).join(", ")}`,
    `ratio build / bare          : ${(p / b).toFixed(3)}× (target ≤ 1.25×)`,
    `peak RSS (VmHWM, child)     : bare ${(rssBare / MiB).toFixed(0)} MiB, build ${
      (rssBuild / MiB).toFixed(0)
    } MiB (target < 200 MiB)`,
  ].join("\n");
}

async function benchUpload(root: string): Promise<string> {
  // The build command moves the generated data into the workspace's artifacts directory.
  const config = [
    'version: "1.0"',
    "build:",
    "  commands:",
    '    - "mv \\"$BENCH_DATA\\" artifacts"',
    "environments:",
    '  - { name: dev, region: us-east-1, account: "111111111111", stacks: [{ name: A, path: a.ts }] }',
    "",
  ].join("\n");
  const repo = await makeRepo(`${root}/git`, [{ "aphex-config.yaml": config }]);
  const s3 = await startLocalS3();
  const store = await s3.store();
  try {
    const outcome = await runBuild({
      workspace: `${root}/ws`,
      commitSha: repo.commits[0]!,
      repoUrl: repo.url,
      configFile: "aphex-config.yaml",
      storeDir: `${root}/store`,
      outputsDir: `${root}/outputs`,
    }, {
      env: { ...testGitEnv(`${root}/git`), ...CMD_ENV, BENCH_DATA: `${root}/data/artifacts` },
      log: () => {},
      allowFileUrls: true,
      store,
    });
    if (outcome.exitCode !== 0) throw new Error(`build failed: ${outcome.failure}`);
    const bytes = outcome.artifacts.reduce((a, m) => a + m.sizeBytes, 0);
    const t = outcome.timings;
    return [
      `## 2. runBuild upload of ${
        (bytes / MiB).toFixed(0)
      } MiB (${outcome.artifacts.length} files) to local s3rver`,
      `hashing  : ${fmt(t.hashMs)} (${rate(bytes, t.hashMs)})`,
      `transfer : ${fmt(t.uploadMs)} (${
        rate(bytes, t.uploadMs)
      }), 8 MiB parts, 2 files at once sharing 4 part buffers`,
      `total    : ${fmt(t.hashMs + t.uploadMs)} (checkout ${fmt(t.checkoutMs)}, commands ${
        fmt(t.commandsMs)
      })`,
    ].join("\n");
  } finally {
    store.close();
    await s3.stop();
  }
}

async function benchCommands(root: string, count: number): Promise<string> {
  const config = [
    'version: "1.0"',
    "build:",
    "  commands:",
    ...Array.from({ length: count }, () => '    - "true"'),
    "environments:",
    '  - { name: dev, region: us-east-1, account: "111111111111", stacks: [{ name: A, path: a.ts }] }',
    "",
  ].join("\n");
  const repo = await makeRepo(`${root}/git-cmd`, [{ "aphex-config.yaml": config }]);
  const ws = `${root}/ws-cmd`;
  const env = { ...testGitEnv(`${root}/git-cmd`), ...CMD_ENV };
  await checkoutCommit({
    workspace: ws,
    commitSha: repo.commits[0]!,
    repoUrl: repo.url,
    allowFileUrls: true,
    env,
  });
  const loop = () =>
    runShellCommand(
      `for i in $(seq ${count}); do setsid bash -lc true </dev/null || exit 1; done`,
      {
        cwd: ws,
        env,
        label: "loop",
        log: () => {},
        shell: ["bash", "-c"],
      },
    );
  const build = () =>
    runBuild({
      workspace: ws,
      commitSha: repo.commits[0]!,
      configFile: "aphex-config.yaml",
      storeDir: `${root}/store-cmd`,
      outputsDir: `${root}/outputs-cmd`,
    }, { env, log: () => {} });
  const loopRuns: number[] = [];
  const buildRuns: number[] = [];
  for (let round = 0; round < 3; round++) {
    loopRuns.push((await timed(loop))[0]);
    const outcome = await build();
    if (outcome.exitCode !== 0) throw new Error(`build failed: ${outcome.failure}`);
    buildRuns.push(outcome.timings.commandsMs);
  }
  const [l, b] = [median(loopRuns), median(buildRuns)];
  return [
    `## 3. ${count} trivial build commands ("true"), median of 3`,
    `shell loop (setsid bash -lc)      : ${fmt(l)} runs ${loopRuns.map(fmt).join(", ")}`,
    `runBuild commands phase           : ${fmt(b)} runs ${buildRuns.map(fmt).join(", ")}`,
    `ratio runBuild / loop             : ${(b / l).toFixed(3)}× (target ≤ 1.2×)`,
  ].join("\n");
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      gib: { type: "string", default: "1" },
      commands: { type: "string", default: "200" },
      "rss-child": { type: "string" },
      dir: { type: "string" },
    },
  });
  if (values["rss-child"]) {
    const dir = values.dir!;
    if (values["rss-child"] === "bare") {
      await bareLoop((await listArtifactFiles(dir)).map((f) => f.path));
    } else {
      await packageAndHash(dir);
    }
    console.log(vmHwmBytes());
    return;
  }
  const root = await Deno.makeTempDir({ prefix: "aphex-bench-" });
  try {
    console.log(
      `# build benchmarks (${new Date().toISOString()}, ${navigator.hardwareConcurrency} CPUs)`,
    );
    console.log(await benchHashing(root, Math.round(Number(values.gib) * 1024)));
    console.log(await benchUpload(root));
    console.log(await benchCommands(root, Number(values.commands)));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

if (import.meta.main) {
  await main();
} else {
  // `deno bench`: a small version of comparisons 1 and 3.
  const root = Deno.makeTempDirSync({ prefix: "aphex-bench-small-" });
  globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));
  const dir = `${root}/artifacts`;
  const paths = await makeArtifacts(dir, 64);
  Deno.bench({
    name: "bare sha256 loop, 64 MiB",
    group: "hash",
    baseline: true,
    fn: async () => {
      await bareLoop(paths);
    },
  });
  Deno.bench({
    name: "build list + hash, 64 MiB",
    group: "hash",
    fn: async () => {
      await packageAndHash(dir);
    },
  });
  Deno.bench({
    name: "20 × bash -lc true, shell loop",
    group: "commands",
    baseline: true,
    n: 5,
    fn: async () => {
      await runShellCommand("for i in $(seq 20); do bash -lc true; done", {
        cwd: root,
        env: CMD_ENV,
        label: "b",
        log: () => {},
        shell: ["bash", "-c"],
      });
    },
  });
  Deno.bench({
    name: "20 × runShellCommand('true')",
    group: "commands",
    n: 5,
    fn: async () => {
      for (let i = 0; i < 20; i++) {
        await runShellCommand("true", { cwd: root, env: CMD_ENV, label: "b", log: () => {} });
      }
    },
  });
}
