import assert from "node:assert/strict";
import { join } from "node:path";
import { captureContext, execute } from "../command/contract.ts";
import { command } from "./event.ts";
import { main } from "./main.ts";
import { MAX_WEBHOOK_PAYLOAD_BYTES, type WebhookSettings } from "../models/event.ts";
import { signWebhookPayload } from "../models/webhook_signature.ts";
import {
  CASE_SETTINGS,
  caseConfigYaml,
  derive,
  referencePayload,
  WEBHOOK_CASES,
} from "../tests/_webhook_cases.ts";

const SECRET = "It's a Secret to Everybody";
const OLD_SECRET = "the-previous-secret";
const encoder = new TextEncoder();

/** A temp dir with aphex-config.yaml for `settings` (none when undefined); removed after `fn`. */
async function inDir(
  settings: WebhookSettings | undefined,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "aphex-event-" });
  try {
    if (settings) {
      await Deno.writeTextFile(join(dir, "aphex-config.yaml"), caseConfigYaml(settings));
    }
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function run(
  args: string[],
  options: { cwd: string; stdin?: Uint8Array; env?: Record<string, string> },
) {
  const ctx = captureContext(args, {
    cwd: options.cwd,
    env: { WEBHOOK_SECRET: SECRET, OLD_WEBHOOK_SECRET: OLD_SECRET, ...options.env },
    ...(options.stdin ? { stdin: options.stdin } : {}),
  });
  const code = await execute(command, ctx);
  const out = ctx.out.join("");
  const err = ctx.err.join("");
  assert.ok(!out.includes(SECRET) && !err.includes(SECRET), "a secret was echoed");
  assert.ok(!out.includes(OLD_SECRET) && !err.includes(OLD_SECRET), "a secret was echoed");
  return { code, out, err };
}

const bytesOf = (payload: unknown) => encoder.encode(JSON.stringify(payload));

Deno.test("event parse: every table row over stdin, signed, gives the expected action", async () => {
  for (const c of WEBHOOK_CASES) {
    await inDir(c.settings, async (cwd) => {
      const body = bytesOf(c.payload);
      const signature = await signWebhookPayload(body, SECRET);
      const args = ["--event", c.event, "--signature", signature, "--secret-env", "WEBHOOK_SECRET"];
      const r = await run(args, { cwd, stdin: body });
      assert.equal(r.code, 0, `${c.name}: ${r.err}`);
      const printed = JSON.parse(r.out);
      assert.equal(printed.action, c.expected, c.name);
      assert.equal(printed.event, c.event, c.name);
      assert.equal(typeof printed.reason, "string");
      if (c.expected !== "ignore") assert.match(printed.commitSha, /^[0-9a-f]{40}$/, c.name);
    });
  }
});

Deno.test("event parse: --file with the reference push prints the GitHubEvent and deploy", async () => {
  await inDir(CASE_SETTINGS, async (cwd) => {
    const raw = await Deno.readFile(
      new URL("../tests/fixtures/webhooks/push.drone.branch-commit.json", import.meta.url),
    );
    await Deno.writeFile(join(cwd, "push.json"), raw);
    const signature = await signWebhookPayload(raw, SECRET);
    const r = await run([
      "--file",
      "push.json",
      "--signature",
      signature,
      "--secret-env",
      "WEBHOOK_SECRET",
    ], {
      cwd,
    });
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out), {
      commitSha: "199eddf46df50de8d02e99bf1c5fdb4101338224",
      branch: "refs/heads/master",
      repoUrl: "https://github.com/Codertocat/Hello-World.git",
      author: "21031067+Codertocat@users.noreply.github.com",
      message: "Update README",
      timestamp: "2018-06-15T20:01:51.000Z",
      event: "push",
      action: "deploy",
      reason: "push to the pipeline branch master",
    });
  });
});

Deno.test("event parse: the exact file bytes are verified (pretty-printed JSON, same content)", async () => {
  await inDir(CASE_SETTINGS, async (cwd) => {
    const payload = referencePayload("push.drone.branch-commit");
    const compact = bytesOf(payload);
    const pretty = encoder.encode(JSON.stringify(payload, null, 2));
    const signature = await signWebhookPayload(compact, SECRET);
    const args = ["--signature", signature, "--secret-env", "WEBHOOK_SECRET"];
    assert.equal((await run(args, { cwd, stdin: compact })).code, 0);
    const r = await run(args, { cwd, stdin: pretty });
    assert.equal(r.code, 1);
    assert.equal(r.out, "");
  });
});

Deno.test("event parse: bad signatures exit 1 with nothing on stdout", async () => {
  await inDir(CASE_SETTINGS, async (cwd) => {
    const body = bytesOf(referencePayload("push.drone.branch-commit"));
    const good = await signWebhookPayload(body, SECRET);
    const sha1 = "sha1=" + "a".repeat(40);
    const cases: [string, string[], RegExp][] = [
      [
        "wrong signature",
        ["--signature", good.replace(/.$/, (c) => c === "0" ? "1" : "0")],
        /does not match/,
      ],
      ["sha1 only", ["--signature", sha1], /sha1/],
      ["uppercase hex", ["--signature", "sha256=" + good.slice(7).toUpperCase()], /malformed/],
      ["truncated", ["--signature", good.slice(0, 40)], /malformed/],
      ["missing", [], /missing/],
      ["empty", ["--signature", ""], /missing/],
    ];
    for (const [name, extra, reason] of cases) {
      const r = await run([...extra, "--secret-env", "WEBHOOK_SECRET"], { cwd, stdin: body });
      assert.equal(r.code, 1, name);
      assert.equal(r.out, "", name);
      assert.match(r.err, /webhook signature rejected/, name);
      assert.match(r.err, reason, name);
    }
  });
});

Deno.test("event parse: the signature header may come from APHEX_WEBHOOK_SIGNATURE", async () => {
  await inDir(CASE_SETTINGS, async (cwd) => {
    const body = bytesOf(referencePayload("pull_request.octokit.opened"));
    const signature = await signWebhookPayload(body, SECRET);
    const env = { APHEX_WEBHOOK_SIGNATURE: signature, APHEX_WEBHOOK_EVENT: "pull_request" };
    const r = await run(["--secret-env", "WEBHOOK_SECRET"], { cwd, stdin: body, env });
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).action, "validate");
  });
});

Deno.test("event parse: two --secret-env accept either secret (rotation)", async () => {
  await inDir(CASE_SETTINGS, async (cwd) => {
    const body = bytesOf(referencePayload("push.drone.branch-commit"));
    for (const secret of [SECRET, OLD_SECRET]) {
      const signature = await signWebhookPayload(body, secret);
      const r = await run(
        [
          "--signature",
          signature,
          "--secret-env",
          "WEBHOOK_SECRET",
          "--secret-env",
          "OLD_WEBHOOK_SECRET",
        ],
        { cwd, stdin: body },
      );
      assert.equal(r.code, 0, r.err);
      assert.equal(JSON.parse(r.out).action, "deploy");
    }
    const other = await signWebhookPayload(body, "neither");
    const r = await run(
      [
        "--signature",
        other,
        "--secret-env",
        "WEBHOOK_SECRET",
        "--secret-env",
        "OLD_WEBHOOK_SECRET",
      ],
      { cwd, stdin: body },
    );
    assert.equal(r.code, 1);
    assert.equal(r.out, "");
  });
});

Deno.test("event parse: secret options misused are usage errors (exit 2)", async () => {
  await inDir(CASE_SETTINGS, async (cwd) => {
    const body = bytesOf(referencePayload("push.drone.branch-commit"));
    const signature = await signWebhookPayload(body, SECRET);
    const cases: [string[], RegExp][] = [
      [["--signature", signature], /--signature needs --secret-env/],
      [["--signature", signature, "--secret-env", "UNSET_VAR"], /UNSET_VAR .*is not set/],
      [
        ["--signature", signature, ...["A", "B", "C"].flatMap((v) => ["--secret-env", v])],
        /at most 2/,
      ],
      [["--secret", SECRET], /Unknown option '--secret'/],
    ];
    for (const [args, message] of cases) {
      const r = await run(args, { cwd, stdin: body, env: { A: "a", B: "b", C: "c" } });
      assert.equal(r.code, 2, args.join(" "));
      assert.equal(r.out, "");
      assert.match(r.err, message);
    }
  });
});

Deno.test("event parse: unsigned input is parsed with a warning when no secret is configured", async () => {
  await inDir(CASE_SETTINGS, async (cwd) => {
    const r = await run([], { cwd, stdin: bytesOf(referencePayload("push.octokit.tag-delete")) });
    assert.equal(r.code, 0);
    assert.match(r.err, /signature not verified/);
    const printed = JSON.parse(r.out);
    assert.deepEqual(printed, {
      event: "push",
      action: "ignore",
      reason: "refs/tags/simple-tag was deleted",
    });
  });
});

Deno.test("event parse: invalid JSON and non-UTF-8 exit 2 after the signature passed", async () => {
  await inDir(CASE_SETTINGS, async (cwd) => {
    for (
      const [body, message] of [
        [encoder.encode('{"ref": "refs/heads/master",'), /invalid JSON.*application\/json/],
        [encoder.encode("payload=%7B%22ref%22%3A%22x%22%7D"), /invalid JSON/],
        [new Uint8Array([0x7b, 0xff, 0x7d]), /not valid UTF-8/],
      ] as const
    ) {
      const signature = await signWebhookPayload(body, SECRET);
      const r = await run(["--signature", signature, "--secret-env", "WEBHOOK_SECRET"], {
        cwd,
        stdin: body,
      });
      assert.equal(r.code, 2);
      assert.equal(r.out, "");
      assert.match(r.err, message);
    }
  });
});

Deno.test("event parse: a missing field is named (exit 2)", async () => {
  await inDir(CASE_SETTINGS, async (cwd) => {
    const body = bytesOf(
      derive(referencePayload("pull_request.octokit.opened"), { "pull_request.head.sha": null }),
    );
    const r = await run(["--event", "pull_request"], { cwd, stdin: body });
    assert.equal(r.code, 2);
    assert.equal(r.out, "");
    assert.match(r.err, /pull_request\.head\.sha: must be a string, got null/);
  });
});

Deno.test("event parse: payloads over 25 MB are refused before parsing (file and stdin)", async () => {
  await inDir(CASE_SETTINGS, async (cwd) => {
    const big = new Uint8Array(MAX_WEBHOOK_PAYLOAD_BYTES + 1).fill(0x20);
    await Deno.writeFile(join(cwd, "big.json"), big);
    for (const options of [{ args: ["--file", "big.json"] }, { args: [], stdin: big }]) {
      const r = await run(options.args, {
        cwd,
        ...(options.stdin ? { stdin: options.stdin } : {}),
      });
      assert.equal(r.code, 2);
      assert.equal(r.out, "");
      assert.match(r.err, /exceeds 26214400 bytes \(25 MB.*refused/);
    }
    // Exactly the limit is read (and then fails as JSON, proving it got that far).
    await Deno.writeFile(join(cwd, "limit.json"), big.subarray(1));
    const r = await run(["--file", "limit.json"], { cwd });
    assert.equal(r.code, 2);
    assert.match(r.err, /invalid JSON/);
  });
});

Deno.test("event parse: configuration — none found, explicit missing, invalid", async () => {
  await inDir(undefined, async (cwd) => {
    const body = bytesOf(referencePayload("push.drone.branch-commit"));
    const none = await run([], { cwd, stdin: body });
    assert.equal(none.code, 0);
    assert.match(none.err, /no aphex-config\.yaml here/);
    assert.equal(JSON.parse(none.out).action, "ignore");
    assert.match(JSON.parse(none.out).reason, /no pipeline\.github/);

    const missing = await run(["--config", "nope.yaml"], { cwd, stdin: body });
    assert.equal(missing.code, 2);
    assert.match(missing.err, /nope\.yaml: no such file/);

    await Deno.writeTextFile(join(cwd, "bad.yaml"), "version: 2\n");
    const bad = await run(["--config", "bad.yaml"], { cwd, stdin: body });
    assert.equal(bad.code, 2);
    assert.equal(bad.out, "");

    await Deno.writeTextFile(join(cwd, "other.yaml"), caseConfigYaml(CASE_SETTINGS));
    const ok = await run([], { cwd, stdin: body, env: { APHEX_CONFIG: "other.yaml" } });
    assert.equal(JSON.parse(ok.out).action, "deploy");
  });
});

Deno.test("event parse: unreadable --file is a usage error", async () => {
  await inDir(CASE_SETTINGS, async (cwd) => {
    const r = await run(["--file", "absent.json"], { cwd });
    assert.equal(r.code, 2);
    assert.match(r.err, /absent\.json: cannot read/);
  });
});

Deno.test("aphex event parse: dispatched by the CLI, with --help", async () => {
  const help = captureContext(["event", "parse", "--help"]);
  assert.equal(await main(help), 0);
  const text = help.out.join("");
  assert.match(text, /Usage: aphex event parse/);
  assert.match(text, /--secret-env VAR/);
  const group = captureContext(["event"]);
  assert.equal(await main(group), 2);
  assert.match(group.err.join(""), /event parse/);
});

Deno.test("event parse: a directory as --file is a usage error, not a crash", async () => {
  await inDir(CASE_SETTINGS, async (cwd) => {
    await Deno.mkdir(join(cwd, "payload.d"));
    const r = await run(["--file", "payload.d"], { cwd });
    assert.equal(r.code, 2);
    assert.match(r.err, /payload\.d: cannot read/);
    assert.doesNotMatch(r.err, /internal error/);
  });
});

Deno.test("event parse: GitHub's HMAC test vector passes the signature check, tampered fails", async () => {
  await inDir(CASE_SETTINGS, async (cwd) => {
    const vector = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    const args = ["--signature", vector, "--secret-env", "WEBHOOK_SECRET"];
    // Verified, then rejected as a payload: "Hello, World!" is not JSON (exit 2, not 1).
    const ok = await run(args, { cwd, stdin: encoder.encode("Hello, World!") });
    assert.equal(ok.code, 2);
    assert.doesNotMatch(ok.err, /signature/);
    assert.match(ok.err, /invalid JSON/);
    const tampered = await run(args, { cwd, stdin: encoder.encode("Hello, World?") });
    assert.equal(tampered.code, 1);
    assert.equal(tampered.out, "");
    assert.match(tampered.err, /signature rejected: the signature does not match/);
  });
});
