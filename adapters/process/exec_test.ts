import assert from "node:assert/strict";
import fc from "fast-check";
import {
  isSecretName,
  makeRedactor,
  MAX_LINE_CHARS,
  REDACTED,
  runShellCommand,
  secretValuesFromEnv,
  TailBuffer,
} from "./exec.ts";

// A HOME without profile files: the machine user's ~/.bashrc is not part of these tests.
const ENV = { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: "/nonexistent-aphex-home" };
const cwd = Deno.cwd();

/** Whether a process is gone (absent, or a zombie nobody reaped yet). */
function processGone(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

async function waitGone(pid: number, ms = 3000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (processGone(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return processGone(pid);
}

Deno.test("runner streams a line printed before a 2 s sleep before the command ends", async () => {
  const seen: { line: string; at: number }[] = [];
  let ended = false;
  const started = performance.now();
  let seenBeforeEnd = false;
  const outcome = await runShellCommand("echo first; sleep 2; echo second", {
    cwd,
    env: ENV,
    label: "build/1",
    log: (line) => {
      seen.push({ line, at: performance.now() - started });
      if (line.endsWith("first")) seenBeforeEnd = !ended;
    },
  }).finally(() => ended = true);
  assert.equal(outcome.exitCode, 0);
  assert.deepEqual(seen.map((s) => s.line), ["[build/1] first", "[build/1] second"]);
  assert.ok(seenBeforeEnd, "first line delivered while the command was still running");
  assert.ok(seen[0]!.at < 1500, `first line after ${seen[0]!.at} ms`);
  assert.ok(seen[1]!.at >= 1900, `second line after ${seen[1]!.at} ms`);
});

Deno.test("runner propagates exit codes and signals", async () => {
  const run = (cmd: string) => runShellCommand(cmd, { cwd, env: ENV, label: "t", log: () => {} });
  assert.equal((await run("exit 7")).exitCode, 7);
  assert.equal((await run("true")).exitCode, 0);
  assert.equal((await run("false")).exitCode, 1);
  const killed = await run("kill -TERM $$");
  assert.equal(killed.exitCode, 143);
  assert.equal(killed.signal, "SIGTERM");
  const missing = await run("definitely-not-a-command-aphex");
  assert.equal(missing.exitCode, 127);
  assert.match(missing.stderrTail, /not found/);
});

Deno.test("runner keeps stdout and stderr tails separately, prefixed lines to the sink", async () => {
  const lines: [string, string][] = [];
  const outcome = await runShellCommand("echo out; echo err >&2; printf 'no newline'", {
    cwd,
    env: ENV,
    label: "stage/3",
    log: (line, stream) => lines.push([stream, line]),
  });
  assert.equal(outcome.stdoutTail, "out\nno newline");
  assert.equal(outcome.stderrTail, "err");
  assert.deepEqual(lines.sort(), [
    ["stderr", "[stage/3] err"],
    ["stdout", "[stage/3] no newline"],
    ["stdout", "[stage/3] out"],
  ]);
});

Deno.test("runner: 200 MB of output keeps memory bounded", async () => {
  // Measured in a process of its own: in a parallel test run the other test modules share this
  // process, and their memory would count as the runner's.
  const probe = await Deno.makeTempFile({ prefix: "aphex-big-output-", suffix: ".ts" });
  try {
    await Deno.writeTextFile(
      probe,
      `import { runShellCommand } from ${
        JSON.stringify(new URL("./exec.ts", import.meta.url).href)
      };
let bytes = 0;
let lines = 0;
let peak = Deno.memoryUsage().rss;
const base = peak;
const sampler = setInterval(() => peak = Math.max(peak, Deno.memoryUsage().rss), 20);
const outcome = await runShellCommand(
  "head -c 200000000 /dev/zero | tr '\\\\0' x | fold -w 999; head -c 5000000 /dev/zero | tr '\\\\0' y",
  {
    cwd: ${JSON.stringify(cwd)},
    env: ${JSON.stringify(ENV)},
    label: "big",
    log: (line) => {
      bytes += line.length - "[big] ".length;
      lines++;
    },
  },
);
clearInterval(sampler);
console.log(JSON.stringify({ bytes, lines, base, peak, exitCode: outcome.exitCode, tail: outcome.stdoutTail }));
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--allow-all", probe],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    assert.equal(out.code, 0);
    const r = JSON.parse(new TextDecoder().decode(out.stdout)) as {
      bytes: number;
      lines: number;
      base: number;
      peak: number;
      exitCode: number;
      tail: string;
    };
    assert.equal(r.exitCode, 0);
    assert.ok(r.bytes >= 205_000_000 - r.lines, `saw ${r.bytes} bytes`);
    // The final 5 MB line without newline is split into MAX_LINE_CHARS pieces.
    assert.ok(r.tail.length <= 64 * 1024 + 64, `tail ${r.tail.length}`);
    assert.ok(r.tail.endsWith("y".repeat(1000)));
    assert.ok(!r.tail.split("\n").some((l) => l.length > MAX_LINE_CHARS));
    const growthMiB = (r.peak - r.base) / 2 ** 20;
    assert.ok(growthMiB < 150, `RSS grew by ${growthMiB.toFixed(0)} MiB`);
  } finally {
    await Deno.remove(probe);
  }
});

Deno.test("runner timeout kills the whole process group, grandchildren included", async () => {
  let grandchild = 0;
  const started = performance.now();
  const outcome = await runShellCommand(
    // The grandchild ignores SIGTERM: only the group SIGKILL after the grace period stops it.
    "bash -c 'trap \"\" TERM; sleep 60' & echo $!; sleep 60",
    {
      cwd,
      env: ENV,
      label: "t",
      timeoutMs: 500,
      killGraceMs: 300,
      log: (line) => {
        const m = /^\[t\] (\d+)$/.exec(line);
        if (m) grandchild = Number(m[1]);
      },
    },
  );
  const elapsed = performance.now() - started;
  assert.ok(outcome.timedOut);
  assert.notEqual(outcome.exitCode, 0);
  assert.ok(grandchild > 0, "grandchild pid was printed");
  assert.ok(await waitGone(grandchild), `grandchild ${grandchild} still alive`);
  assert.ok(elapsed < 10_000, `took ${elapsed} ms`);
  assert.match(outcome.stderrTail, /timed out after 500 ms/);
});

Deno.test("runner abort (SIGTERM of the stage) kills the group and records cancellation", async () => {
  const controller = new AbortController();
  let grandchild = 0;
  const outcome = await runShellCommand("sleep 60 & echo $!; wait", {
    cwd,
    env: ENV,
    label: "t",
    signal: controller.signal,
    log: (line) => {
      const m = /^\[t\] (\d+)$/.exec(line);
      if (m) {
        grandchild = Number(m[1]);
        controller.abort("SIGTERM");
      }
    },
  });
  assert.ok(outcome.cancelled);
  assert.equal(outcome.exitCode, 143);
  assert.ok(await waitGone(grandchild), `grandchild ${grandchild} still alive`);
});

Deno.test("runner does not hang on background processes holding the pipes", async () => {
  let bg = 0;
  const started = performance.now();
  const outcome = await runShellCommand("sleep 60 & echo $!", {
    cwd,
    env: ENV,
    label: "t",
    log: (line) => bg = Number(line.slice(4)),
  });
  assert.equal(outcome.exitCode, 0);
  assert.ok(performance.now() - started < 10_000);
  assert.ok(await waitGone(bg), `background process ${bg} still alive`);
});

Deno.test("runner redacts secret env values from lines and tails", async () => {
  const env = {
    ...ENV,
    AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    AWS_SESSION_TOKEN: "FQoGZXIvYXdzEXAMPLETOKEN",
    APHEX_GITHUB_TOKEN: "ghp_exampletoken1234567890",
    HARMLESS: "visible-value",
  };
  const lines: string[] = [];
  const outcome = await runShellCommand(
    'echo "secret=$AWS_SECRET_ACCESS_KEY"; echo "tok $APHEX_GITHUB_TOKEN" >&2; echo "$AWS_SESSION_TOKEN$HARMLESS"',
    { cwd, env, label: "r", log: (l) => lines.push(l) },
  );
  const all = lines.join("\n") + outcome.stdoutTail + outcome.stderrTail;
  for (const secret of [env.AWS_SECRET_ACCESS_KEY, env.AWS_SESSION_TOKEN, env.APHEX_GITHUB_TOKEN]) {
    assert.ok(!all.includes(secret), `leaked ${secret}`);
  }
  assert.ok(lines.includes(`[r] secret=${REDACTED}`));
  assert.ok(lines.includes(`[r] ${REDACTED}visible-value`));
});

Deno.test("secret names and redactor: no secret survives (property)", () => {
  assert.ok(isSecretName("AWS_SECRET_ACCESS_KEY"));
  assert.ok(isSecretName("GITHUB_TOKEN"));
  assert.ok(isSecretName("DB_PASSWORD"));
  assert.ok(!isSecretName("PATH"));
  assert.deepEqual(secretValuesFromEnv({ MY_TOKEN: "abc", API_KEY: "abcd", HOME: "/root" }), [
    "abcd",
  ]);
  fc.assert(fc.property(
    fc.array(fc.string({ minLength: 4, maxLength: 20 }).filter((s) => !s.includes("*")), {
      minLength: 1,
      maxLength: 4,
    }),
    fc.array(fc.string({ maxLength: 10 }), { maxLength: 6 }),
    (secrets, fillers) => {
      const text = fillers.map((f, i) => f + secrets[i % secrets.length]).join("|") + secrets[0];
      const out = makeRedactor(secrets)(text);
      // Each secret occurrence is replaced; what remains cannot contain the longest secret whole
      // unless the filler text itself rebuilt it around a replacement.
      const longest = [...secrets].sort((a, b) => b.length - a.length)[0]!;
      if (!fillers.some((f) => f.length > 0)) assert.ok(!out.includes(longest));
      assert.ok(out.includes(REDACTED));
    },
  ));
});

Deno.test("TailBuffer never holds more than its budget (property)", () => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 200 }),
    fc.array(fc.string({ maxLength: 300 }), { maxLength: 200 }),
    (limit, lines) => {
      const tail = new TailBuffer(limit);
      for (const l of lines) {
        tail.push(l);
        assert.ok(tail.size <= limit);
      }
      const text = lines.join("\n");
      const kept = tail.text();
      if (lines.length > 0) assert.ok(text.endsWith(kept.slice(-Math.min(kept.length, limit))));
    },
  ));
});
