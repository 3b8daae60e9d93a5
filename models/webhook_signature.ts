/**
 * GitHub webhook signatures (`X-Hub-Signature-256`): HMAC-SHA256 over the exact raw body bytes,
 * compared in constant time. Used by `aphex event parse`; no I/O.
 *
 * Not `@octokit/webhooks-methods`: its `verify` takes the payload as a string and re-encodes it
 * as UTF-8 (so bodies that are not valid UTF-8 are not checked byte for byte), and its web build
 * accepts any hex pairs found in the header.
 * @module
 */
import { timingSafeEqual } from "node:crypto";

/** Header prefix of a SHA-256 signature. */
export const SIGNATURE_PREFIX = "sha256=";

const SIGNATURE_PATTERN = /^sha256=[0-9a-f]{64}$/;

/** Result of {@linkcode verifyWebhookSignature}: ok, or why not (never contains a secret). */
export type SignatureCheck = { ok: true } | { ok: false; reason: string };

/** Options of {@linkcode verifyWebhookSignature}. */
export interface VerifyOptions {
  /** The `X-Hub-Signature-256` header value (`sha256=<64 lowercase hex>`). */
  signature: string | undefined;
  /** Accepted secrets: one, or two during a rotation (either one is accepted). */
  secrets: readonly string[];
}

const encoder = new TextEncoder();

async function hmac(secret: string, body: Uint8Array): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, body as Uint8Array<ArrayBuffer>));
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * Signs a body as GitHub does: `sha256=` + lowercase hex HMAC-SHA256 of the raw bytes.
 *
 * @example
 * ```ts
 * await signWebhookPayload(new TextEncoder().encode("Hello, World!"), "It's a Secret to Everybody");
 * // "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
 * ```
 */
export async function signWebhookPayload(body: Uint8Array, secret: string): Promise<string> {
  if (secret === "") throw new TypeError("signWebhookPayload: the secret is empty");
  return SIGNATURE_PREFIX + toHex(await hmac(secret, body));
}

/**
 * Verifies an `X-Hub-Signature-256` header over the exact raw body bytes. The header must be
 * `sha256=` followed by 64 lowercase hex digits (GitHub's format); a missing, empty, malformed or
 * sha1-only (`sha1=…`) header fails. Every secret is tried (no early exit) and digests are compared
 * with `timingSafeEqual`.
 */
export async function verifyWebhookSignature(
  body: Uint8Array,
  options: VerifyOptions,
): Promise<SignatureCheck> {
  const { signature, secrets } = options;
  if (secrets.length === 0 || secrets.some((s) => s === "")) {
    return { ok: false, reason: "no webhook secret to verify the signature with" };
  }
  if (signature === undefined || signature === "") {
    return { ok: false, reason: "the X-Hub-Signature-256 signature is missing" };
  }
  if (/^sha1=/i.test(signature)) {
    return {
      ok: false,
      reason: "only a sha1 signature (X-Hub-Signature) was given; X-Hub-Signature-256 " +
        "(sha256=…) is required",
    };
  }
  if (!SIGNATURE_PATTERN.test(signature)) {
    return {
      ok: false,
      reason: "the signature is malformed: expected sha256= followed by 64 lowercase hex digits",
    };
  }
  const given = fromHex(signature.slice(SIGNATURE_PREFIX.length));
  let matched = false;
  for (const secret of secrets) {
    const expected = await hmac(secret, body);
    // Evaluate every secret: which one matched must not show in the timing.
    matched = timingSafeEqual(expected, given) || matched;
  }
  return matched ? { ok: true } : { ok: false, reason: "the signature does not match the payload" };
}
