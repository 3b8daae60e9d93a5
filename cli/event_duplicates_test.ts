import assert from "node:assert/strict";
import { captureContext, execute } from "../command/contract.ts";
import { command } from "./event.ts";
import { signWebhookPayload } from "../models/webhook_signature.ts";

const SECRET = "duplicate-key-test-secret";
const SHA_A = "a".repeat(40);
const SHA_B = "b".repeat(40);

async function parse(body: string) {
  const bytes = new TextEncoder().encode(body);
  const signature = await signWebhookPayload(bytes, SECRET);
  const cwd = await Deno.makeTempDir();
  try {
    const ctx = captureContext(
      ["--event", "push", "--signature", signature, "--secret-env", "WEBHOOK_SECRET"],
      { cwd, env: { WEBHOOK_SECRET: SECRET }, stdin: bytes },
    );
    const code = await execute(command, ctx);
    return { code, out: ctx.out.join(""), err: ctx.err.join("") };
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
}

const push = (inner: string) =>
  `{"ref":"refs/heads/main",${inner},"repository":{"full_name":"o/r","clone_url":"https://github.com/o/r.git"},` +
  `"head_commit":{"id":"${SHA_A}","timestamp":"2026-01-01T00:00:00Z"},"pusher":{"name":"p"}}`;

// Issue 13 item 12: a signed body whose readers disagree (JSON.parse last-wins, gjson first-wins).
Deno.test("event parse: a signed payload with duplicate keys at any depth exits 1 naming the key", async () => {
  const ok = await parse(push(`"after":"${SHA_A}","before":"${"0".repeat(40)}"`));
  assert.equal(ok.code, 0, ok.err);
  for (
    const [body, path] of [
      [push(`"after":"${SHA_A}","after":"${SHA_B}"`), "after"],
      [`{"ref":"refs/heads/x","ref":"refs/heads/main","after":"${SHA_A}"}`, "ref"],
      [push(`"after":"${SHA_A}","pusher":{"name":"a","name":"b"}`), "pusher.name"],
      [
        push(`"after":"${SHA_A}","commits":[{"id":"1"},{"id":"2","\\u0069d":"3"}]`),
        "commits[1].id",
      ],
    ] as const
  ) {
    const r = await parse(body);
    assert.equal(r.code, 1, `${path}: ${r.err}`);
    assert.equal(r.out, "", "nothing on stdout");
    assert.match(r.err, new RegExp(`duplicate key ${path.replace(/[[\]().]/g, "\\$&")}`));
  }
});
