/**
 * The templates an environment's DAG tasks run: `deploy` (plan → approve → execute, with the
 * expiring approval gate: wait → check) and `test` (run → rollback), one reusable template per
 * step kind whatever the number of environments. No I/O happens in this module.
 * @module
 */
import { DEFAULT_APPROVAL_TIMEOUT } from "../models/approval.ts";
import {
  COMMIT_SHA_PARAMETER,
  REF_PARAMETER,
  STAGE_DEADLINE_SECONDS,
  STAGE_OUTPUTS_DIR,
  stageTemplate,
} from "./_stage_template.ts";
import type { Topology } from "./topology.ts";
import type { Template } from "./types.ts";

/**
 * Task names inside an environment's own DAGs (`deploy`: plan → approve → execute; `approval`:
 * wait → check; `test`: run → rollback). Argo names a failed node by its task name alone, so the
 * report attributes these to the environment step around them.
 */
export const INNER_STEP_NAMES: readonly string[] = [
  "plan",
  "approve",
  "execute",
  "wait",
  "check",
  "run",
  "rollback",
];

/** Output parameter of `plan`: "true" when the environment's review gate stops the run. */
export const APPROVE_PARAMETER = "approve";

/**
 * The approval gate (`approve`, inside `deploy-<env>`'s template, run only when the plan says the
 * environment's review gate stops the run): `approval` is a DAG of `wait`, a suspend node whose
 * inputs say what is to be approved (commit, ref, environment, the plan's summary and risks) and
 * whose duration is the timeout, then `check` (`aphex approval-check`) with the gate's start and
 * end times. Argo *continues* a suspend node when its duration elapses (Succeeded, exactly as a
 * manual resume: workflow/controller/operator.go, util.ResumeWorkflow), so only the times tell an
 * expired gate from an approved one; `check` fails the run as "approval expired" in that case,
 * which releases the mutex. (`activeDeadlineSeconds`/`timeout` do not help: the CRD allows them
 * only on leaf templates, and the controller applies a template `timeout` only to pending nodes.)
 */
function approvalTemplates(topology: Topology): Template[] {
  const input = (name: string) => `{{inputs.parameters.${name}}}`;
  const check = stageTemplate(topology, "approval-check", "approval-check", {
    withEnv: true,
    withToken: false,
    deadline: STAGE_DEADLINE_SECONDS.report,
    extraEnv: [
      { name: "APHEX_APPROVAL_TIMEOUT", value: input("timeout") },
      { name: "APHEX_APPROVAL_STARTED", value: input("started") },
      { name: "APHEX_APPROVAL_FINISHED", value: input("finished") },
    ],
  });
  check.inputs = {
    parameters: [{ name: "env" }, { name: "timeout" }, { name: "started" }, { name: "finished" }],
  };
  return [
    {
      name: "approval",
      inputs: {
        parameters: [{ name: "env" }, { name: "timeout" }, { name: "summary" }, { name: "risks" }],
      },
      dag: {
        tasks: [
          {
            name: "wait",
            template: "approval-wait",
            arguments: {
              parameters: [
                {
                  name: "message",
                  value:
                    `Approve deploying commit {{workflow.parameters.${COMMIT_SHA_PARAMETER}}} ` +
                    `({{workflow.parameters.${REF_PARAMETER}}}) to ${input("env")}: ` +
                    `${input("summary")}. Risky: ${input("risks")}. Expires after ` +
                    input("timeout") + ': the run then fails as "approval expired".',
                },
                { name: "timeout", value: input("timeout") },
              ],
            },
          },
          {
            name: "check",
            template: "approval-check",
            depends: "wait",
            arguments: {
              parameters: [
                { name: "env", value: input("env") },
                { name: "timeout", value: input("timeout") },
                { name: "started", value: "{{tasks.wait.startedAt}}" },
                { name: "finished", value: "{{tasks.wait.finishedAt}}" },
              ],
            },
          },
        ],
      },
    },
    {
      name: "approval-wait",
      inputs: { parameters: [{ name: "message" }, { name: "timeout" }] },
      suspend: { duration: input("timeout") },
    },
    check,
  ];
}

/**
 * `deploy`: a DAG run as `deploy-<env>` — `plan` prepares and describes the change sets,
 * `approve` runs the expiring gate ({@linkcode approvalTemplates}) only when the plan's `approve`
 * output is true (the environment's review gate; `argo resume` approves, `argo stop` rejects),
 * `execute` runs exactly the planned change sets by id (`APHEX_FROM_PLAN`). A skipped `approve`
 * still lets `execute` run (`depends` means Succeeded or Skipped).
 */
export function deployTemplates(topology: Topology): Template[] {
  const plan = "{{tasks.plan.outputs.parameters";
  const env = { parameters: [{ name: "env", value: "{{inputs.parameters.env}}" }] };
  return [
    {
      name: "deploy",
      inputs: {
        parameters: [{ name: "env" }, { name: "timeout", default: DEFAULT_APPROVAL_TIMEOUT }],
      },
      dag: {
        tasks: [
          { name: "plan", template: "plan", arguments: env },
          {
            name: "approve",
            template: "approval",
            depends: "plan",
            when: `${plan}.${APPROVE_PARAMETER}}} == true`,
            arguments: {
              parameters: [
                ...env.parameters,
                { name: "timeout", value: "{{inputs.parameters.timeout}}" },
                { name: "summary", value: `${plan}.summary}}` },
                { name: "risks", value: `${plan}.risks}}` },
              ],
            },
          },
          { name: "execute", template: "execute", depends: "approve", arguments: env },
        ],
      },
    },
    {
      ...stageTemplate(topology, "plan", "plan", {
        withEnv: true,
        deadline: STAGE_DEADLINE_SECONDS.plan,
      }),
      outputs: {
        parameters: [APPROVE_PARAMETER, "summary", "risks"].map((name) => ({
          name,
          // A plan that wrote nothing must not slip past the gate.
          valueFrom: {
            path: `${STAGE_OUTPUTS_DIR}/${name}`,
            default: name === APPROVE_PARAMETER ? "true" : "",
          },
        })),
      },
    },
    ...approvalTemplates(topology),
    stageTemplate(topology, "execute", "deploy", {
      withEnv: true,
      deadline: STAGE_DEADLINE_SECONDS.deploy,
      extraEnv: [{ name: "APHEX_FROM_PLAN", value: "true" }],
    }),
  ];
}

/**
 * `test`: a DAG run as `test-<env>` — `run` runs the tests; only when it failed, `rollback` runs
 * `aphex rollback --after-test-failure`, which redeploys the environment's last good version (when
 * the commit's config sets `rollback.onTestFailure`), re-runs its tests and exits 1 either way, so
 * the run fails and stops before later environments.
 */
export function testTemplates(topology: Topology): Template[] {
  const env = { parameters: [{ name: "env", value: "{{inputs.parameters.env}}" }] };
  return [
    {
      name: "test",
      inputs: { parameters: [{ name: "env" }] },
      dag: {
        tasks: [
          { name: "run", template: "run-tests", arguments: env },
          { name: "rollback", template: "rollback", depends: "run.Failed", arguments: env },
        ],
      },
    },
    stageTemplate(topology, "run-tests", "test", {
      withEnv: true,
      deadline: STAGE_DEADLINE_SECONDS.test,
    }),
    stageTemplate(topology, "rollback", "rollback", {
      withEnv: true,
      deadline: STAGE_DEADLINE_SECONDS.rollback,
      extraEnv: [{ name: "APHEX_AFTER_TEST_FAILURE", value: "true" }],
    }),
  ];
}
