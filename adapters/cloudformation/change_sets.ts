/**
 * Change sets (issue 14): what the plan and deploy stages ask CloudFormation about the change sets
 * the CDK CLI prepared (`cdk deploy --method=prepare-change-set`): describe one with all its pages,
 * read the template a stack runs now (to find security broadening), execute exactly a reviewed
 * change set by id after checking it is still the one that was reviewed, and wait for the stack.
 *
 * Throttling is retried like every CloudFormation call ({@linkcode withThrottlingRetry}).
 * @module
 */
import {
  type Change,
  type CloudFormationClient,
  DeleteChangeSetCommand,
  DescribeChangeSetCommand,
  ExecuteChangeSetCommand,
  GetTemplateCommand,
} from "@aws-sdk/client-cloudformation";
import { parse as parseYaml } from "yaml";
import { AphexError } from "../../models/errors.ts";
import type { ResourceChangeInput, TemplateDocument } from "../../models/plan.ts";
import { classifyStackStatus, getStackState } from "./stacks.ts";
import { type RetryOptions, withThrottlingRetry } from "./throttling.ts";

/** A change set as DescribeChangeSet reports it, every page of `Changes` joined. */
export interface ChangeSetDescription {
  /** Change set ARN. */
  changeSetId: string;
  /** Change set name. */
  changeSetName: string;
  /** Stack name. */
  stackName: string;
  /** Stack ARN. */
  stackId?: string;
  /** `CREATE_COMPLETE`, `FAILED` … */
  status: string;
  /** Why, when FAILED. */
  statusReason: string;
  /** `AVAILABLE`, `OBSOLETE`, `EXECUTE_COMPLETE`, `UNAVAILABLE` … */
  executionStatus: string;
  /** Resource changes, all pages. */
  changes: ResourceChangeInput[];
}

/** Whether a FAILED change set only says that nothing would change. */
export function isEmptyChangeSet(status: string, reason: string): boolean {
  return status === "FAILED" &&
    /didn't contain changes|No updates are to be performed|no changes/i.test(reason);
}

function isChangeSetNotFound(error: unknown): boolean {
  const { name, message } = (error ?? {}) as { name?: unknown; message?: unknown };
  return name === "ChangeSetNotFoundException" || name === "ChangeSetNotFound" ||
    (typeof message === "string" && /ChangeSet .* does not exist|does not exist/i.test(message));
}

/**
 * Describes a change set, following `NextToken` through every page of changes (up to `maxPages`,
 * default 100). Returns undefined when the change set does not exist.
 */
export async function describeChangeSet(
  client: CloudFormationClient,
  changeSet: { stackName: string; changeSetName: string },
  options: RetryOptions & { maxPages?: number } = {},
): Promise<ChangeSetDescription | undefined> {
  const changes: ResourceChangeInput[] = [];
  let token: string | undefined;
  let first: ChangeSetDescription | undefined;
  for (let page = 0; page < (options.maxPages ?? 100); page++) {
    let out;
    try {
      out = await withThrottlingRetry(
        () =>
          client.send(
            new DescribeChangeSetCommand({
              StackName: changeSet.stackName,
              ChangeSetName: changeSet.changeSetName,
              ...(token ? { NextToken: token } : {}),
            }),
          ),
        { ...options, name: `DescribeChangeSet(${changeSet.changeSetName})` },
      );
    } catch (error) {
      if (isChangeSetNotFound(error)) return undefined;
      throw error;
    }
    first ??= {
      changeSetId: out.ChangeSetId ?? changeSet.changeSetName,
      changeSetName: out.ChangeSetName ?? changeSet.changeSetName,
      stackName: out.StackName ?? changeSet.stackName,
      ...(out.StackId ? { stackId: out.StackId } : {}),
      status: out.Status ?? "",
      statusReason: out.StatusReason ?? "",
      executionStatus: out.ExecutionStatus ?? "",
      changes,
    };
    for (const change of (out.Changes ?? []) as Change[]) {
      if (change.ResourceChange) changes.push(change.ResourceChange as ResourceChangeInput);
    }
    token = out.NextToken;
    if (!token) break;
  }
  return first;
}

/**
 * The template a stack runs now (GetTemplate, stage `Original`: what was submitted, before
 * transforms, i.e. comparable with a synthesized template), or undefined when the stack does not
 * exist or only its review (`REVIEW_IN_PROGRESS`, a new stack's first change set) exists.
 */
export async function getDeployedTemplate(
  client: CloudFormationClient,
  stackName: string,
  options: RetryOptions = {},
): Promise<TemplateDocument | undefined> {
  const state = await getStackState(client, stackName, options);
  if (!state.exists || state.status === "REVIEW_IN_PROGRESS") return undefined;
  const out = await withThrottlingRetry(
    () => client.send(new GetTemplateCommand({ StackName: stackName, TemplateStage: "Original" })),
    { ...options, name: `GetTemplate(${stackName})` },
  );
  const body = out.TemplateBody ?? "{}";
  // CloudFormation templates are JSON or YAML; YAML 1.2 reads both.
  return (parseYaml(body) ?? {}) as TemplateDocument;
}

/** Deletes a change set (an empty one the CDK CLI left behind). */
export async function deleteChangeSet(
  client: CloudFormationClient,
  changeSet: { stackName: string; changeSetName: string },
  options: RetryOptions = {},
): Promise<void> {
  await withThrottlingRetry(
    () =>
      client.send(
        new DeleteChangeSetCommand({
          StackName: changeSet.stackName,
          ChangeSetName: changeSet.changeSetName,
        }),
      ),
    { ...options, name: `DeleteChangeSet(${changeSet.changeSetName})` },
  );
}

/** Options of {@linkcode executeReviewedChangeSet}. */
export interface ExecuteOptions extends RetryOptions {
  /** Time between status polls in ms (default 5000). */
  pollMs?: number;
  /** Give up waiting after this many ms (default 2 hours). */
  timeoutMs?: number;
  /** Clock in ms (default `Date.now`). */
  now?: () => number;
}

/** Thrown when a reviewed change set can no longer be executed: the plan must be redone. */
export class StaleChangeSetError extends AphexError {
  constructor(message: string) {
    super(message);
    this.name = "StaleChangeSetError";
  }
}

/**
 * Executes exactly the reviewed change set `changeSetId` of `stackName` and waits for the stack to
 * settle. Before executing it checks that the change set is still executable: it exists, its
 * status is `CREATE_COMPLETE` and its execution status `AVAILABLE`. CloudFormation marks a change
 * set `OBSOLETE` once the stack was updated after it was created, so a stack changed since the
 * plan is refused here (and CloudFormation would refuse the execution too).
 *
 * @throws {StaleChangeSetError} naming the stack and the change set when it cannot be executed.
 * @throws {AphexError} when the stack ends in a failed or rolled-back state.
 */
export async function executeReviewedChangeSet(
  client: CloudFormationClient,
  change: { stackName: string; changeSetId: string },
  options: ExecuteOptions = {},
): Promise<{ status: string }> {
  const described = await describeChangeSet(client, {
    stackName: change.stackName,
    changeSetName: change.changeSetId,
  }, { ...options, maxPages: 1 });
  if (!described) {
    throw new StaleChangeSetError(
      `stack "${change.stackName}": the reviewed change set ${change.changeSetId} no longer ` +
        `exists; run the plan again`,
    );
  }
  if (described.status !== "CREATE_COMPLETE" || described.executionStatus !== "AVAILABLE") {
    throw new StaleChangeSetError(
      `stack "${change.stackName}" changed since the plan: its reviewed change set ` +
        `${described.changeSetName} is ${described.status}/${described.executionStatus}` +
        `${described.statusReason ? ` (${described.statusReason})` : ""}; run the plan again`,
    );
  }
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const deadline = now() + (options.timeoutMs ?? 2 * 60 * 60_000);
  await withThrottlingRetry(
    () =>
      client.send(
        new ExecuteChangeSetCommand({
          StackName: change.stackName,
          ChangeSetName: change.changeSetId,
        }),
      ),
    { ...options, name: `ExecuteChangeSet(${change.stackName})` },
  );
  for (;;) {
    const state = await getStackState(client, change.stackName, options);
    const status = state.status ?? "absent";
    const condition = classifyStackStatus(state.exists ? state.status : undefined);
    if (condition !== "in-progress" && status !== "REVIEW_IN_PROGRESS") {
      if (/ROLLBACK|FAILED/.test(status) || condition !== "deployable") {
        throw new AphexError(
          `executing change set ${described.changeSetName} of stack "${change.stackName}" ` +
            `ended in ${status}${state.reason ? ` (${state.reason})` : ""}`,
        );
      }
      return { status };
    }
    if (now() >= deadline) {
      throw new AphexError(
        `stack "${change.stackName}" was still ${status} when the wait for change set ` +
          `${described.changeSetName} timed out`,
      );
    }
    await sleep(options.pollMs ?? 5000);
  }
}
