import assert from "node:assert/strict";
import fc from "fast-check";
import { runShellCommand } from "./exec.ts";
import { makeSecretRedactor, REDACTED, secretForms, StreamRedactor } from "./redact.ts";

const PEM = [
  "-----BEGIN RSA PRIVATE KEY-----",
  "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi+gcn0nE0a2sZ9cWbY1xu4Zr0p",
  "q1bGJYbF8D1rS9uRzsCC8z2/w+rdXo0sG7W4b8k3kBk1r7d7/yVtZ6ZgyB+QqHnT",
  "-----END RSA PRIVATE KEY-----",
].join("\n");

const ENV = { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: "/tmp" };

async function run(command: string, env: Record<string, string>) {
  const lines: string[] = [];
  const cwd = await Deno.makeTempDir();
  try {
    const outcome = await runShellCommand(command, {
      cwd,
      env: { ...ENV, ...env },
      label: "t",
      log: (l) => lines.push(l),
    });
    return { lines, all: [...lines, outcome.stdoutTail, outcome.stderrTail].join("\n"), outcome };
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
}

// Issue 13 item 3: a multi-line secret printed by a failing command, raw and JSON-escaped.
Deno.test("redaction: multi-line PEM secret, raw and JSON-escaped, never reaches logs or tails", async () => {
  const { all, outcome } = await run(
    `printf '%s\\n' "$TLS_PRIVATE_KEY" >&2; ` +
      `printf '{"key":"%s"}\\n' "\${TLS_PRIVATE_KEY//$'\\n'/\\\\n}"; exit 3`,
    { TLS_PRIVATE_KEY: PEM },
  );
  assert.equal(outcome.exitCode, 3);
  for (const line of PEM.split("\n").slice(1, 3)) assert.ok(!all.includes(line), `leaked ${line}`);
  assert.ok(!all.includes(JSON.stringify(PEM).slice(1, -1)));
  assert.ok(all.includes(`{"key":"${REDACTED}"}`), all);
});

// Issue 13 item 4: a secret straddling the 16 KiB line split.
Deno.test("redaction: a secret crossing the 16 KiB line split is still redacted", async () => {
  const secret = "s3cr3t-0123456789-abcdefghij";
  for (const pad of [16 * 1024 - 5, 16 * 1024 - 1, 2 * 16 * 1024 - 10]) {
    const { lines } = await run(
      // No newline in the same write: the reader cuts the partial line at 16 KiB.
      `head -c ${pad} /dev/zero | tr '\\0' x; printf '%s' "$API_TOKEN"; sleep 0.2; echo`,
      { API_TOKEN: secret },
    );
    // Put the pieces back together: the secret is replaced whole, never leaked in halves.
    const text = lines.map((l) => l.replace(/^\[t\] /, "")).join("");
    assert.equal(text, "x".repeat(pad) + REDACTED, `pad ${pad}`);
  }
});

Deno.test("redaction: URL-encoded form and every long line of a multi-line secret", () => {
  const redact = makeSecretRedactor(["p@ss word/with&stuff", PEM]);
  assert.equal(
    redact(`url=https://x/?p=${encodeURIComponent("p@ss word/with&stuff")}`),
    `url=https://x/?p=${REDACTED}`,
  );
  assert.equal(redact("form=p%40ss+word%2Fwith%26stuff"), `form=${REDACTED}`);
  const second = PEM.split("\n")[1]!;
  assert.equal(redact(`  ${second}  `), `  ${REDACTED}  `);
  assert.ok(secretForms("short\nab").includes("short\nab"));
  assert.ok(!secretForms("short\nab").includes("ab"), "lines under 8 characters are not forms");
});

Deno.test("StreamRedactor: any chunking gives the same output as redacting the whole (property)", () => {
  fc.assert(fc.property(
    fc.array(
      fc.string({ unit: fc.constantFrom("a", "b", "\n", "c"), minLength: 4, maxLength: 12 }),
      {
        minLength: 1,
        maxLength: 3,
      },
    ),
    fc.array(fc.string({ unit: fc.constantFrom("a", "b", "\n", "x"), maxLength: 30 }), {
      maxLength: 8,
    }),
    fc.array(fc.nat(60), { maxLength: 6 }),
    (secrets, fillers, cuts) => {
      const redact = makeSecretRedactor(secrets);
      const text = fillers.map((f, i) => f + secrets[i % secrets.length]).join("");
      const whole = redact(text);
      const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
      const stream = new StreamRedactor(redact.forms);
      let out = "";
      let last = 0;
      for (const p of [...points, text.length]) {
        out += stream.push(text.slice(last, p));
        last = p;
      }
      out += stream.flush();
      assert.equal(out, whole);
      for (const s of secrets) if (!s.includes(REDACTED)) assert.ok(!whole.includes(s));
    },
  ));
});

// Secrets the stage received from Kubernetes Secrets are redacted even without a "secret" name:
// the Slack-compatible webhook URL is a bearer credential.
Deno.test("redaction: the webhook URL from a Kubernetes Secret is redacted", async () => {
  const url = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX";
  const { all } = await run(`echo "posting to $APHEX_SLACK_WEBHOOK_URL"`, {
    APHEX_SLACK_WEBHOOK_URL: url,
  });
  assert.ok(!all.includes("XXXXXXXXXXXXXXXXXXXXXXXX"), all);
  assert.ok(all.includes(`posting to ${REDACTED}`), all);
});
