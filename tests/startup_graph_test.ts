/**
 * Start-up loading: a command loads the AWS SDK or the Kubernetes client only when it talks to
 * them, through a dynamic import. This walks each command module's *static* import graph (what is
 * evaluated before the command runs) with `deno info --json`.
 */
import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url).pathname;
const HEAVY = /@aws-sdk\/|@smithy\/|@kubernetes\/client-node/;

interface Info {
  roots: string[];
  modules: {
    specifier: string;
    dependencies?: { isDynamic?: boolean; code?: { specifier?: string } }[];
  }[];
  packages?: Record<string, string>;
  npmPackages?: Record<string, { dependencies?: string[] }>;
}

async function staticGraph(module: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", module],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const info: Info = JSON.parse(new TextDecoder().decode(out.stdout));
  const byName = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const stack = [...info.roots];
  while (stack.length) {
    const specifier = stack.pop()!;
    if (seen.has(specifier)) continue;
    seen.add(specifier);
    for (const dep of byName.get(specifier)?.dependencies ?? []) {
      if (!dep.isDynamic && dep.code?.specifier) stack.push(dep.code.specifier);
    }
  }
  return [...seen];
}

Deno.test("commands that may not need AWS or Kubernetes load neither SDK at start-up", async () => {
  const modules = [
    "mod.ts",
    "cli/main.ts",
    "cli/validate.ts",
    "cli/generate.ts",
    "cli/graph.ts",
    "cli/event.ts",
    "cli/history.ts",
    "cli/artifacts.ts",
    "stages/build.ts",
    "stages/test.ts",
    "stages/synth.ts",
    "stages/preflight.ts",
    "stages/run_local.ts",
    "stages/report.ts",
  ];
  const results = await Promise.all(modules.map(async (m) => [m, await staticGraph(m)] as const));
  for (const [module, graph] of results) {
    const heavy = graph.filter((s) => HEAVY.test(s));
    assert.deepEqual(heavy, [], `${module} statically loads ${heavy.join(", ")}`);
  }
});

/**
 * `aphex <command> --help` for every command, run as a process whose import map points each SDK
 * package at a module that exports nothing and throws when evaluated: help that loads an SDK fails
 * loudly.
 */
Deno.test("every --help is printed without loading any SDK", async () => {
  const { COMMANDS } = await import("../cli/main.ts");
  const dir = await Deno.makeTempDir({ prefix: "aphex-help-graph-" });
  try {
    const poison = `${dir}/sdk_loaded.ts`;
    await Deno.writeTextFile(poison, 'throw new Error("an SDK was loaded");\nexport {};\n');
    const denoJson = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
    const imports: Record<string, string> = { ...denoJson.imports };
    const poisoned = Object.keys(imports).filter((name) => HEAVY.test(name));
    assert.ok(poisoned.length >= 5, `SDK packages found in the import map: ${poisoned}`);
    for (const name of poisoned) imports[name] = new URL(`file://${poison}`).href;
    const config = `${dir}/deno.json`;
    await Deno.writeTextFile(config, JSON.stringify({ ...denoJson, imports }));
    // The project's lockfile beside it: npm packages resolve to the locked versions, which a fresh
    // cache (CI) holds; without a lockfile Deno would need registry metadata it never fetched.
    await Deno.copyFile(`${ROOT}deno.lock`, `${dir}/deno.lock`);
    const names = Object.keys(COMMANDS);
    const run = (args: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "--config", config, "--cached-only", "-A", "mod.ts", ...args],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
      }).output();
    // The poison works: a command that talks to AWS cannot even start.
    const control = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        "--config",
        config,
        "--cached-only",
        `await import("${ROOT}stages/deploy.ts")`,
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    // (Static named imports fail already when linking; a bare import fails when evaluated.)
    const SDK_LOADED = /an SDK was loaded|requested module '[^']+' does not provide an export/;
    assert.match(new TextDecoder().decode(control.stderr), SDK_LOADED);
    const results = [];
    for (let i = 0; i < names.length; i += 4) {
      const batch = names.slice(i, i + 4);
      results.push(
        ...(await Promise.all(batch.map(async (name) => {
          const out = await run([...name.split(" "), "--help"]);
          return { name, out };
        }))),
      );
    }
    const failed = results.filter(({ name, out }) =>
      out.code !== 0 ||
      !new TextDecoder().decode(out.stdout).startsWith(`Usage: aphex ${name} [options]`)
    );
    assert.deepEqual(
      failed.map((f) => f.name),
      [],
      failed.map((f) => `aphex ${f.name} --help:\n${new TextDecoder().decode(f.out.stderr)}`)
        .join("\n"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
