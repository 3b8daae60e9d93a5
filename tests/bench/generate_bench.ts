/**
 * Generator benchmarks: 1,000 environments × 10 stacks, every environment with an approval gate
 * and tests (3,000 per-environment steps: the worst case for Argo's 200-task DAG cap).
 *
 * - in-process `generateManifests` (config already parsed);
 * - the whole `aphex generate` process (`deno run … mod.ts generate`) on a 1,000-environment config
 *   file, including Deno start-up and config parsing (target: < 2 s).
 *
 * Before the benchmarks run, the WorkflowTemplate size, bytes per environment (target ≤ 600) and
 * the largest DAG's task count (Argo's cap: 200) are printed (target: < 1 MiB). Run: `deno bench --allow-all tests/bench/generate_bench.ts`.
 * @module
 */
import { join } from "node:path";
import { generateManifests, MAX_MANIFEST_BYTES } from "../../templates/generate.ts";
import type { WorkflowTemplate } from "../../templates/types.ts";
import { MAX_DAG_TASKS } from "../../templates/workflow_template.ts";
import { parseRaw, rawConfig, rawEnvironment } from "../generate_table.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const ENVIRONMENTS = 1000;
const STACKS = 10;

function raw(n: number) {
  return rawConfig(
    Array.from(
      { length: n },
      (_, i) =>
        rawEnvironment(`env${String(i).padStart(4, "0")}`, {
          stacks: STACKS,
          approval: true,
        }),
    ),
    { pullRequests: true },
  );
}

const config = parseRaw(raw(ENVIRONMENTS));
const one = generateManifests(parseRaw(raw(1))).find((f) => f.file === "workflow-template.yaml")!;
const files = generateManifests(config);
const wt = files.find((f) => f.file === "workflow-template.yaml")!;
const deployTemplate = (await import("../../templates/yaml.ts")).toYamlDocument(wt.documents[0]!);
const deployBytes = new TextEncoder().encode(deployTemplate).length;
console.log(
  `${ENVIRONMENTS} environments × ${STACKS} stacks: pipeline WorkflowTemplate ${deployBytes} bytes ` +
    `(${
      (deployBytes / MAX_MANIFEST_BYTES * 100).toFixed(1)
    }% of 1 MiB), workflow-template.yaml ${wt.bytes} bytes, ` +
    `${((wt.bytes - one.bytes) / (ENVIRONMENTS - 1)).toFixed(0)} bytes per environment; ` +
    `all files ${files.reduce((n, f) => n + f.bytes, 0)} bytes`,
);
if (deployBytes >= MAX_MANIFEST_BYTES) throw new Error("WorkflowTemplate is over 1 MiB");
const templates = (wt.documents[0] as WorkflowTemplate).spec.templates;
const largestDag = Math.max(...templates.map((t) => t.dag?.tasks.length ?? 0));
console.log(
  `largest DAG: ${largestDag} tasks; ${templates.length} templates (cap ${MAX_DAG_TASKS} each)`,
);
if (largestDag > MAX_DAG_TASKS || templates.length > MAX_DAG_TASKS) {
  throw new Error("over Argo's CRD caps");
}

const dir = await Deno.makeTempDir({ prefix: "aphex-bench-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
const configFile = join(dir, "aphex-config.yaml");
await Deno.writeTextFile(configFile, JSON.stringify(raw(ENVIRONMENTS), null, 2));
console.log(`config file: ${(await Deno.stat(configFile)).size} bytes`);

Deno.bench("generateManifests: 1,000 environments × 10 stacks (parsed config)", () => {
  generateManifests(config);
});

Deno.bench({
  name: "aphex generate process: deno run mod.ts generate, 1,000 environments × 10 stacks",
  n: 5,
  warmup: 1,
  async fn() {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        join(ROOT, "mod.ts"),
        "generate",
        "--config",
        configFile,
        "--out",
        join(dir, "manifests"),
      ],
      cwd: ROOT,
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  },
});

// Waves (issue 15): the same 1,000 environments in 20 waves of 50 (each wave one DAG of 150 tasks,
// its environments in parallel; the waves chained).
function rawWaves(n: number) {
  const r = raw(n);
  r.environments.forEach((e, i) => e.wave = `w${Math.floor(i / 50) + 1}`);
  return r;
}
const wavesConfig = parseRaw(rawWaves(ENVIRONMENTS));
const wavesOne = generateManifests(parseRaw(rawWaves(1))).find((f) =>
  f.file === "workflow-template.yaml"
)!;
const t0 = performance.now();
const wavesFiles = generateManifests(wavesConfig);
const wavesMs = performance.now() - t0;
const wavesWt = wavesFiles.find((f) => f.file === "workflow-template.yaml")!;
const wavesTemplates = (wavesWt.documents[0] as WorkflowTemplate).spec.templates;
const wavesLargest = Math.max(...wavesTemplates.map((t) => t.dag?.tasks.length ?? 0));
console.log(
  `waves of 50: workflow-template.yaml ${wavesWt.bytes} bytes (${
    (wavesWt.bytes / MAX_MANIFEST_BYTES * 100).toFixed(1)
  }% of 1 MiB), ${
    ((wavesWt.bytes - wavesOne.bytes) / (ENVIRONMENTS - 1)).toFixed(0)
  } bytes per environment; largest DAG ${wavesLargest} tasks; ${wavesTemplates.length} templates; ` +
    `first generation ${wavesMs.toFixed(0)} ms`,
);
if (wavesLargest > MAX_DAG_TASKS || wavesTemplates.length > MAX_DAG_TASKS) {
  throw new Error("waves: over Argo's CRD caps");
}

Deno.bench(
  "generateManifests: 1,000 environments × 10 stacks in waves of 50 (parsed config)",
  () => {
    generateManifests(wavesConfig);
  },
);
