import assert from "node:assert/strict";
import fc from "fast-check";
import { runInDependencyOrder } from "./stack_schedule.ts";

type Item = { name: string; deps: string[] };
const opts = (concurrency: number) => ({
  concurrency,
  key: (i: Item) => i.name,
  dependsOn: (i: Item) => i.deps,
});

/** Runs with a fake clock of ticks: every item takes `ticks[name]` ticks (default 1). */
async function simulate(items: Item[], concurrency: number, fail = new Set<string>()) {
  const log: string[] = [];
  let active = 0;
  let peak = 0;
  const error = await runInDependencyOrder(items, async (item) => {
    active++;
    peak = Math.max(peak, active);
    log.push(`start ${item.name}`);
    await new Promise((r) => setTimeout(r, 5));
    active--;
    log.push(`end ${item.name}`);
    if (fail.has(item.name)) throw new Error(`${item.name} failed`);
  }, opts(concurrency)).then(() => undefined, (e: Error) => e.message);
  return { log, peak, error };
}

const NET = { name: "net", deps: [] };
const DB = { name: "db", deps: ["net"] };
const API = { name: "api", deps: ["net"] };
const WEB = { name: "web", deps: ["api", "db"] };

Deno.test("concurrency 1: exactly the configured order, one after another", async () => {
  const r = await simulate([NET, DB, API, WEB], 1);
  assert.deepEqual(r.log, [
    "start net",
    "end net",
    "start db",
    "end db",
    "start api",
    "end api",
    "start web",
    "end web",
  ]);
  assert.equal(r.peak, 1);
});

Deno.test("concurrency 2: independent stacks in parallel, dependents after their dependencies", async () => {
  const r = await simulate([NET, DB, API, WEB], 2);
  assert.equal(r.peak, 2);
  const at = (e: string) => r.log.indexOf(e);
  assert.ok(at("start db") > at("end net") && at("start api") > at("end net"));
  assert.ok(at("start api") < at("end db"), "db and api overlap");
  assert.ok(at("start web") > at("end api") && at("start web") > at("end db"));
});

Deno.test("a failure starts nothing new; the running stack finishes; the first error is thrown", async () => {
  const r = await simulate([NET, DB, API, WEB], 2, new Set(["db"]));
  assert.equal(r.error, "db failed");
  assert.ok(r.log.includes("end api"), "api (already running) finished");
  assert.ok(!r.log.includes("start web"));
});

Deno.test("property: every dependency ends before its dependent starts; at most `concurrency` at once", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 6 }),
      fc.array(fc.array(fc.nat(), { maxLength: 3 }), { minLength: 1, maxLength: 7 }),
      fc.integer({ min: 1, max: 4 }),
      async (n, rawDeps, concurrency) => {
        // Dependencies only on earlier stacks (a valid configured order).
        const items = Array.from({ length: n }, (_, i) => ({
          name: `s${i}`,
          deps: i === 0 ? [] : (rawDeps[i % rawDeps.length] ?? []).map((d) => `s${d % i}`),
        }));
        const r = await simulate(items, concurrency);
        assert.equal(r.error, undefined);
        assert.ok(r.peak <= concurrency);
        for (const item of items) {
          for (const d of item.deps) {
            assert.ok(r.log.indexOf(`end ${d}`) < r.log.indexOf(`start ${item.name}`));
          }
        }
      },
    ),
    { numRuns: 40 },
  );
});
