/** Issue 13 item 5: the name boundary of `aphex generate`. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { captureContext, execute } from "../command/contract.ts";
import { command as generate } from "../cli/generate.ts";
import { buildRbac } from "../templates/rbac.ts";
import { nameCollisions } from "../templates/_names.ts";
import type { Manifest } from "../templates/types.ts";
import { parseRaw, rawConfig, rawEnvironment } from "./generate_table.ts";

async function generateWith(raw: ReturnType<typeof rawConfig>) {
  const dir = await Deno.makeTempDir({ prefix: "aphex-names-" });
  try {
    await Deno.writeTextFile(join(dir, "aphex-config.yaml"), JSON.stringify(raw, null, 2));
    const ctx = captureContext(["--config", "aphex-config.yaml", "--out", "manifests"], {
      cwd: dir,
    });
    const code = await execute(generate, ctx);
    let written: string[] = [];
    try {
      written = [...Deno.readDirSync(join(dir, "manifests"))].map((e) => e.name);
    } catch { /* nothing written */ }
    return { code, err: ctx.err.join(""), written };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("generate refuses pipeline.serviceAccount equal to a generated account (exit 2, both named)", async () => {
  for (const taken of ["shop-validate", "shop-sensor"]) {
    const raw = rawConfig([rawEnvironment("dev")], { pullRequests: true });
    raw.pipeline!.serviceAccount = taken;
    const r = await generateWith(raw);
    assert.equal(r.code, 2, `${taken}: ${r.err}`);
    assert.match(r.err, new RegExp(`pipeline.serviceAccount "${taken}"`));
    assert.match(r.err, taken.endsWith("validate") ? /pull-request validation/ : /Sensor/);
    assert.deepEqual(r.written, [], "nothing is written");
  }
  const fine = rawConfig([rawEnvironment("dev")], { pullRequests: true });
  fine.pipeline!.serviceAccount = "shop-runner";
  assert.equal((await generateWith(fine)).code, 0);
});

Deno.test("the default service account derives from pipeline.name: two pipelines never share one", () => {
  const sa = (name: string) =>
    buildRbac(parseRaw(rawConfig([rawEnvironment("dev")], { name })))
      .filter((d) => d.kind === "ServiceAccount")
      .map((d) => `${d.metadata.namespace}/${d.metadata.name}`);
  const a = sa("shop");
  const b = sa("billing");
  assert.ok(a.includes("argo/shop-pipeline"), a.join());
  assert.ok(b.includes("argo/billing-pipeline"), b.join());
  assert.deepEqual(a.filter((x) => b.includes(x)), []);
});

Deno.test("any two generated objects of one kind and namespace with one name are named", () => {
  const config = parseRaw(rawConfig([rawEnvironment("dev")]));
  const doc = (kind: string, name: string, namespace = "argo"): Manifest => ({
    apiVersion: "v1",
    kind,
    metadata: { name, namespace },
  });
  assert.deepEqual(
    nameCollisions(config, [
      { file: "a.yaml", documents: [doc("ServiceAccount", "x"), doc("Role", "x")] },
      {
        file: "b.yaml",
        documents: [doc("ServiceAccount", "x", "other"), doc("ServiceAccount", "x")],
      },
    ]),
    ["two generated objects are named ServiceAccount argo/x: a.yaml document 1 and b.yaml document 2"],
  );
});
