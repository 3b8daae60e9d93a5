/** Preflight's tool check: a tool may answer `--version` or `-v` (the spec); both are tried. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { checkTool } from "../../adapters/process/tool_version.ts";
import { runPreflight } from "../../stages/preflight.ts";

async function withTools(
  tools: Record<string, string>,
  fn: (dir: string, env: Record<string, string>) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "aphex-preflight-tools-" });
  try {
    const bin = join(dir, "bin");
    await Deno.mkdir(bin);
    for (const [name, script] of Object.entries(tools)) {
      await Deno.writeTextFile(join(bin, name), `#!/bin/sh\n${script}\n`);
      await Deno.chmod(join(bin, name), 0o755);
    }
    await fn(dir, { PATH: `${bin}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`, HOME: dir });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// Answers only `-v` (like some older build tools); `--version` is an unknown option.
const ONLY_V = 'if [ "$1" = "-v" ]; then echo "onlyv 4.2"; exit 0; fi\n' +
  'echo "onlyv: unknown option $1" >&2; exit 2';
const ONLY_LONG = 'if [ "$1" = "--version" ]; then echo "longv 1.0"; exit 0; fi\nexit 9';
const NEITHER = 'echo "neither: no $1" >&2; exit 4';

Deno.test("checkTool: a tool answering only -v passes; --version is tried first", async () => {
  await withTools({ onlyv: ONLY_V, longv: ONLY_LONG, neither: NEITHER }, async (dir, env) => {
    assert.deepEqual(await checkTool("onlyv", { env, cwd: dir }), {
      ok: true,
      detail: "onlyv 4.2",
    });
    assert.deepEqual(await checkTool("longv", { env, cwd: dir }), {
      ok: true,
      detail: "longv 1.0",
    });
    assert.deepEqual(await checkTool("neither", { env, cwd: dir }), {
      ok: false,
      detail: "`neither --version` exited with code 4: neither: no --version; " +
        "`neither -v` exited with code 4: neither: no -v",
    });
    assert.deepEqual(await checkTool("not-a-tool-aphex-xyz", { env, cwd: dir }), {
      ok: false,
      detail: "`not-a-tool-aphex-xyz` is not on PATH",
    });
  });
});

Deno.test("checkTool: a tool that hangs on --version is reported once, not asked again", async () => {
  await withTools({ slow: 'echo "$1" >> "$HOME/calls"; exec sleep 5' }, async (dir, env) => {
    const r = await checkTool("slow", { env, cwd: dir, timeoutMs: 300 });
    assert.deepEqual(r, { ok: false, detail: "`slow --version` did not answer within 300 ms" });
    assert.equal(await Deno.readTextFile(join(dir, "calls")), "--version\n");
  });
});

Deno.test("preflight: a build command whose tool answers only -v is not a problem", async () => {
  await withTools({ onlyv: ONLY_V }, async (dir, env) => {
    const ws = join(dir, "ws");
    await Deno.mkdir(join(ws, "infra"), { recursive: true });
    await Deno.writeTextFile(join(ws, "infra", "cdk.json"), '{"app":"node app.js"}');
    await Deno.writeTextFile(
      join(ws, "aphex-config.yaml"),
      'version: "1.0"\npipeline: { image: "ghcr.io/x/aphex:1.0.0" }\n' +
        "build: { commands: [onlyv build] }\nenvironments:\n" +
        '  - { name: dev, region: us-east-1, account: "111111111111", ' +
        "stacks: [{ name: App, path: infra/app.ts }] }\n",
    );
    const log: string[] = [];
    const report = await runPreflight(
      { workspace: ws, configFile: "aphex-config.yaml", skipAws: true },
      { env, log: (l) => log.push(l) },
    );
    assert.ok(!report.problems.some((p) => p.check === "tool"), JSON.stringify(report.problems));
    assert.ok(report.passed.includes("tool onlyv: onlyv 4.2"), report.passed.join("\n"));
  });
});
