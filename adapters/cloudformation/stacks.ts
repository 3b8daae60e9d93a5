/**
 * What the deploy stage asks CloudFormation (AWS SDK v3, client injected): stack outputs, the
 * failure events of the operation that just failed (as a short table), the meaning of a stack's
 * state (`ROLLBACK_COMPLETE` must be deleted, `UPDATE_ROLLBACK_FAILED` must be repaired), and
 * deleting a failed stack. Every call is retried when CloudFormation throttles
 * (`./throttling.ts`); when throttling outlasts the retries, the error reports the stack's status.
 *
 * Clock, sleep and randomness are injected so tests run instantly and deterministically.
 * @module
 */
import {
  type CloudFormationClient,
  DeleteStackCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  type Stack,
  type StackEvent,
} from "@aws-sdk/client-cloudformation";
import { AphexError, describeError } from "../../models/errors.ts";
import { type RetryOptions, ThrottledError, withThrottlingRetry } from "./throttling.ts";

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A stack's current state. */
export interface StackState {
  /** Whether the stack exists. */
  exists: boolean;
  /** `StackStatus`, e.g. `UPDATE_COMPLETE` (absent when the stack does not exist). */
  status?: string;
  /** `StackStatusReason`, if any. */
  reason?: string;
  /** The stack, when it exists. */
  stack?: Stack;
}

function isMissingStackError(error: unknown): boolean {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === "string" && /does not exist/.test(message);
}

async function describeStackOnce(
  client: CloudFormationClient,
  stackName: string,
): Promise<StackState> {
  try {
    const out = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = out.Stacks?.[0];
    if (!stack) return { exists: false };
    const state: StackState = { exists: true, stack };
    if (stack.StackStatus) state.status = stack.StackStatus;
    if (stack.StackStatusReason) state.reason = stack.StackStatusReason;
    return state;
  } catch (error) {
    if (isMissingStackError(error)) return { exists: false };
    throw error;
  }
}

/**
 * After retries were exhausted: waits once more, re-reads the stack status and throws an error
 * that reports it (or says it could not be read).
 */
async function throwThrottled(
  client: CloudFormationClient,
  stackName: string,
  error: ThrottledError,
  options: RetryOptions,
): Promise<never> {
  await (options.sleep ?? realSleep)(options.maxDelayMs ?? 10_000);
  let status: string;
  try {
    const state = await describeStackOnce(client, stackName);
    status = state.exists
      ? `its status is now ${state.status}${state.reason ? ` (${state.reason})` : ""}`
      : "it does not exist";
  } catch (reread) {
    status = `its status could not be re-read (${describeError(reread)})`;
  }
  throw new AphexError(`${error.message}; stack "${stackName}": ${status}`, { cause: error });
}

async function call<T>(
  client: CloudFormationClient,
  stackName: string,
  name: string,
  operation: () => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  try {
    return await withThrottlingRetry(operation, { ...options, name });
  } catch (error) {
    if (error instanceof ThrottledError) {
      return await throwThrottled(client, stackName, error, options);
    }
    throw error;
  }
}

/** Reads a stack's state (`exists: false` when CloudFormation does not know it). */
export async function getStackState(
  client: CloudFormationClient,
  stackName: string,
  options: RetryOptions = {},
): Promise<StackState> {
  return await call(
    client,
    stackName,
    `DescribeStacks(${stackName})`,
    () => describeStackOnce(client, stackName),
    options,
  );
}

/**
 * Reads a stack's outputs as `{OutputKey: OutputValue}` (DescribeStacks).
 *
 * @throws {AphexError} when the stack does not exist or throttling outlasts the retries.
 */
export async function getStackOutputs(
  client: CloudFormationClient,
  stackName: string,
  options: RetryOptions = {},
): Promise<Record<string, string>> {
  const state = await getStackState(client, stackName, options);
  if (!state.exists) {
    throw new AphexError(`cannot read the outputs of stack "${stackName}": it does not exist`);
  }
  const outputs: Record<string, string> = {};
  for (const output of state.stack?.Outputs ?? []) {
    if (output.OutputKey !== undefined) outputs[output.OutputKey] = output.OutputValue ?? "";
  }
  return outputs;
}

/** One `*_FAILED` event of a stack operation. */
export interface FailureEvent {
  /** When it happened. */
  timestamp: Date;
  /** Logical id of the resource (the stack name for the stack itself). */
  logicalId: string;
  /** Resource type, e.g. `AWS::SQS::Queue`. */
  resourceType: string;
  /** Status, e.g. `CREATE_FAILED`. */
  status: string;
  /** CloudFormation's reason. */
  reason: string;
}

/** Options of {@linkcode readFailureEvents}. */
export interface FailureEventsOptions extends RetryOptions {
  /** Start of the operation: older events are never read (default: the last user-initiated start). */
  since?: Date;
  /** Upper bound of pages read (default 20). */
  maxPages?: number;
}

const START_STATUSES = new Set([
  "CREATE_IN_PROGRESS",
  "UPDATE_IN_PROGRESS",
  "DELETE_IN_PROGRESS",
  "REVIEW_IN_PROGRESS",
  "IMPORT_IN_PROGRESS",
]);

function isOperationStart(event: StackEvent, stackName: string): boolean {
  return event.ResourceType === "AWS::CloudFormation::Stack" &&
    (event.LogicalResourceId === stackName || event.LogicalResourceId === event.StackName) &&
    START_STATUSES.has(event.ResourceStatus ?? "") &&
    event.ResourceStatusReason === "User Initiated";
}

/**
 * Reads the `*_FAILED` events of the stack's latest operation (DescribeStackEvents, newest first,
 * following NextToken), stopping at the operation's start: the stack's own user-initiated
 * `*_IN_PROGRESS` event, or `since`. Returned oldest first (the root cause comes first); empty when
 * the stack does not exist.
 */
export async function readFailureEvents(
  client: CloudFormationClient,
  stackName: string,
  options: FailureEventsOptions = {},
): Promise<FailureEvent[]> {
  const failures: FailureEvent[] = [];
  const maxPages = options.maxPages ?? 20;
  let token: string | undefined;
  pages: for (let page = 0; page < maxPages; page++) {
    let out;
    try {
      out = await call(
        client,
        stackName,
        `DescribeStackEvents(${stackName})`,
        () =>
          client.send(
            new DescribeStackEventsCommand({
              StackName: stackName,
              ...(token ? { NextToken: token } : {}),
            }),
          ),
        options,
      );
    } catch (error) {
      if (isMissingStackError(error)) break; // deleted meanwhile: nothing (more) to read
      throw error;
    }
    for (const event of out.StackEvents ?? []) {
      if (options.since && event.Timestamp && event.Timestamp < options.since) break pages;
      const status = event.ResourceStatus ?? "";
      if (status.endsWith("_FAILED")) {
        failures.push({
          timestamp: event.Timestamp ?? new Date(0),
          logicalId: event.LogicalResourceId ?? "",
          resourceType: event.ResourceType ?? "",
          status,
          reason: event.ResourceStatusReason ?? "",
        });
      }
      if (isOperationStart(event, stackName)) break pages;
    }
    token = out.NextToken;
    if (!token) break;
  }
  return failures.reverse();
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/**
 * Renders failure events as a short aligned table (time, resource, type, status, reason), one
 * event per line, reasons flattened and cut at `maxReason` characters.
 */
export function formatFailureTable(
  events: readonly FailureEvent[],
  options: { maxReason?: number } = {},
): string {
  if (events.length === 0) return "(no failed events recorded for this operation)";
  const header = ["TIME (UTC)", "RESOURCE", "TYPE", "STATUS", "REASON"];
  const rows = events.map((e) => [
    e.timestamp.toISOString().slice(11, 19),
    e.logicalId,
    e.resourceType,
    e.status,
    oneLine(e.reason, options.maxReason ?? 160),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** What a stack status means for the next deploy. */
export type StackCondition =
  /** No stack yet: the deploy creates it. */
  | "absent"
  /** A stable state the next deploy can update. */
  | "deployable"
  /** Creation failed (`ROLLBACK_COMPLETE` …): the stack must be deleted before deploying. */
  | "needs-delete"
  /** `UPDATE_ROLLBACK_FAILED`: the failed resources must be fixed and the rollback continued. */
  | "rollback-failed"
  /** An operation is running. */
  | "in-progress"
  /** Anything else that blocks a deploy (e.g. `DELETE_FAILED`). */
  | "blocked";

/** Classifies a stack status (absent → `absent`). */
export function classifyStackStatus(status: string | undefined): StackCondition {
  if (status === undefined || status === "DELETE_COMPLETE") return "absent";
  if (
    status === "ROLLBACK_COMPLETE" || status === "ROLLBACK_FAILED" || status === "CREATE_FAILED"
  ) {
    return "needs-delete";
  }
  if (status === "UPDATE_ROLLBACK_FAILED") return "rollback-failed";
  if (status.endsWith("_IN_PROGRESS")) return "in-progress";
  if (status.endsWith("_COMPLETE") && !status.startsWith("DELETE")) return "deployable";
  return "blocked";
}

/** A stack's state explained for a user. */
export interface StackDiagnosis {
  /** Stack name. */
  stackName: string;
  /** Classification of the status. */
  condition: StackCondition;
  /** Current status (absent when the stack does not exist). */
  status?: string;
  /** The latest operation's failed events, oldest first. */
  events: FailureEvent[];
  /** {@linkcode formatFailureTable} of `events`. */
  table: string;
  /** One paragraph telling what happened and what to do. */
  message: string;
}

function failedResources(events: readonly FailureEvent[], stackName: string): string[] {
  return [...new Set(events.filter((e) => e.logicalId !== stackName).map((e) => e.logicalId))];
}

function explain(stackName: string, state: StackState, events: FailureEvent[]): string {
  const condition = classifyStackStatus(state.exists ? state.status : undefined);
  const status = state.status ?? "absent";
  switch (condition) {
    case "needs-delete":
      return `stack "${stackName}" is ${status}: it never deployed successfully and CloudFormation ` +
        `cannot update it. It must be deleted before the next deploy: rerun with --recreate-failed, ` +
        `or run \`aws cloudformation delete-stack --stack-name ${stackName}\`.`;
    case "rollback-failed": {
      const resources = failedResources(events, stackName);
      return `stack "${stackName}" is UPDATE_ROLLBACK_FAILED: CloudFormation could not roll back ` +
        `${
          resources.length > 0 ? `these resources: ${resources.join(", ")}` : "some resources"
        }. Fix them, then run \`aws cloudformation continue-update-rollback --stack-name ${stackName}\` ` +
        `(skipping resources that cannot be fixed with --resources-to-skip) before deploying again.`;
    }
    case "in-progress":
      return `stack "${stackName}" is ${status}: another operation is running; wait for it to ` +
        `finish before deploying.`;
    case "absent":
      return `stack "${stackName}" does not exist (its creation failed before CloudFormation ` +
        `kept it, or it was deleted).`;
    case "deployable":
      return status === "UPDATE_ROLLBACK_COMPLETE"
        ? `stack "${stackName}": the update failed and was rolled back; the stack is back at its ` +
          `previous state.`
        : `stack "${stackName}" is ${status}.`;
    default:
      return `stack "${stackName}" is ${status}${state.reason ? ` (${state.reason})` : ""}; it ` +
        `cannot be deployed until that is resolved.`;
  }
}

/**
 * Reads a stack's state and the failed events of its latest operation, and explains them: what
 * the deploy stage prints (and records) after a failed `cdk deploy`.
 */
export async function diagnoseStack(
  client: CloudFormationClient,
  stackName: string,
  options: FailureEventsOptions = {},
): Promise<StackDiagnosis> {
  const state = await getStackState(client, stackName, options);
  const events = state.exists ? await readFailureEvents(client, stackName, options) : [];
  const diagnosis: StackDiagnosis = {
    stackName,
    condition: classifyStackStatus(state.exists ? state.status : undefined),
    events,
    table: formatFailureTable(events),
    message: explain(stackName, state, events),
  };
  if (state.exists && state.status) diagnosis.status = state.status;
  return diagnosis;
}

/** Options of {@linkcode assertStackDeployable}. */
export interface DeployableOptions extends FailureEventsOptions {
  /** Delete a stack whose creation failed (`--recreate-failed`) instead of stopping. */
  recreateFailed?: boolean;
  /** Options of the deletion (see {@linkcode deleteStackAndWait}). */
  deleteOptions?: DeleteStackOptions;
}

/**
 * Checks before a deploy that the stack can be deployed. A stack whose creation failed is deleted
 * when `recreateFailed` is set (returns `"recreated"`).
 *
 * @throws {AphexError} explaining `ROLLBACK_COMPLETE` (must be deleted), `UPDATE_ROLLBACK_FAILED`
 * (naming the failed resources), a running operation or another blocking state.
 */
export async function assertStackDeployable(
  client: CloudFormationClient,
  stackName: string,
  options: DeployableOptions = {},
): Promise<"ok" | "recreated"> {
  const state = await getStackState(client, stackName, options);
  const condition = classifyStackStatus(state.exists ? state.status : undefined);
  if (condition === "absent" || condition === "deployable") return "ok";
  if (condition === "needs-delete" && options.recreateFailed) {
    await deleteStackAndWait(client, stackName, { ...options, ...options.deleteOptions });
    return "recreated";
  }
  const events = condition === "rollback-failed"
    ? await readFailureEvents(client, stackName, options)
    : [];
  const table = events.length > 0 ? `\n${formatFailureTable(events)}` : "";
  throw new AphexError(`${explain(stackName, state, events)}${table}`);
}

/** Options of {@linkcode deleteStackAndWait}. */
export interface DeleteStackOptions extends RetryOptions {
  /** Time between status polls in ms (default 5000). */
  pollMs?: number;
  /** Give up after this many ms (default 30 minutes). */
  timeoutMs?: number;
  /** Clock in ms (default `Date.now`). */
  now?: () => number;
}

/**
 * Deletes a stack (DeleteStack) and polls DescribeStacks until it is gone.
 *
 * @throws {AphexError} on `DELETE_FAILED` (with the failed resources) or timeout.
 */
export async function deleteStackAndWait(
  client: CloudFormationClient,
  stackName: string,
  options: DeleteStackOptions = {},
): Promise<void> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? realSleep;
  const deadline = now() + (options.timeoutMs ?? 30 * 60_000);
  const started = new Date(now());
  await call(
    client,
    stackName,
    `DeleteStack(${stackName})`,
    () => client.send(new DeleteStackCommand({ StackName: stackName })),
    options,
  );
  for (;;) {
    const state = await getStackState(client, stackName, options);
    if (!state.exists || state.status === "DELETE_COMPLETE") return;
    if (state.status === "DELETE_FAILED") {
      const events = await readFailureEvents(client, stackName, { ...options, since: started });
      const resources = failedResources(events, stackName);
      throw new AphexError(
        `deleting stack "${stackName}" failed (DELETE_FAILED)${
          resources.length > 0 ? `; resources not deleted: ${resources.join(", ")}` : ""
        }\n${formatFailureTable(events)}`,
      );
    }
    if (now() >= deadline) {
      throw new AphexError(
        `stack "${stackName}" was still ${state.status} when the wait for its deletion timed out`,
      );
    }
    await sleep(options.pollMs ?? 5000);
  }
}
