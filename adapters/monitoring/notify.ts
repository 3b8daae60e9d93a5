/**
 * Run notifications: an SNS topic and/or a Slack-compatible incoming webhook, with the workflow,
 * commit, environment, failing stage, error summary and a link to the Argo UI.
 *
 * Delivery is retried a bounded number of times with exponential backoff (sleep injected for
 * tests) and never throws: a failed delivery is logged and returned, so a notification problem can
 * never mask the pipeline's own result. The webhook URL is a secret (it embeds the token): it comes
 * from an environment variable set from a Kubernetes secret and is never logged; errors that
 * mention it are redacted. The SNS SDK is imported lazily.
 * @module
 */
import { RetriesExhausted, retrying } from "../retry.ts";
import type { SNSClient } from "@aws-sdk/client-sns";
import type { RunStatus } from "../../models/metadata.ts";
import type { AwsClientOptions } from "../aws/clients.ts";
import { makeRedactor, type Redactor } from "../process/exec.ts";
import { type AwsRetryOptions, describeAwsError, withAwsRetry } from "../aws/retry_policy.ts";
import { monitoringClientConfig } from "./clients.ts";

/** Environment variable holding the incoming-webhook URL (from the Kubernetes secret). */
export const SLACK_WEBHOOK_ENV = "APHEX_SLACK_WEBHOOK_URL";

/** Longest error summary put in a notification (characters; the tail is kept). */
export const MAX_SUMMARY_CHARS = 1500;

/** What a notification says about a run. */
export interface RunSummary {
  /** Workflow name. */
  workflowId: string;
  /** Commit SHA. */
  commitSha: string;
  /** Branch or ref. */
  branch: string;
  /** Final status. */
  status: Exclude<RunStatus, "running">;
  /** Environment of the failing stage, if any. */
  environment: string | null;
  /** First failing stage, if any. */
  failedStage: string | null;
  /** Error message of the failing stage (bounded). */
  errorSummary: string | null;
  /** Argo UI link of the workflow, if `pipeline.argoUrl` is set. */
  argoLink: string | null;
  /** Run duration in seconds. */
  durationSeconds: number;
  /** `owner/repo`, if known. */
  repository: string | null;
  /** The Workflow that took over a superseded run (absent or null otherwise). */
  supersededBy?: string | null;
  /** Deployment plans of the run, one line per environment (`<env>: <summary>`). */
  plans?: string[];
}

/** `<argoUrl>/workflows/<namespace>/<workflow>` (trailing slashes of the base removed). */
export function argoWorkflowUrl(
  argoUrl: string,
  options: { namespace: string; workflow: string },
): string {
  const base = argoUrl.replace(/\/+$/, "");
  return `${base}/workflows/${encodeURIComponent(options.namespace)}/${
    encodeURIComponent(options.workflow)
  }`;
}

/** Keeps the last {@linkcode MAX_SUMMARY_CHARS} characters of an error message. */
export function boundSummary(text: string): string {
  const trimmed = text.trim();
  return trimmed.length <= MAX_SUMMARY_CHARS
    ? trimmed
    : `…${trimmed.slice(trimmed.length - MAX_SUMMARY_CHARS + 1)}`;
}

/** `1h 02m 03s`, `4m 05s`, `7s`. */
export function formatDuration(totalSeconds: number): string {
  const s = Math.max(0, Math.round(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}h ${String(m).padStart(2, "0")}m ${String(sec).padStart(2, "0")}s`;
  if (m > 0) return `${m}m ${String(sec).padStart(2, "0")}s`;
  return `${sec}s`;
}

/** Escapes Slack mrkdwn control characters (`&`, `<`, `>`), so data cannot form links or mentions. */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function headline(summary: RunSummary): string {
  if (summary.status === "superseded") {
    return `Aphex pipeline superseded by ${summary.supersededBy ?? "a resubmitted run"}`;
  }
  return summary.status === "succeeded"
    ? "Aphex pipeline succeeded"
    : `Aphex pipeline failed${summary.failedStage ? ` at ${summary.failedStage}` : ""}`;
}

const SUBJECT_STATUS = { succeeded: "SUCCEEDED", failed: "FAILED", superseded: "SUPERSEDED" };
const SLACK_ICON = { succeeded: ":white_check_mark:", failed: ":x:", superseded: ":fast_forward:" };

/** Plain-text notification body (SNS message, e-mail subscribers). */
export function formatNotificationText(summary: RunSummary): string {
  const lines = [
    `${headline(summary)}: ${summary.workflowId}`,
    "",
    `Workflow:     ${summary.workflowId}`,
    ...(summary.repository ? [`Repository:   ${summary.repository}`] : []),
    `Commit:       ${summary.commitSha}`,
    `Branch:       ${summary.branch}`,
    `Status:       ${summary.status}`,
    `Duration:     ${formatDuration(summary.durationSeconds)}`,
  ];
  if (summary.environment) lines.push(`Environment:  ${summary.environment}`);
  if (summary.failedStage) lines.push(`Failed stage: ${summary.failedStage}`);
  if (summary.supersededBy) lines.push(`Continued in: ${summary.supersededBy}`);
  for (const plan of summary.plans ?? []) lines.push(`Plan:         ${plan}`);
  if (summary.argoLink) lines.push(`Argo UI:      ${summary.argoLink}`);
  if (summary.errorSummary) lines.push("", "Error:", summary.errorSummary);
  return lines.join("\n") + "\n";
}

/** SNS subject: printable ASCII, at most 100 characters. */
export function formatSubject(summary: RunSummary): string {
  const text = `[Aphex] ${SUBJECT_STATUS[summary.status]}${
    summary.failedStage ? ` at ${summary.failedStage}` : ""
  }: ${summary.workflowId}`;
  const ascii = text.replace(/[^\x20-\x7e]/g, "?");
  return ascii.length <= 100 ? ascii : `${ascii.slice(0, 97)}...`;
}

/** Slack-compatible incoming-webhook payload (`{"text": …}` in mrkdwn; data escaped). */
export function slackPayload(summary: RunSummary): { text: string } {
  const icon = SLACK_ICON[summary.status];
  const workflow = summary.argoLink
    ? `<${summary.argoLink}|${escapeSlack(summary.workflowId)}>`
    : `\`${escapeSlack(summary.workflowId)}\``;
  const lines = [
    `${icon} *${escapeSlack(headline(summary))}*: ${workflow}`,
    `*Commit:* \`${escapeSlack(summary.commitSha.slice(0, 12))}\` on \`${
      escapeSlack(summary.branch)
    }\`${summary.repository ? ` (${escapeSlack(summary.repository)})` : ""}`,
    `*Duration:* ${formatDuration(summary.durationSeconds)}`,
  ];
  for (const plan of summary.plans ?? []) lines.push(`*Plan:* ${escapeSlack(plan)}`);
  if (summary.environment) lines.push(`*Environment:* ${escapeSlack(summary.environment)}`);
  if (summary.failedStage) lines.push(`*Failed stage:* ${escapeSlack(summary.failedStage)}`);
  if (summary.errorSummary) {
    lines.push(`*Error:*\n\`\`\`${escapeSlack(summary.errorSummary.replace(/```/g, "'''"))}\`\`\``);
  }
  if (summary.argoLink) lines.push(`<${summary.argoLink}|Open in Argo>`);
  return { text: lines.join("\n") };
}

// ---------------------------------------------------------------------------------------------
// Delivery

/** Result of one delivery (SNS publish, webhook POST, GitHub status). */
export interface DeliveryResult {
  /** What was delivered, e.g. `sns`, `webhook`, `github aphex/prod`. */
  channel: string;
  /** Whether it was delivered. */
  ok: boolean;
  /** Attempts made. */
  attempts: number;
  /** Last error (redacted), when not delivered. */
  error?: string;
}

/** Retry settings of HTTP deliveries. */
export interface HttpRetryOptions {
  /** Total attempts (default 3). */
  maxAttempts?: number;
  /** Delay before the first retry in ms (default 1000), doubled each retry. */
  baseDelayMs?: number;
  /** Sleep (tests inject a recorder). */
  sleep?: (ms: number) => Promise<void>;
  /** Per-attempt timeout in ms (default 10 000). */
  timeoutMs?: number;
  /** fetch implementation (default the global one). */
  fetch?: typeof fetch;
}

/** Options of {@linkcode postJson}. */
export interface PostJsonOptions extends HttpRetryOptions {
  /** Channel name for the result. */
  channel: string;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Values never to appear in errors (token, the URL itself). */
  secrets?: string[];
}

/** An error's message with its cause (fetch puts the useful part, and the URL, in the cause). */
function errorText(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = e.cause instanceof Error ? e.cause.message : "";
  return cause && !e.message.includes(cause) ? `${e.message}: ${cause}` : e.message;
}

class HttpStatusError extends Error {
  readonly retryable: boolean;
  constructor(status: number, body: string) {
    super(`HTTP ${status}${body ? `: ${body}` : ""}`);
    this.retryable = status === 408 || status === 429 || status >= 500;
  }
}

/**
 * POSTs a JSON body, retrying network errors, timeouts, 408, 429 and 5xx with exponential
 * backoff (`baseDelayMs`, doubled each time) up to `maxAttempts`. Never throws.
 */
export async function postJson(
  url: string,
  body: unknown,
  options: PostJsonOptions,
): Promise<DeliveryResult> {
  const redact: Redactor = makeRedactor(
    (options.secrets ?? []).filter((s) => s.length >= 4),
  );
  const doFetch = options.fetch ?? fetch;
  const text = JSON.stringify(body);
  const attempt = async () => {
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new Error(`timed out after ${options.timeoutMs ?? 10_000} ms`)),
      options.timeoutMs ?? 10_000,
    );
    try {
      const res = await doFetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", ...options.headers },
        body: text,
        signal: controller.signal,
      });
      const responseText = (await res.text()).slice(0, 300).replace(/\s+/g, " ").trim();
      if (!res.ok) throw new HttpStatusError(res.status, responseText);
    } finally {
      clearTimeout(timer);
    }
  };
  try {
    const { attempts } = await retrying(attempt, {
      maxAttempts: options.maxAttempts ?? 3,
      // Network errors and timeouts are retried; HTTP statuses only when transient.
      retryable: (e) => !(e instanceof HttpStatusError) || e.retryable,
      delayMs: (retry) => (options.baseDelayMs ?? 1000) * 2 ** (retry - 1),
      ...(options.sleep ? { sleep: options.sleep } : {}),
    });
    return { channel: options.channel, ok: true, attempts };
  } catch (e) {
    const failure = e instanceof RetriesExhausted ? e : new RetriesExhausted(e, 1, false);
    return {
      channel: options.channel,
      ok: false,
      attempts: failure.attempts,
      error: redact(errorText(failure.cause)),
    };
  }
}

/** Secret forms of a URL to redact from errors: as given, normalized, and its path. */
export function urlSecrets(raw: string): string[] {
  const out = [raw];
  try {
    const u = new URL(raw);
    out.push(u.href, `${u.host}${u.pathname}`);
    if (u.pathname.length >= 8) out.push(u.pathname);
    if (u.search.length >= 8) out.push(u.search);
  } catch {
    // not a URL: only the raw value
  }
  return out;
}

/** Posts the Slack payload of a run to an incoming webhook. Never throws; the URL is never shown. */
export async function postWebhook(
  webhookUrl: string,
  summary: RunSummary,
  options: HttpRetryOptions = {},
): Promise<DeliveryResult> {
  let url: URL;
  try {
    url = new URL(webhookUrl);
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("bad scheme");
  } catch {
    return {
      channel: "webhook",
      ok: false,
      attempts: 0,
      error: `${SLACK_WEBHOOK_ENV} is not an http(s) URL (value not shown)`,
    };
  }
  return await postJson(url.href, slackPayload(summary), {
    ...options,
    channel: "webhook",
    secrets: urlSecrets(webhookUrl),
  });
}

/** Publishes the notification of a run to an SNS topic (retried on throttling). Never throws. */
export async function publishSns(
  client: SNSClient,
  summary: RunSummary,
  options: AwsRetryOptions & { topicArn: string },
): Promise<DeliveryResult> {
  let attempts = 0;
  try {
    const { PublishCommand } = await import("@aws-sdk/client-sns");
    await withAwsRetry(() => {
      attempts++;
      return client.send(
        new PublishCommand({
          TopicArn: options.topicArn,
          Subject: formatSubject(summary),
          Message: formatNotificationText(summary),
          MessageAttributes: {
            status: { DataType: "String", StringValue: summary.status },
            workflow: { DataType: "String", StringValue: summary.workflowId },
          },
        }),
      );
    }, options);
    return { channel: "sns", ok: true, attempts };
  } catch (e) {
    return { channel: "sns", ok: false, attempts, error: describeAwsError(e) };
  }
}

/** Creates an SNS client (default credential chain, one SDK attempt: retries are ours). */
export async function createSnsClient(options: AwsClientOptions = {}): Promise<SNSClient> {
  const { SNSClient } = await import("@aws-sdk/client-sns");
  return new SNSClient(monitoringClientConfig(options, "AWS_ENDPOINT_URL_SNS"));
}

/** Region of an SNS topic ARN (`arn:aws:sns:<region>:<account>:<name>`), if it is one. */
export function snsTopicRegion(topicArn: string): string | undefined {
  return /^arn:aws[a-z-]*:sns:([a-z0-9-]+):\d{12}:[A-Za-z0-9_.-]+$/.exec(topicArn)?.[1];
}

/**
 * Whether a run should be announced: failures always; successes and superseded runs (which the
 * resubmitted run carries on) when `onSuccess`.
 */
export function shouldNotify(status: RunStatus, options: { onSuccess: boolean }): boolean {
  return status === "failed" ||
    ((status === "succeeded" || status === "superseded") && options.onSuccess);
}

/** Options of {@linkcode sendNotifications}. */
export interface SendNotificationsOptions extends HttpRetryOptions {
  /** SNS topic ARN, if configured. */
  snsTopicArn?: string;
  /** SNS client, or a factory called only when a topic is configured. */
  sns?: SNSClient | (() => Promise<SNSClient>);
  /** Incoming-webhook URL (from {@linkcode SLACK_WEBHOOK_ENV}), if set. */
  webhookUrl?: string;
  /** Log sink for delivery failures. */
  log?: (line: string) => void;
  /** Jitter source for SNS retries. */
  random?: () => number;
}

/** Sends a run's notification to every configured channel. Never throws. */
export async function sendNotifications(
  summary: RunSummary,
  options: SendNotificationsOptions,
): Promise<DeliveryResult[]> {
  const results: DeliveryResult[] = [];
  if (options.snsTopicArn) {
    let result: DeliveryResult;
    try {
      const client = typeof options.sns === "function"
        ? await options.sns()
        : options.sns ?? await createSnsClient();
      result = await publishSns(client, summary, {
        topicArn: options.snsTopicArn,
        maxAttempts: options.maxAttempts ?? 3,
        baseDelayMs: options.baseDelayMs ?? 1000,
        ...(options.sleep ? { sleep: options.sleep } : {}),
        ...(options.random ? { random: options.random } : {}),
      });
    } catch (e) {
      result = { channel: "sns", ok: false, attempts: 0, error: describeAwsError(e) };
    }
    results.push(result);
  }
  if (options.webhookUrl) results.push(await postWebhook(options.webhookUrl, summary, options));
  for (const r of results) {
    if (!r.ok) {
      options.log?.(
        `notification via ${r.channel} failed after ${r.attempts} attempt(s): ${r.error}`,
      );
    }
  }
  return results;
}
