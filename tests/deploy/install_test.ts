import assert from "node:assert/strict";
import { join } from "node:path";
import type { CdkRunRequest } from "../../adapters/cdk/runner.ts";
import { installCdkDependencies } from "../../adapters/cdk/app.ts";
import { AphexError } from "../../models/errors.ts";

async function tree(files: Record<string, string>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "aphex-install-" });
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(join(root, path, ".."), { recursive: true });
    await Deno.writeTextFile(join(root, path), text);
  }
  return root;
}

function recorder(exitCode = 0) {
  const calls: CdkRunRequest[] = [];
  return {
    calls,
    runner: (r: CdkRunRequest) => (calls.push(r), Promise.resolve({ exitCode, output: "" })),
  };
}

Deno.test("installCdkDependencies: a fresh checkout gets the lockfile's frozen install, as argv, once", async (t) => {
  const root = await tree({
    "ws/package-lock.json": "{}",
    "ws/infra/cdk.json": "{}",
    "ws/pnpm/pnpm-lock.yaml": "",
    "ws/pnpm/app/cdk.json": "{}",
    "ws/installed/package-lock.json": "{}",
    "ws/installed/node_modules/.bin/cdk": "",
    "ws/none/cdk.json": "{}",
    "package-lock.json": "{}", // above the workspace: never used
  });
  try {
    const ws = join(root, "ws");
    const env = { PATH: "/usr/bin" };
    await t.step("npm ci at the nearest lockfile (the workspace root)", async () => {
      const { calls, runner } = recorder();
      const what = await installCdkDependencies(join(ws, "infra"), { workspace: ws, env, runner });
      assert.equal(what, `npm ci --no-audit --no-fund in ${ws}`);
      assert.deepEqual(calls, [{
        bin: "npm",
        args: ["ci", "--no-audit", "--no-fund"],
        cwd: ws,
        env,
        label: "install",
      }]);
    });
    await t.step("pnpm lockfile in a subdirectory", async () => {
      const { calls, runner } = recorder();
      await installCdkDependencies(join(ws, "pnpm", "app"), { workspace: ws, env, runner });
      assert.deepEqual(calls.map((c) => [c.bin, c.args, c.cwd]), [["pnpm", [
        "install",
        "--frozen-lockfile",
      ], join(ws, "pnpm")]]);
    });
    await t.step("already installed: nothing runs", async () => {
      const { calls, runner } = recorder();
      assert.equal(
        await installCdkDependencies(join(ws, "installed"), { workspace: ws, env, runner }),
        undefined,
      );
      assert.equal(calls.length, 0);
    });
    await t.step("a failed install is a clear error", async () => {
      const { runner } = recorder(1);
      await assert.rejects(
        installCdkDependencies(join(ws, "infra"), { workspace: ws, env, runner }),
        (e: unknown) => {
          assert.ok(e instanceof AphexError);
          assert.match(
            e.message,
            /installing the CDK app's dependencies failed \(npm ci .* exit 1\)/,
          );
          return true;
        },
      );
    });
    await t.step(
      "no lockfile inside the workspace: nothing runs (the one above is ignored)",
      async () => {
        await Deno.remove(join(ws, "package-lock.json"));
        const { calls, runner } = recorder();
        assert.equal(
          await installCdkDependencies(join(ws, "none"), { workspace: ws, env, runner }),
          undefined,
        );
        assert.equal(calls.length, 0);
      },
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
