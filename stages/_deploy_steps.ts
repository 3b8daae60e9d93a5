/**
 * One stack of a deployment, as the deploy stage runs it: a synthesized stack through `cdk deploy`,
 * or a stack of the reviewed plan through exactly its change set (by id); on failure its
 * CloudFormation events, on success its outputs — recorded in the deploy outcome in place.
 * @module
 */
import { join } from "node:path";
import type { CloudFormationClient } from "@aws-sdk/client-cloudformation";
import { AphexError, describeError } from "../models/errors.ts";
import type { StackPlan } from "../models/plan.ts";
import type { DeploymentResult } from "../models/results.ts";
import type { CdkRunner } from "../adapters/cdk/runner.ts";
import { deployStack } from "../adapters/cdk/cli.ts";
import type { SynthesizedStack } from "../adapters/cdk/synth_environment.ts";
import {
  assertStackDeployable,
  diagnoseStack,
  type FailureEvent,
  getStackOutputs,
  type StackDiagnosis,
} from "../adapters/cloudformation/stacks.ts";
import type { RetryOptions } from "../adapters/cloudformation/throttling.ts";
import {
  executeReviewedChangeSet,
  StaleChangeSetError,
} from "../adapters/cloudformation/change_sets.ts";

/** CloudFormation events from this long before a stack operation started count as its own. */
export const EVENT_CLOCK_SKEW_MS = 60_000;

/** A failure event as recorded in a DeploymentResult (JSON-friendly). */
export function eventRecord(event: FailureEvent): Record<string, unknown> {
  return {
    timestamp: event.timestamp.toISOString(),
    logicalResourceId: event.logicalId,
    resourceType: event.resourceType,
    resourceStatus: event.status,
    resourceStatusReason: event.reason,
  };
}

/** One stack to deploy: synthesized (`cdk deploy`) or from the reviewed plan (its change set). */
export interface DeployStep {
  /** The stack's name in CloudFormation. */
  name: string;
  /** The stack in its synthesized assembly (`cdk deploy`). */
  synthesized?: SynthesizedStack;
  /** The stack's part of the reviewed plan (its change set executed by id). */
  reviewed?: StackPlan;
  /** Names of the stacks it waits for (its dependencies; for a reviewed plan every stack before it). */
  after: readonly string[];
}

/**
 * Executes one stack of the reviewed plan: nothing for a no-op stack, else exactly its change set
 * by id. A change set that is no longer executable (the stack changed since the plan) is refused.
 */
async function executeReviewed(
  cfn: CloudFormationClient,
  stack: StackPlan,
  options: RetryOptions & { log: (line: string) => void; onStale: () => void },
): Promise<{ ok: boolean; exitCode: number; noChanges: boolean }> {
  if (stack.status === "no-op" || !stack.changeSetId) {
    return { ok: true, exitCode: 0, noChanges: true };
  }
  options.log(`[deploy] executing change set ${stack.changeSetId}`);
  try {
    await executeReviewedChangeSet(cfn, {
      stackName: stack.stackName,
      changeSetId: stack.changeSetId,
    }, options);
    return { ok: true, exitCode: 0, noChanges: false };
  } catch (e) {
    if (e instanceof StaleChangeSetError) {
      options.onStale();
      throw e;
    }
    options.log(`[deploy] ${describeError(e)}`);
    return { ok: false, exitCode: 1, noChanges: false };
  }
}

/** What {@linkcode deployStackStep} needs from the deploy stage. */
export interface StackStepContext {
  /** CloudFormation client of the environment. */
  cfn: CloudFormationClient;
  /** Every stack of the deployment, in configured order. */
  ordered: readonly DeployStep[];
  /** The deploy outcome, updated in place (results, outputs, not deployed). */
  outcome: {
    results: DeploymentResult[];
    outputs: Record<string, Record<string, string>>;
    notDeployed: string[];
  };
  /** Log sink (redacted by the stage). */
  log: (line: string) => void;
  /** Retry policy of CloudFormation calls. */
  retry: RetryOptions;
  /** Delete a stack in ROLLBACK_COMPLETE first. */
  recreateFailed: boolean;
  /** Cancels before the stack starts. */
  signal?: AbortSignal;
  /** Clock (event window). */
  clock: () => Date;
  /** Where `cdk deploy` writes each stack's outputs file. */
  outputsDir: string;
  /** Environment of the CDK CLI. */
  env: Record<string, string>;
  /** CDK CLI runner. */
  runner: CdkRunner;
  /** Command running the project's CDK CLI. */
  cdkCommand: readonly string[];
}

/**
 * Deploys stack `i` of `ctx.ordered`. Throws an AphexError naming the stack (and the stacks not
 * deployed) when it fails; the outcome holds its result either way.
 */
export async function deployStackStep(
  step: DeployStep,
  i: number,
  ctx: StackStepContext,
): Promise<void> {
  const { cfn, ordered, outcome, log, retry, runner, cdkCommand } = ctx;
  if (ctx.signal?.aborted) {
    throw new AphexError(
      `cancelled by ${String(ctx.signal.reason)} before ${step.name}`,
    );
  }
  const name = step.name;
  const t0 = performance.now();
  const duration = () => Math.round((performance.now() - t0) / 10) / 100;
  const failed = (events: FailureEvent[]): void => {
    outcome.results.push({
      success: false,
      stackName: name,
      stackOutputs: {},
      duration: duration(),
      cloudformationEvents: events.map(eventRecord),
    });
    outcome.notDeployed = ordered.slice(i + 1).map((p) => p.name);
  };
  log(`[deploy] stack ${i + 1}/${ordered.length}: ${name}`);
  try {
    // A reviewed change set is checked against the stack when it is executed.
    const state = step.reviewed ? "ok" : await assertStackDeployable(cfn, name, {
      ...retry,
      ...(ctx.recreateFailed ? { recreateFailed: true } : {}),
    });
    if (state === "recreated") {
      log(`[deploy] deleted failed stack ${name}; creating it again`);
    }
  } catch (e) {
    const diagnosis = await diagnoseStack(cfn, name, retry).catch(() => undefined);
    failed(diagnosis?.events ?? []);
    throw e;
  }
  const since = new Date(ctx.clock().getTime() - EVENT_CLOCK_SKEW_MS);
  const deployed = step.reviewed
    ? await executeReviewed(cfn, step.reviewed, { ...retry, log, onStale: () => failed([]) })
    : await deployStack(step.synthesized!.assembly, step.synthesized!.stack, {
      appDir: step.synthesized!.appDir,
      outputsFile: join(ctx.outputsDir, `${i + 1}.json`),
      env: ctx.env,
      runner,
      cdkCommand,
    });
  if (!deployed.ok) {
    let diagnosis: StackDiagnosis | undefined;
    let diagnosisError = "";
    try {
      diagnosis = await diagnoseStack(cfn, name, { ...retry, since });
    } catch (e) {
      diagnosisError = describeError(e);
    }
    failed(diagnosis?.events ?? []);
    if (diagnosis) {
      log(`[deploy] stack ${name} failed; CloudFormation events of this operation:`);
      for (const line of diagnosis.table.split("\n")) log(`[deploy]   ${line}`);
      log(`[deploy] ${diagnosis.message}`);
    }
    const rest = outcome.notDeployed;
    throw new AphexError(
      (step.reviewed
        ? `executing the reviewed change set of stack "${name}" failed`
        : `cdk deploy of stack "${name}" failed (exit ${deployed.exitCode})`) +
        (diagnosis ? `: ${diagnosis.message}` : ``) +
        (diagnosisError
          ? `; its CloudFormation events could not be read (${diagnosisError})`
          : "") +
        (rest.length > 0 ? `; not deployed: ${rest.join(", ")}` : ""),
    );
  }
  let stackOutputs: Record<string, string>;
  try {
    stackOutputs = await getStackOutputs(cfn, name, retry);
  } catch (e) {
    failed([]);
    throw new AphexError(
      `stack "${name}" was deployed but its outputs could not be read: ${describeError(e)}`,
    );
  }
  outcome.outputs[name] = stackOutputs;
  outcome.results.push({
    success: true,
    stackName: name,
    stackOutputs,
    duration: duration(),
    cloudformationEvents: [],
  });
  outcome.notDeployed = ordered.slice(i + 1).map((p) => p.name);
  log(
    `[deploy] stack ${name} ${deployed.noChanges ? "had no changes" : "deployed"} in ` +
      `${duration().toFixed(2)} s; ${Object.keys(stackOutputs).length} output(s)`,
  );
}
