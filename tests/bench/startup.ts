/**
 * Benchmark: process start-up of `aphex --version` and `aphex validate` (example config), from
 * `deno run` (module cache warm) and from the bundle (`deno task bundle`), against the original
 * Python stage's start (python3 importing boto3 and yaml). Median of RUNS runs each.
 *
 *   deno run -A tests/bench/startup.ts [--python /usr/bin/python3]
 */
const RUNS = 15;
const root = new URL("../../", import.meta.url).pathname;
const python = Deno.args.includes("--python")
  ? Deno.args[Deno.args.indexOf("--python") + 1]!
  : "python3";

async function time(cmd: string, args: string[], cwd = root): Promise<number> {
  const t = performance.now();
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "null", stderr: "piped" }).output();
  const ms = performance.now() - t;
  if (out.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return ms;
}

async function median(cmd: string, args: string[]): Promise<string> {
  await time(cmd, args); // warm the caches
  const xs: number[] = [];
  for (let i = 0; i < RUNS; i++) xs.push(await time(cmd, args));
  xs.sort((a, b) => a - b);
  return `${(xs[Math.floor(xs.length / 2)]! / 1000).toFixed(3)} s (min ${
    (xs[0]! / 1000).toFixed(3)
  })`;
}

const dir = await Deno.makeTempDir({ prefix: "aphex-startup-" });
try {
  const bundle = `${dir}/aphex.js`;
  const b = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "deno", "-o", bundle, "mod.ts"],
    cwd: root,
  }).output();
  if (b.code !== 0) throw new Error(new TextDecoder().decode(b.stderr));
  const deno = Deno.execPath();
  const perms = ["--allow-read", "--allow-env"];
  const rows: [string, string][] = [
    ["deno run mod.ts --version", await median(deno, ["run", ...perms, "mod.ts", "--version"])],
    ["deno run mod.ts validate", await median(deno, ["run", ...perms, "mod.ts", "validate"])],
    ["bundle --version", await median(deno, ["run", "--no-config", ...perms, bundle, "--version"])],
    ["bundle validate", await median(deno, ["run", "--no-config", ...perms, bundle, "validate"])],
    [`${python} -c 'import boto3, yaml'`, await median(python, ["-c", "import boto3, yaml"])],
  ];
  for (const [name, value] of rows) console.log(`${name.padEnd(40)} ${value}`);
} finally {
  await Deno.remove(dir, { recursive: true });
}
