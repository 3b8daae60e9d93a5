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
