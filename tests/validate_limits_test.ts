/**
 * `aphex validate` reports what `aphex generate` would refuse (Argo and Kubernetes limits, a
 * cluster pipeline without a bucket), located like every other configuration error.
 */
import assert from "node:assert/strict";
import { stringify } from "yaml";
import { captureContext } from "../command/contract.ts";
import { main } from "../cli/main.ts";
import { rawConfig, rawEnvironment } from "./generate_table.ts";

async function run(args: string[], cwd: string) {
  const ctx = captureContext(args, { cwd });
  const code = await main(ctx);
  return { code, out: ctx.out.join(""), err: ctx.err.join("") };
}

async function inDir(text: string, fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "aphex-limits-" });
  try {
    await Deno.writeTextFile(`${dir}/aphex-config.yaml`, text);
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("validate: pipeline.github without artifactBucket → exit 2 at the pipeline key; generate agrees", async () => {
  const raw = rawConfig([rawEnvironment("dev")]);
  delete raw.pipeline!.artifactBucket;
  const text = stringify(raw);
  const line = text.split("\n").findIndex((l) => l.startsWith("pipeline:")) + 1;
  await inDir(text, async (dir) => {
    const v = await run(["validate", "--skip-paths"], dir);
    assert.equal(v.code, 2, v.out);
    assert.match(
      v.err,
      new RegExp(`^aphex-config\\.yaml:${line}:1: pipeline: pipeline\\.artifactBucket is required`),
    );
    const g = await run(["generate", "--out", `${dir}/out`], dir);
    assert.equal(g.code, 2);
    assert.match(g.err, /pipeline\.artifactBucket is required when pipeline\.github is set/);
  });
});

Deno.test("validate: 4,000 environments → exit 2 naming the size limit and how many fit", async () => {
  const envs = Array.from(
    { length: 4000 },
    (_, i) => rawEnvironment(`env-${String(i).padStart(30, "0")}`, { stacks: 1, approval: true }),
  );
  await inDir(stringify(rawConfig(envs)), async (dir) => {
    const v = await run(["validate", "--json", "--skip-paths"], dir);
    assert.equal(v.code, 2);
    const errors = JSON.parse(v.out).errors as { path: string; message: string }[];
    assert.equal(errors.length, 1, v.out);
    assert.equal(errors[0]!.path, "environments");
    assert.match(
      errors[0]!.message,
      /^WorkflowTemplate shop would be \d+ bytes, over the 1048576-byte limit .*: 4000 environments are configured, \d+ fit/,
    );
  });
});
