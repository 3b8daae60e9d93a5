import assert from "node:assert/strict";
import fc from "fast-check";
import { signWebhookPayload, verifyWebhookSignature } from "./webhook_signature.ts";

// GitHub's documented test vector (docs: "Validating webhook deliveries").
const SECRET = "It's a Secret to Everybody";
const PAYLOAD = new TextEncoder().encode("Hello, World!");
const SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

Deno.test("signWebhookPayload: reproduces GitHub's test vector", async () => {
  assert.equal(await signWebhookPayload(PAYLOAD, SECRET), SIGNATURE);
});

Deno.test("verifyWebhookSignature: accepts GitHub's test vector", async () => {
  assert.deepEqual(
    await verifyWebhookSignature(PAYLOAD, { signature: SIGNATURE, secrets: [SECRET] }),
    {
      ok: true,
    },
  );
});

Deno.test("verifyWebhookSignature: tampered variants are rejected with a reason", async () => {
  const tamperedPayload = new TextEncoder().encode("Hello, World?");
  const flipped = SIGNATURE.slice(0, -1) + (SIGNATURE.endsWith("7") ? "8" : "7");
  const cases: [string, Uint8Array, string | undefined, string[], RegExp][] = [
    ["one payload byte changed", tamperedPayload, SIGNATURE, [SECRET], /does not match/],
    [
      "trailing newline added",
      new TextEncoder().encode("Hello, World!\n"),
      SIGNATURE,
      [SECRET],
      /does not match/,
    ],
    ["signature changed", PAYLOAD, flipped, [SECRET], /does not match/],
    ["wrong secret", PAYLOAD, SIGNATURE, ["It's a Secret to Everybody!"], /does not match/],
    ["wrong prefix", PAYLOAD, SIGNATURE.replace("sha256=", "sha512="), [SECRET], /malformed/],
    ["no prefix", PAYLOAD, SIGNATURE.slice("sha256=".length), [SECRET], /malformed/],
    [
      "sha1 header",
      PAYLOAD,
      "sha1=9b3e5d3f2b5b5c1c8a6c0d2b4e1f7a8c9d0e1f2a",
      [SECRET],
      /sha1.*X-Hub-Signature-256/,
    ],
    ["uppercase hex", PAYLOAD, "sha256=" + SIGNATURE.slice(7).toUpperCase(), [SECRET], /malformed/],
    ["truncated", PAYLOAD, SIGNATURE.slice(0, -2), [SECRET], /malformed/],
    ["extended", PAYLOAD, SIGNATURE + "00", [SECRET], /malformed/],
    ["surrounding space", PAYLOAD, ` ${SIGNATURE}`, [SECRET], /malformed/],
    ["empty", PAYLOAD, "", [SECRET], /missing/],
    ["missing", PAYLOAD, undefined, [SECRET], /missing/],
    ["no secret", PAYLOAD, SIGNATURE, [], /no webhook secret/],
    ["empty secret", PAYLOAD, SIGNATURE, [""], /no webhook secret/],
  ];
  for (const [name, body, signature, secrets, reason] of cases) {
    const r = await verifyWebhookSignature(body, { signature, secrets });
    assert.equal(r.ok, false, name);
    assert.match((r as { reason: string }).reason, reason, name);
    assert.ok(!(r as { reason: string }).reason.includes(SECRET), name);
  }
});

Deno.test("verifyWebhookSignature: two secrets during rotation, either order", async () => {
  const old = "previous-secret";
  assert.equal(
    (await verifyWebhookSignature(PAYLOAD, { signature: SIGNATURE, secrets: [old, SECRET] })).ok,
    true,
  );
  assert.equal(
    (await verifyWebhookSignature(PAYLOAD, { signature: SIGNATURE, secrets: [SECRET, old] })).ok,
    true,
  );
  const oldSig = await signWebhookPayload(PAYLOAD, old);
  assert.equal(
    (await verifyWebhookSignature(PAYLOAD, { signature: oldSig, secrets: [SECRET, old] })).ok,
    true,
  );
  assert.equal(
    (await verifyWebhookSignature(PAYLOAD, { signature: oldSig, secrets: [SECRET] })).ok,
    false,
  );
  assert.equal(
    (await verifyWebhookSignature(PAYLOAD, { signature: SIGNATURE, secrets: ["a", "b"] })).ok,
    false,
  );
});

Deno.test("verifyWebhookSignature: checks the exact bytes, including non-UTF-8 bodies", async () => {
  const body = new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]); // not valid UTF-8
  const signature = await signWebhookPayload(body, SECRET);
  assert.equal((await verifyWebhookSignature(body, { signature, secrets: [SECRET] })).ok, true);
  // The UTF-8 replacement of those bytes is a different body.
  const replaced = new TextEncoder().encode(new TextDecoder().decode(body));
  assert.equal(
    (await verifyWebhookSignature(replaced, { signature, secrets: [SECRET] })).ok,
    false,
  );
});

Deno.test("verifyWebhookSignature: sign/verify round trip; any single-byte change fails (property)", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ minLength: 1, maxLength: 256 }),
      fc.string({ minLength: 1 }),
      fc.nat(),
      fc.integer({ min: 1, max: 255 }),
      async (body, secret, at, delta) => {
        const signature = await signWebhookPayload(body, secret);
        assert.equal(
          (await verifyWebhookSignature(body, { signature, secrets: [secret] })).ok,
          true,
        );
        const changed = body.slice();
        const i = at % changed.length;
        changed[i] = (changed[i]! + delta) % 256;
        assert.equal(
          (await verifyWebhookSignature(changed, { signature, secrets: [secret] })).ok,
          false,
        );
      },
    ),
    { numRuns: 200 },
  );
});
