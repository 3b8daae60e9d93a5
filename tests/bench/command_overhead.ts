/**
 * Paired benchmark (issue 18): per-command overhead of the command runner, against a shell loop
 * that starts the same shell invocation (`bash -lc` as leader of a new session and process group,
 * i.e. `setsid bash -lc`, stdin from /dev/null, output to pipes), in the same run. A loop of bare
 * `bash -c true` is printed as a second, cheaper reference. Target: ≤ 0.5 ms per command over
 * the `setsid bash -lc` loop.
 *
 *   deno run -A tests/bench/command_overhead.ts [--commands 200] [--rounds 5]
 *
 * Sides alternate (rotating order) after one warm-up round; medians per command are printed.
 * @module
 */
import { parseArgs } from "node:util";
import { checkoutCommit } from "../../adapters/git/checkout.ts";
import { runShellCommand } from "../../adapters/process/exec.ts";
import { runBuild } from "../../stages/build.ts";
import { makeRepo, testGitEnv } from "../stages/_git_repo.ts";
import { alternate, median } from "./_paired.ts";

/** Commands get a HOME without profile files, on every side. */
const CMD_ENV = { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: "/nonexistent-aphex-home" };

const { values } = parseArgs({
  args: Deno.args,
  options: {
    commands: { type: "string", default: "200" },
    rounds: { type: "string", default: "5" },
  },
});
const n = Number(values.commands);
const rounds = Number(values.rounds);
const root = await Deno.makeTempDir({ prefix: "aphex-cmd-bench-" });
try {
  const config = [
    'version: "1.0"',
    "build:",
    "  commands:",
    ...Array.from({ length: n }, () => '    - "true"'),
    "environments:",
    '  - { name: dev, region: us-east-1, account: "111111111111", stacks: [{ name: A, path: a.ts }] }',
    "",
  ].join("\n");
  const repo = await makeRepo(`${root}/git`, [{ "aphex-config.yaml": config }]);
  const ws = `${root}/ws`;
  const env = { ...testGitEnv(`${root}/git`), ...CMD_ENV };
  await checkoutCommit({
    workspace: ws,
    commitSha: repo.commits[0]!,
    repoUrl: repo.url,
    allowFileUrls: true,
    env,
  });
  const loop = (invocation: string) => async () => {
    const out = await new Deno.Command("bash", {
      args: ["-c", `for i in $(seq ${n}); do ${invocation} </dev/null || exit 1; done`],
      cwd: ws,
      env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (out.code !== 0) throw new Error(`loop failed: ${new TextDecoder().decode(out.stderr)}`);
  };
  const runs = await alternate(rounds, {
    "setsid bash -lc true (shell loop)": loop("setsid bash -lc true"),
    "bash -c true (shell loop)": loop("bash -c true"),
    "runShellCommand('true')": async () => {
      for (let i = 0; i < n; i++) {
        const o = await runShellCommand("true", {
          cwd: ws,
          env,
          label: "b",
          log: () => {},
          timeoutMs: 3_600_000,
        });
        if (o.exitCode !== 0) throw new Error("command failed");
      }
    },
    "runBuild commands phase": async () => {
      const outcome = await runBuild({
        workspace: ws,
        commitSha: repo.commits[0]!,
        configFile: "aphex-config.yaml",
        storeDir: `${root}/store`,
        outputsDir: `${root}/outputs`,
      }, { env, log: () => {} });
      if (outcome.exitCode !== 0) throw new Error(`build failed: ${outcome.failure}`);
      return outcome.timings.commandsMs;
    },
  });
  const per = (name: string) => median(runs[name]!) / n;
  const base = per("setsid bash -lc true (shell loop)");
  console.log(
    `# per-command overhead (${new Date().toISOString()}, ${navigator.hardwareConcurrency} CPUs, ` +
      `${n} commands, median of ${rounds} alternating rounds; target ≤ +0.5 ms over setsid bash -lc)`,
  );
  for (const name of Object.keys(runs)) {
    const ms = per(name);
    console.log(
      `${name.padEnd(36)} ${ms.toFixed(3)} ms/command  ${
        name.startsWith("setsid")
          ? "(baseline)"
          : `${ms - base >= 0 ? "+" : ""}${(ms - base).toFixed(3)} ms, ratio ${
            (ms / base).toFixed(3)
          }×`
      }  runs ${runs[name]!.map((x) => (x / n).toFixed(2)).join(", ")}`,
    );
  }
} finally {
  await Deno.remove(root, { recursive: true });
}
