/**
 * Benchmark: `aphex validate` on a ~5 MB config with 2,000 environments.
 * Target (issue 2): under 1 s for the whole process.
 *
 *   deno run -A tests/bench/validate_process.ts
 */
import { parseConfig } from "../../models/config_parse.ts";
import { largeConfig } from "./_configs.ts";

const RUNS = 5;
const text = largeConfig(2000);
const dir = await Deno.makeTempDir({ prefix: "aphex-bench-" });
const file = `${dir}/aphex-config.yaml`;
await Deno.writeTextFile(file, text);
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

try {
  const inProcess: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    const result = parseConfig(text);
    inProcess.push(performance.now() - t);
    if (!result.ok) throw new Error("benchmark config is invalid");
  }
  const mod = new URL("../../mod.ts", import.meta.url).pathname;
  const process: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    const out = await new Deno.Command(Deno.execPath(), {
      // The benchmark's stacks[].path files do not exist: time parsing and validation, not stat.
      args: [
        "run",
        "--quiet",
        "--allow-read",
        "--allow-env",
        mod,
        "validate",
        "--config",
        file,
        "--skip-paths",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    process.push(performance.now() - t);
    if (out.code !== 0) throw new Error(new TextDecoder().decode(out.stderr));
  }
  const mb = (new TextEncoder().encode(text).length / 1e6).toFixed(2);
  console.log(`config: ${mb} MB, 2000 environments, 20000 stacks`);
  console.log(
    `parseConfig in process: median ${median(inProcess).toFixed(0)} ms (runs: ${
      inProcess.map((x) => x.toFixed(0)).join(", ")
    })`,
  );
  console.log(
    `aphex validate process: median ${median(process).toFixed(0)} ms (runs: ${
      process.map((x) => x.toFixed(0)).join(", ")
    })`,
  );
  console.log(`target < 1000 ms: ${median(process) < 1000 ? "met" : "MISSED"}`);
} finally {
  await Deno.remove(dir, { recursive: true });
}
