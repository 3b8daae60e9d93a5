/**
 * The approval-expiry stage (`aphex approval-check`), the step right after an environment's
 * approval gate. Argo's `suspend.duration` *continues* a run when it elapses (the controller marks
 * the suspend node Succeeded, exactly as a manual resume does), so this step decides from the
 * gate's start and end times (`{{tasks.wait.startedAt}}`/`finishedAt`, passed by the approval
 * DAG) whether a person approved: if the gate lasted its whole timeout, the step fails with
 * "approval expired" — the run fails (the report notifies with that message) and its mutex is
 * released; nothing is deployed to the environment. Times that cannot be read fail closed.
 * @module
 */
import {
  type Command,
  type CommandContext,
  type OptionValues,
  runMain,
  str,
} from "../command/contract.ts";
import { approvalVerdict, DEFAULT_APPROVAL_TIMEOUT } from "../models/approval.ts";
import { parseIsoDateTime } from "../models/_codec.ts";
import { ExitCode, usageError } from "../models/errors.ts";
import {
  resolveStageInputs,
  runStageCommand,
  STAGE_OPTIONS,
  writeOutputs,
} from "../command/stage_runtime.ts";

/** Inputs of {@linkcode checkApproval}. */
export interface ApprovalCheckInputs {
  /** Environment of the gate. */
  environment: string;
  /** Commit waiting for approval. */
  commitSha: string;
  /** The gate's timeout (`24h`). */
  timeout: string;
  /** When the gate started (Argo's `tasks.wait.startedAt`). */
  started: string;
  /** When it ended (`tasks.wait.finishedAt`). */
  finished: string;
}

/** What {@linkcode checkApproval} decided. */
export interface ApprovalCheckOutcome {
  /** 0 approved, 1 expired (or the times could not be read). */
  exitCode: number;
  /** What was decided. */
  message: string;
}

/**
 * The environment of an approval gate from the Argo node name of its check pod
 * (`<workflow>.environments[.…].approve-<env>.check`, `(<n>)` appended on a retry), or undefined.
 */
export function environmentOfNode(nodeName: string): string | undefined {
  return /\.approve-([a-z0-9]([a-z0-9-]*[a-z0-9])?)\.check(\(\d+\))?$/.exec(nodeName)?.[1];
}

/** Decides whether the gate was approved or expired (pure apart from the inputs). */
export function checkApproval(inputs: ApprovalCheckInputs): ApprovalCheckOutcome {
  const started = parseIsoDateTime(inputs.started);
  const finished = parseIsoDateTime(inputs.finished);
  if (!started || !finished) {
    // Fail closed: an unreadable time must never count as an approval.
    return {
      exitCode: ExitCode.Failed,
      message: `cannot tell whether the approval of ${inputs.environment} was given in time ` +
        `(gate started ${JSON.stringify(inputs.started.slice(0, 40))}, ended ` +
        `${JSON.stringify(inputs.finished.slice(0, 40))}); not deploying`,
    };
  }
  const verdict = approvalVerdict({ started, finished }, inputs.timeout, {
    environment: inputs.environment,
    commitSha: inputs.commitSha,
  });
  return { exitCode: verdict.approved ? ExitCode.Ok : ExitCode.Failed, message: verdict.message };
}

/** `aphex approval-check`. */
export const command: Command = {
  spec: {
    name: "approval-check",
    summary: "After an approval gate: fail the run as 'approval expired' when its timeout elapsed",
    description:
      "Run by the approval step of the WorkflowTemplate after the gate. Argo continues " +
      "a gate whose suspend duration elapsed; this step compares the gate's start and end with " +
      "the timeout and fails (exit 1, 'approval expired') when nobody approved in time.",
    options: {
      ...STAGE_OPTIONS,
      env: { type: "string", description: "Environment of the gate", env: "APHEX_ENV" },
      "node-name": {
        type: "string",
        description: "Argo node name of this step; names the environment when --env is not given",
        env: "APHEX_ARGO_NODE_NAME",
      },
      timeout: {
        type: "string",
        description: "The gate's timeout (e.g. 24h)",
        env: "APHEX_APPROVAL_TIMEOUT",
        default: DEFAULT_APPROVAL_TIMEOUT,
      },
      started: {
        type: "string",
        description: "When the gate started (RFC 3339)",
        env: "APHEX_APPROVAL_STARTED",
      },
      finished: {
        type: "string",
        description: "When the gate ended (RFC 3339)",
        env: "APHEX_APPROVAL_FINISHED",
      },
    },
  },
  async run(values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
    const inputs = resolveStageInputs(values, ctx);
    const nodeName = str(values, "node-name");
    const environment = str(values, "env") ??
      (nodeName ? environmentOfNode(nodeName) : undefined);
    if (!environment) {
      throw usageError(
        "--env (or APHEX_ENV) is required, or an Argo node name ending in approve-<env>.check",
      );
    }
    const check = {
      environment,
      commitSha: inputs.commitSha,
      timeout: str(values, "timeout") ?? DEFAULT_APPROVAL_TIMEOUT,
      started: str(values, "started") ?? "",
      finished: str(values, "finished") ?? "",
    };
    const outcome = await runStageCommand(inputs, {
      ctx,
      stage: `approve-${environment}`,
      describe: (o: ApprovalCheckOutcome) => ({
        exitCode: o.exitCode,
        ...(o.exitCode === ExitCode.Ok ? {} : { errorMessage: o.message }),
      }),
      run: (_signal, log) => {
        const o = checkApproval(check);
        log(`[approval] ${o.message}`);
        return Promise.resolve(o);
      },
      failureParameters: {},
    });
    await writeOutputs(inputs.outputsDir, {
      parameters: { success: String(outcome.exitCode === ExitCode.Ok) },
      result: { environment, approved: outcome.exitCode === ExitCode.Ok, message: outcome.message },
    });
    if (outcome.exitCode !== ExitCode.Ok) ctx.stderr(`aphex approval-check: ${outcome.message}\n`);
    return outcome.exitCode;
  },
};

if (import.meta.main) await runMain(command);
