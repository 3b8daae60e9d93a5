/**
 * `aphex event parse`: verifies a GitHub webhook's signature over the raw bytes, parses the payload
 * and prints the GitHubEvent with the pipeline's decision (`deploy`, `validate` or `ignore`).
 * @module
 */
import { resolve } from "node:path";
import {
  type Command,
  type CommandContext,
  readBounded,
  runMain,
  str,
} from "../command/contract.ts";
import { DEFAULT_CONFIG_FILE, loadConfigFile } from "../command/config_file.ts";
import { AphexError, ExitCode, usageError } from "../models/errors.ts";
import { findDuplicateKey } from "../models/_json_keys.ts";
import {
  GitHubEventCodec,
  interpretWebhook,
  MAX_WEBHOOK_PAYLOAD_BYTES,
  type WebhookSettings,
} from "../models/event.ts";
import { verifyWebhookSignature } from "../models/webhook_signature.ts";

/** Most `--secret-env` values: the current secret and the one being rotated out. */
const MAX_SECRETS = 2;

function tooLarge(what: string): AphexError {
  return usageError(
    `${what}: payload exceeds ${MAX_WEBHOOK_PAYLOAD_BYTES} bytes (25 MB, GitHub's limit); refused`,
  );
}

async function readPayload(file: string | undefined, ctx: CommandContext): Promise<Uint8Array> {
  if (file === undefined || file === "-") {
    if (!ctx.stdin) throw usageError("aphex event parse: no standard input; pass --file FILE");
    return await ctx.stdin({
      maxBytes: MAX_WEBHOOK_PAYLOAD_BYTES,
      tooLarge: () => tooLarge("stdin"),
    });
  }
  let handle: Deno.FsFile;
  try {
    handle = await Deno.open(resolve(ctx.cwd, file), { read: true });
  } catch (e) {
    throw usageError(`${file}: cannot read: ${e instanceof Error ? e.message : e}`);
  }
  // The stream closes the file when it ends or is cancelled.
  try {
    return await readBounded(handle.readable, {
      maxBytes: MAX_WEBHOOK_PAYLOAD_BYTES,
      tooLarge: () => tooLarge(file),
    });
  } catch (e) {
    if (e instanceof AphexError) throw e;
    throw usageError(`${file}: cannot read: ${e instanceof Error ? e.message : e}`);
  }
}

async function readSettings(
  file: string | undefined,
  ctx: CommandContext,
): Promise<WebhookSettings | undefined> {
  if (file === undefined) {
    try {
      await Deno.stat(resolve(ctx.cwd, DEFAULT_CONFIG_FILE));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      ctx.stderr(
        `note: no ${DEFAULT_CONFIG_FILE} here and no --config; deciding without configuration\n`,
      );
      return undefined;
    }
    file = DEFAULT_CONFIG_FILE;
  }
  const { pipeline } = await loadConfigFile(file, { cwd: ctx.cwd });
  const settings: WebhookSettings = { pullRequests: { ...pipeline.pullRequests } };
  if (pipeline.github) {
    const { owner, repo, branch } = pipeline.github;
    settings.github = { owner, repo, branch };
  }
  return settings;
}

function secretsFrom(names: string[], ctx: CommandContext): string[] {
  if (names.length > MAX_SECRETS) {
    throw usageError(
      `aphex event parse: --secret-env given ${names.length} times; at most ${MAX_SECRETS} ` +
        "(current and previous secret during a rotation)",
    );
  }
  return names.map((name) => {
    const value = ctx.env[name];
    if (value === undefined || value === "") {
      throw usageError(`aphex event parse: environment variable ${name} (--secret-env) is not set`);
    }
    return value;
  });
}

function parseJson(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw usageError("webhook payload: not valid UTF-8 text");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw usageError(
      `webhook payload: invalid JSON (${e instanceof Error ? e.message : e}); the webhook must ` +
        "use content type application/json",
    );
  }
  // Event boundary: JSON.parse keeps the last of duplicate keys, the Sensor's gjson the first;
  // a body where they could disagree (which commit, which ref) is rejected (models/_json_keys.ts).
  const duplicate = findDuplicateKey(text);
  if (duplicate !== undefined) {
    throw new AphexError(
      `webhook payload rejected: duplicate key ${duplicate} (readers disagree on which value counts)`,
    );
  }
  return value;
}

/** The `event parse` command. */
export const command: Command = {
  spec: {
    name: "event parse",
    summary: "Verify and parse a GitHub webhook; print the event and deploy/validate/ignore",
    description: [
      "Reads the raw webhook body from --file or standard input (at most 25 MB), verifies",
      "X-Hub-Signature-256 over the exact bytes when --signature/--secret-env are given, and prints",
      "the GitHubEvent JSON with the pipeline's decision (action, reason) on stdout.",
      "Secrets are read from the named environment variables, never from the command line.",
      `Settings come from --config, else ${DEFAULT_CONFIG_FILE} in the working directory if present.`,
      "A bad or missing signature exits 1 and prints nothing on stdout.",
    ].join("\n"),
    options: {
      file: {
        type: "string",
        description: "Webhook body file (default: standard input)",
        valueName: "FILE",
      },
      event: {
        type: "string",
        description:
          "X-GitHub-Event header (push, pull_request); inferred from the payload if unset",
        env: "APHEX_WEBHOOK_EVENT",
        valueName: "KIND",
      },
      signature: {
        type: "string",
        description: "X-Hub-Signature-256 header value (sha256=…)",
        env: "APHEX_WEBHOOK_SIGNATURE",
        valueName: "HEADER",
      },
      "secret-env": {
        type: "string",
        description:
          "Name of the environment variable holding the webhook secret (twice to rotate)",
        multiple: true,
        valueName: "VAR",
      },
      config: {
        type: "string",
        description: `Configuration file (default ${DEFAULT_CONFIG_FILE} if present)`,
        env: "APHEX_CONFIG",
        valueName: "FILE",
      },
    },
  },
  async run(values, _positionals, ctx) {
    const secretNames = (values["secret-env"] as string[] | undefined) ?? [];
    const signature = str(values, "signature");
    if (signature !== undefined && secretNames.length === 0) {
      throw usageError("aphex event parse: --signature needs --secret-env VAR naming the secret");
    }
    const secrets = secretsFrom(secretNames, ctx);
    const settings = await readSettings(str(values, "config"), ctx);
    const bytes = await readPayload(str(values, "file"), ctx);
    if (secrets.length > 0) {
      const check = await verifyWebhookSignature(bytes, { signature, secrets });
      if (!check.ok) {
        ctx.stderr(`error: webhook signature rejected: ${check.reason}\n`);
        return ExitCode.Failed;
      }
    } else {
      ctx.stderr("warning: signature not verified (no --secret-env given)\n");
    }
    const payload = parseJson(bytes);
    const event = str(values, "event");
    const result = interpretWebhook(payload, {
      ...(event ? { event } : {}),
      ...(settings ? { settings } : {}),
    });
    const out = {
      ...(result.event ? GitHubEventCodec.encode(result.event) as Record<string, unknown> : {}),
      event: result.kind,
      action: result.action,
      reason: result.reason,
    };
    ctx.stdout(JSON.stringify(out) + "\n");
    return ExitCode.Ok;
  },
};

if (import.meta.main) await runMain(command);
