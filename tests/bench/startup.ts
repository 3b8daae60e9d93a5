/**
 * Benchmark: process start-up of the shipped form against the source, paired in one run
 * (issue 18). For `--version`, `validate` (example config) and `--help` of every stage, three
 * forms alternate (rotating order): `deno run mod.ts` (module cache warm; the baseline), the
 * code-split bundle of `deno task bundle` / `deno task compile` (entry `mod.js` + lazily imported
 * chunks), and for reference the previous one-file bundle. Target: split bundle ≤ 1.1× the source.
 * The original Python stage's start (python3 importing boto3 and yaml) is printed when available.
 *
 *   deno run -A tests/bench/startup.ts [--runs 15] [--python /usr/bin/python3]
 */
import { parseArgs } from "node:util";
import { alternate, median, row } from "./_paired.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { runs: { type: "string", default: "15" }, python: { type: "string" } },
});
const RUNS = Number(values.runs);
const root = new URL("../../", import.meta.url).pathname;
const deno = Deno.execPath();
const perms = ["--allow-read", "--allow-env"];

async function run(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: root,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (out.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

async function bundle(args: string[]): Promise<void> {
  const b = await new Deno.Command(deno, { args: ["bundle", "--quiet", ...args], cwd: root })
    .output();
  if (b.code !== 0) throw new Error(new TextDecoder().decode(b.stderr));
}

const dir = await Deno.makeTempDir({ prefix: "aphex-startup-" });
try {
  await bundle(["--platform", "deno", "--code-splitting", "--outdir", `${dir}/split`, "mod.ts"]);
  await bundle(["--platform", "deno", "-o", `${dir}/one.js`, "mod.ts"]);
  const cases: [string, string[]][] = [
    ["--version", ["--version"]],
    ["validate", ["validate"]],
    ...["build", "synth", "deploy", "test", "pipeline-update", "report", "preflight", "apply"].map((
      c,
    ): [string, string[]] => [`${c} --help`, [c, "--help"]]),
  ];
  console.log(
    `# start-up (${new Date().toISOString()}, ${navigator.hardwareConcurrency} CPUs, ` +
      `median of ${RUNS} alternating runs; target split bundle ≤ 1.1× deno run mod.ts)`,
  );
  const worst: number[] = [];
  for (const [name, args] of cases) {
    const runs = await alternate(RUNS, {
      source: () => run(deno, ["run", ...perms, "mod.ts", ...args]),
      split: () => run(deno, ["run", "--no-config", ...perms, `${dir}/split/mod.js`, ...args]),
      one: () => run(deno, ["run", "--no-config", ...perms, `${dir}/one.js`, ...args]),
    });
    console.log(`## aphex ${name}`);
    console.log(row("deno run mod.ts", runs.source!));
    console.log(row("code-split bundle (shipped)", runs.split!, runs.source));
    console.log(row("one-file bundle (previous)", runs.one!, runs.source));
    worst.push(median(runs.split!) / median(runs.source!));
  }
  console.log(`worst split/source ratio: ${Math.max(...worst).toFixed(3)}×`);
  if (values.python) {
    const py = await alternate(RUNS, {
      python: () => run(values.python!, ["-c", "import boto3, yaml"]),
    });
    console.log(row(`${values.python} -c 'import boto3, yaml'`, py.python!));
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
