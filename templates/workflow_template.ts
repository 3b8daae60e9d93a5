/**
 * The pipeline's Argo WorkflowTemplate (and the pull-request validation template), built as typed
 * objects from the configuration's topology.
 *
 * Every step runs the pipeline image's `aphex` binary with literal argv (`["aphex", "deploy"]`);
 * per-run data (commit SHA, ref, workflow name, environment) reaches it only through environment
 * variable *values*. There is no script template and no shell anywhere. Environments differ only in
 * the arguments of DAG tasks, so the template grows by a few hundred bytes per environment.
 * No I/O happens in this module.
 * @module
 */
import type { AphexConfig } from "../models/config.ts";
import {
  COMPONENT_LABEL,
  MANAGED_BY_LABEL,
  NAME_LABEL,
  objectNames,
  standardLabels,
  TOPOLOGY_HASH_ANNOTATION,
} from "./_common.ts";
import {
  buildTopology,
  hashTopology,
  type PipelineStep,
  pipelineSteps,
  type StepKind,
  type Topology,
  topologyWaves,
} from "./topology.ts";
import { usesWaves } from "../models/waves.ts";
import { DEFAULT_APPROVAL_TIMEOUT } from "../models/approval.ts";
import type { DagTask, EnvVar, Parameter, Template, WorkflowTemplate } from "./types.ts";

export { TOPOLOGY_HASH_ANNOTATION } from "./_common.ts";

/** Workflow parameter carrying the commit SHA (validated by the Sensor and by every stage). */
export const COMMIT_SHA_PARAMETER = "commit-sha";
/** Workflow parameter carrying the git ref (`refs/heads/main`). */
export const REF_PARAMETER = "ref";
/** Workflow parameter listing the environments in order (only when commit statuses are set). */
export const ENVIRONMENTS_PARAMETER = "environments";
/** Where stages write their Argo output-parameter files (`APHEX_OUTPUTS_DIR` in every pod). */
export const STAGE_OUTPUTS_DIR = "/tmp/aphex/outputs";
/** Output parameter of `pipeline-update`: "true" when this run was superseded by a resubmitted one. */
export const SUPERSEDED_PARAMETER = "superseded";
/** Mount path of the per-pod workspace volume. */
export const WORKSPACE_PATH = "/workspace";

/** Size of the workspace volume a pull-request validation run shares between its steps. */
export const VALIDATION_WORKSPACE_SIZE = "10Gi";

/** Pod deadline of each stage kind, in seconds. */
export const STAGE_DEADLINE_SECONDS: Readonly<
  Record<Exclude<StepKind, "approval"> | "report" | "preflight" | "synth", number>
> = {
  "build": 3600,
  "pipeline-update": 3600,
  "plan": 3600,
  "deploy": 10800,
  "test": 3600,
  "rollback": 3 * 3600 + 3600,
  "report": 600,
  "preflight": 900,
  "synth": 3600,
};

/** Deadline of a whole run (approval gates included), in seconds: 3 days. */
export const WORKFLOW_DEADLINE_SECONDS = 3 * 24 * 3600;
/** Retry limit for infrastructure errors (pod deleted, node lost), emitted as a string. */
export const RETRY_LIMIT = "2";

function stageEnv(
  topology: Topology,
  extra: EnvVar[],
  options: { withToken: boolean; withBucket: boolean },
): EnvVar[] {
  const env: EnvVar[] = [
    { name: "APHEX_COMMIT_SHA", value: `{{workflow.parameters.${COMMIT_SHA_PARAMETER}}}` },
    { name: "APHEX_BRANCH", value: `{{workflow.parameters.${REF_PARAMETER}}}` },
    { name: "APHEX_WORKFLOW_NAME", value: "{{workflow.name}}" },
    { name: "APHEX_WORKSPACE", value: WORKSPACE_PATH },
    { name: "APHEX_OUTPUTS_DIR", value: STAGE_OUTPUTS_DIR },
  ];
  if (topology.repoUrl !== null) env.push({ name: "APHEX_REPO_URL", value: topology.repoUrl });
  if (topology.artifactBucket !== null && options.withBucket) {
    env.push({ name: "APHEX_ARTIFACT_BUCKET", value: topology.artifactBucket });
  }
  if (topology.apiToken !== null && options.withToken) {
    env.push({
      name: "APHEX_GITHUB_TOKEN",
      valueFrom: {
        secretKeyRef: { name: topology.apiToken.name, key: topology.apiToken.key, optional: true },
      },
    });
  }
  return [...env, ...extra];
}

/** A container template running `aphex <stage>`; `withEnv` adds the `env` input parameter. */
function stageTemplate(
  topology: Topology,
  name: string,
  stage: string,
  options: {
    withEnv?: boolean;
    extraEnv?: EnvVar[];
    deadline: number;
    withToken?: boolean;
    withBucket?: boolean;
  },
): Template {
  const extra: EnvVar[] = [];
  if (options.withEnv) extra.push({ name: "APHEX_ENV", value: "{{inputs.parameters.env}}" });
  extra.push(...options.extraEnv ?? []);
  return {
    name,
    ...(options.withEnv ? { inputs: { parameters: [{ name: "env" }] } } : {}),
    container: {
      name: "main",
      image: topology.image,
      imagePullPolicy: "IfNotPresent",
      command: ["aphex"],
      args: [stage],
      env: stageEnv(topology, extra, {
        withToken: options.withToken ?? true,
        withBucket: options.withBucket ?? true,
      }),
      volumeMounts: [{ name: "workspace", mountPath: WORKSPACE_PATH }],
    },
    activeDeadlineSeconds: String(options.deadline),
    retryStrategy: { retryPolicy: "OnError", limit: RETRY_LIMIT },
  };
}

/**
 * Settings `aphex report` needs. Its pod has no checkout, so they come from the config as literal
 * env values; Argo's run facts come from `{{workflow.*}}` (env values only, never argv or scripts).
 */
function reportEnv(
  config: AphexConfig,
  options: { pullRequest: boolean; phase: "start" | "exit" },
): EnvVar[] {
  const p = config.pipeline;
  // workflow.status and workflow.failures exist only in the onExit handler (validate.go adds them
  // to the scope only there; any use reachable from the entrypoint fails every run as "invalid
  // spec"), so the start report never sees them.
  const env: EnvVar[] = options.phase === "exit"
    ? [
      { name: "APHEX_WORKFLOW_STATUS", value: "{{workflow.status}}" },
      { name: "APHEX_WORKFLOW_FAILURES", value: "{{workflow.failures}}" },
    ]
    : [];
  env.push(
    { name: "APHEX_WORKFLOW_CREATED_AT", value: "{{workflow.creationTimestamp}}" },
    { name: "APHEX_NAMESPACE", value: "{{workflow.namespace}}" },
    { name: "APHEX_LOG_GROUP", value: p.logGroup },
  );
  if (p.argoUrl !== undefined) env.push({ name: "APHEX_ARGO_URL", value: p.argoUrl });
  if (p.github !== undefined) {
    env.push({ name: "APHEX_GITHUB_REPOSITORY", value: `${p.github.owner}/${p.github.repo}` });
  }
  // Pull-request runs (PR boundary): one status, no bucket, no notification channel, nothing read
  // from the PR's config.
  if (options.pullRequest) return [...env, { name: "APHEX_PULL_REQUEST", value: "true" }];
  if (setsCommitStatuses(config)) {
    // Statuses for environments the run never reached need the list; it is carried once, in a
    // workflow parameter, so each environment name costs one more occurrence, not one per template.
    env.push({
      name: "APHEX_ENVIRONMENTS",
      value: `{{workflow.parameters.${ENVIRONMENTS_PARAMETER}}}`,
    });
  }
  env.push({ name: "APHEX_NOTIFY_ON_SUCCESS", value: String(p.notifications.onSuccess) });
  if (p.notifications.snsTopicArn !== undefined) {
    env.push({ name: "APHEX_SNS_TOPIC_ARN", value: p.notifications.snsTopicArn });
  }
  if (p.notifications.slackWebhook !== undefined) {
    const { name, key } = p.notifications.slackWebhook;
    env.push({
      name: "APHEX_SLACK_WEBHOOK_URL",
      valueFrom: { secretKeyRef: { name, key, optional: true } },
    });
  }
  return env;
}

/** The `onExit` handler, and (`phase: "start"`) the first task setting pending commit statuses. */
function reportTemplate(
  topology: Topology,
  config: AphexConfig,
  options: { pullRequest: boolean; phase?: "start" },
): Template {
  const start = options.phase === "start";
  const template = stageTemplate(topology, start ? "report-start" : "report", "report", {
    deadline: STAGE_DEADLINE_SECONDS.report,
    extraEnv: start
      ? [
        { name: "APHEX_REPORT_PHASE", value: "start" },
        ...reportEnv(config, { ...options, phase: "start" }),
      ]
      : reportEnv(config, { ...options, phase: "exit" }),
    withBucket: !options.pullRequest,
  });
  return template;
}

/** Whether runs set GitHub commit statuses (a token is configured). */
function setsCommitStatuses(config: AphexConfig): boolean {
  return config.pipeline.github?.apiToken !== undefined;
}

function dagTask(step: PipelineStep): DagTask {
  const task: DagTask = { name: step.name, template: step.kind };
  if (step.after !== undefined) task.depends = step.after;
  if (step.env !== undefined && step.kind !== "approval") {
    task.arguments = { parameters: [{ name: "env", value: step.env }] };
  }
  // The approval gate runs inside deploy-<env>'s template: its timeout is an argument of the
  // deploy task, only when it is not the default (bytes per environment).
  if (step.kind === "deploy" && step.timeout !== undefined) {
    task.arguments!.parameters.push({ name: "timeout", value: step.timeout });
  }
  return task;
}

function workflowParameters(): Parameter[] {
  return [
    { name: COMMIT_SHA_PARAMETER, description: "Commit to run (40 lowercase hex characters)" },
    { name: REF_PARAMETER, description: "Git ref that was pushed, e.g. refs/heads/main" },
  ];
}

function sharedSpec() {
  return {
    activeDeadlineSeconds: WORKFLOW_DEADLINE_SECONDS,
    ttlStrategy: { secondsAfterSuccess: 3 * 24 * 3600, secondsAfterFailure: 7 * 24 * 3600 },
    podGC: { strategy: "OnPodSuccess" as const },
    volumes: [{ name: "workspace", emptyDir: {} as Record<string, never> }],
  };
}

/**
 * Like {@linkcode sharedSpec}, but the workspace is one volume for the whole run: preflight,
 * build and synth work on the same checkout in turn (synth sees the build's output and installed
 * dependencies; the checkout is skipped when the workspace is already at the commit).
 */
function validationSpec() {
  const { volumes: _perPod, ...rest } = sharedSpec();
  return {
    ...rest,
    volumeClaimTemplates: [{
      apiVersion: "v1" as const,
      kind: "PersistentVolumeClaim" as const,
      metadata: { name: "workspace" },
      spec: {
        accessModes: ["ReadWriteOnce"],
        resources: { requests: { storage: VALIDATION_WORKSPACE_SIZE } },
      },
    }],
  };
}

/** Name of the DAG template holding the per-environment steps (and prefix of its parts). */
export const ENVIRONMENTS_TEMPLATE = "environments";

/**
 * Most tasks in one DAG template and most templates in one WorkflowTemplate: Argo v4's CRD caps
 * `dag.tasks` and `spec.templates` at 200 items each (workflow_types.go, "artificial limit to limit
 * CEL validation costs"); the API server refuses anything larger.
 */
export const MAX_DAG_TASKS = 200;

/** The per-environment steps as DAG tasks, grouped by environment ([approve] → deploy → [test]). */
function environmentUnits(steps: PipelineStep[]): DagTask[][] {
  const units = new Map<string, DagTask[]>();
  for (const step of steps) {
    const unit = units.get(step.env!) ?? [];
    // Each task's `depends` is set by the chain it lands in.
    unit.push(dagTask(step));
    units.set(step.env!, unit);
  }
  return [...units.values()];
}

/**
 * Chains units of tasks (each unit runs after the previous one) into DAG templates of at most
 * {@linkcode MAX_DAG_TASKS} tasks. Up to that size it is one DAG named `name`; beyond, `name`
 * becomes a chain of part tasks `<name>-1`, `<name>-2`, … each running a DAG of whole units, so a
 * failed or unapproved environment still stops every later one (a part runs only after the
 * previous part succeeded). Each part is a template of its own, so the parts stay far below the
 * cap on `spec.templates` (which `pipelineProblems` in generate.ts checks).
 */
function chainedDags(name: string, units: DagTask[][]): Template[] {
  const chain = (group: DagTask[][]): DagTask[] => {
    const flat: DagTask[] = [];
    for (const unit of group) {
      for (const [i, task] of unit.entries()) {
        const previous = i === 0 ? flat.at(-1)?.name : unit[i - 1]!.name;
        const { name: taskName, template, depends: _old, ...rest } = task;
        flat.push({
          name: taskName,
          template,
          ...(previous === undefined ? {} : { depends: previous }),
          ...rest,
        });
      }
    }
    return flat;
  };
  const total = units.reduce((n, u) => n + u.length, 0);
  if (total <= MAX_DAG_TASKS) return [{ name, dag: { tasks: chain(units) } }];
  const parts: DagTask[][][] = [[]];
  let size = 0;
  for (const unit of units) {
    if (size + unit.length > MAX_DAG_TASKS && size > 0) {
      parts.push([]);
      size = 0;
    }
    parts.at(-1)!.push(unit);
    size += unit.length;
  }
  const partTemplates = parts.map((group, i) => ({
    name: `${name}-${i + 1}`,
    dag: { tasks: chain(group) },
  }));
  const partTasks = partTemplates.map((t) => [{ name: t.name, template: t.name }]);
  return [{ name, dag: { tasks: chain(partTasks) } }, ...partTemplates];
}

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
 * `deploy`: a DAG run as `deploy-<env>` — `plan` prepares and describes the change sets,
 * `approve` runs the expiring gate ({@linkcode approvalTemplates}) only when the plan's `approve`
 * output is true (the environment's review gate; `argo resume` approves, `argo stop` rejects),
 * `execute` runs exactly the planned change sets by id (`APHEX_FROM_PLAN`). A skipped `approve`
 * still lets `execute` run (`depends` means Succeeded or Skipped).
 */
function deployTemplates(topology: Topology): Template[] {
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
function testTemplates(topology: Topology): Template[] {
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

/** Pod annotation holding the Argo node name (`common.AnnotationKeyNodeName`). */
export const NODE_NAME_ANNOTATION = "workflows.argoproj.io/node-name";

/** Prefix of a wave's DAG template and task (`wave-<name>`). */
export const WAVE_PREFIX = "wave-";
/** Prefix of the parts of a wave larger than {@linkcode MAX_DAG_TASKS} (`wavepart-<name>-<i>`). */
export const WAVE_PART_PREFIX = "wavepart-";

/**
 * The environments' DAGs with waves. Each wave is a DAG template `wave-<name>` whose environment
 * units run in parallel (each unit's own tasks stay chained, in their order) with
 * `failFast: false`: when one environment fails, the other environments of the wave still run
 * to their end (with Argo's default fail-fast no new task of the DAG would start, so a running
 * environment's test step would never run); the wave then fails. The waves are chained like units
 * by {@linkcode chainedDags} (a wave starts only after the previous one succeeded), so a failure
 * stops every later wave. A wave of more than {@linkcode MAX_DAG_TASKS} tasks becomes parallel
 * parts `wavepart-<name>-<i>` of whole units (part names end in digits after the wave name, and
 * wave names never contain `--` … so no two names collide).
 */
function waveDags(name: string, waves: { name: string; units: DagTask[][] }[]): Template[] {
  const parallel = (units: DagTask[][]): DagTask[] =>
    units.flatMap((unit) =>
      unit.map((task, i) => {
        const { name: taskName, template, depends: _old, ...rest } = task;
        return {
          name: taskName,
          template,
          ...(i === 0 ? {} : { depends: unit[i - 1]!.name }),
          ...rest,
        };
      })
    );
  const templates: Template[] = [];
  const waveTasks: DagTask[][] = [];
  for (const wave of waves) {
    const waveName = `${WAVE_PREFIX}${wave.name}`;
    waveTasks.push([{ name: waveName, template: waveName }]);
    const total = wave.units.reduce((n, u) => n + u.length, 0);
    if (total <= MAX_DAG_TASKS) {
      templates.push({ name: waveName, dag: { failFast: false, tasks: parallel(wave.units) } });
      continue;
    }
    const groups: DagTask[][][] = [[]];
    let size = 0;
    for (const unit of wave.units) {
      if (size + unit.length > MAX_DAG_TASKS && size > 0) {
        groups.push([]);
        size = 0;
      }
      groups.at(-1)!.push(unit);
      size += unit.length;
    }
    const parts = groups.map((group, i) => ({
      name: `${WAVE_PART_PREFIX}${wave.name}-${i + 1}`,
      dag: { failFast: false, tasks: parallel(group) },
    }));
    templates.push({
      name: waveName,
      dag: { failFast: false, tasks: parts.map((p) => ({ name: p.name, template: p.name })) },
    }, ...parts);
  }
  return [...chainedDags(name, waveTasks), ...templates];
}

/** The environments' DAG templates: one chain of environments, or waves when configured. */
function environmentDags(topology: Topology, envSteps: PipelineStep[]): Template[] {
  const units = environmentUnits(envSteps);
  if (!usesWaves(topology.environments)) return chainedDags(ENVIRONMENTS_TEMPLATE, units);
  // Units are in environment order, and so are the waves' environments.
  let next = 0;
  const waves = topologyWaves(topology).map((wave) => ({
    name: wave.name,
    units: units.slice(next, next += wave.environments.length),
  }));
  return waveDags(ENVIRONMENTS_TEMPLATE, waves);
}

/**
 * Builds the deployment WorkflowTemplate: a DAG `preflight → build → pipeline-update → per
 * environment: [approve-<env>] → deploy-<env> → [test-<env>]`, one reusable template per stage kind, a
 * per-pipeline mutex, and an `onExit` handler running `aphex report`.
 */
export function buildWorkflowTemplate(config: AphexConfig): WorkflowTemplate {
  const topology = buildTopology(config);
  const names = objectNames(config);
  const steps = pipelineSteps(topology);
  const kinds = new Set(steps.map((s) => s.kind));
  // build → pipeline-update → environments. The per-environment steps live in one nested DAG
  // behind a single `when`: a run superseded by its own self-update (a resubmitted Workflow carries
  // on with the new topology) skips them all, at a constant cost in template size.
  const [build, update] = steps.slice(0, 2).map(dagTask);
  // Validation first: preflight checks the config, tools, credentials/roles, CDK bootstrap and
  // context of every environment, all problems at once, before anything is built or deployed.
  const preflight: DagTask = { name: "preflight", template: "preflight" };
  build!.depends = preflight.name;
  const tasks: DagTask[] = [
    preflight,
    build!,
    update!,
    {
      name: ENVIRONMENTS_TEMPLATE,
      template: ENVIRONMENTS_TEMPLATE,
      depends: update!.name,
      when: `{{tasks.${update!.name}.outputs.parameters.${SUPERSEDED_PARAMETER}}} != true`,
    },
  ];
  // Pending commit statuses as soon as the run starts, beside the build. Only values that exist
  // while the run is going reach it: workflow.status is "Running" here and workflow.failures is
  // defined only in the onExit handler (Argo refuses the whole template otherwise).
  if (setsCommitStatuses(config)) tasks.unshift({ name: "report-start", template: "report-start" });
  const templates: Template[] = [
    { name: "pipeline", dag: { tasks } },
    // Plan, approval and rollback run inside deploy-<env>'s and test-<env>'s templates: the
    // environment chain holds one task per deploy and per test.
    ...environmentDags(topology, steps.slice(2).filter((s) => s.inside === undefined)),
  ];
  templates.push(
    stageTemplate(topology, "preflight", "preflight", {
      deadline: STAGE_DEADLINE_SECONDS.preflight,
    }),
  );
  templates.push(
    stageTemplate(topology, "build", "build", { deadline: STAGE_DEADLINE_SECONDS.build }),
  );
  templates.push({
    ...stageTemplate(topology, "pipeline-update", "pipeline-update", {
      deadline: STAGE_DEADLINE_SECONDS["pipeline-update"],
      // The hash of this template, so the stage knows which topology the run started with.
      extraEnv: [{ name: "APHEX_TOPOLOGY_HASH", value: hashTopology(topology) }],
    }),
    outputs: {
      parameters: [{
        name: SUPERSEDED_PARAMETER,
        valueFrom: { path: `${STAGE_OUTPUTS_DIR}/${SUPERSEDED_PARAMETER}`, default: "false" },
      }],
    },
  });
  if (kinds.has("deploy")) templates.push(...deployTemplates(topology));
  if (kinds.has("test")) templates.push(...testTemplates(topology));
  templates.push(reportTemplate(topology, config, { pullRequest: false }));
  if (setsCommitStatuses(config)) {
    templates.push(reportTemplate(topology, config, { pullRequest: false, phase: "start" }));
  }
  return {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "WorkflowTemplate",
    metadata: {
      name: names.workflowTemplate,
      namespace: topology.namespace,
      labels: standardLabels(config, "pipeline"),
      annotations: {
        "workflows.argoproj.io/description":
          "Aphex pipeline: preflight, build, self-update, then deploy each environment in order. Generated by aphex generate; do not edit.",
        [TOPOLOGY_HASH_ANNOTATION]: hashTopology(topology),
      },
    },
    spec: {
      entrypoint: "pipeline",
      onExit: "report",
      serviceAccountName: topology.serviceAccount,
      arguments: {
        parameters: setsCommitStatuses(config)
          ? [...workflowParameters(), {
            name: ENVIRONMENTS_PARAMETER,
            value: config.environments.map((e) => e.name).join(","),
            description: "Environments in order (for commit statuses)",
          }]
          : workflowParameters(),
      },
      synchronization: { mutexes: [{ name: names.mutex }] },
      ...sharedSpec(),
      templates,
    },
  };
}

/**
 * Builds the pull-request validation WorkflowTemplate (`<name>-validate`): preflight → build →
 * synth, nothing deployed, running under its own service account without deploy rights. The
 * steps that run pull-request code never receive the GitHub API token; only the `report` exit
 * handler (which runs no repository code) does.
 */
export function buildValidateWorkflowTemplate(config: AphexConfig): WorkflowTemplate {
  const topology = buildTopology(config);
  const names = objectNames(config);
  const order = ["preflight", "build", "synth"] as const;
  const tasks: DagTask[] = order.map((name, i) => ({
    name,
    template: name,
    ...(i === 0 ? {} : { depends: order[i - 1] }),
  }));
  return {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "WorkflowTemplate",
    metadata: {
      name: names.validateTemplate,
      namespace: topology.namespace,
      labels: standardLabels(config, "pull-request-validation"),
      annotations: {
        "workflows.argoproj.io/description":
          "Aphex pull-request validation: preflight, build and synth; deploys nothing. Generated by aphex generate; do not edit.",
        [TOPOLOGY_HASH_ANNOTATION]: hashTopology(topology),
      },
    },
    spec: {
      entrypoint: "validate",
      onExit: "report",
      serviceAccountName: names.validateServiceAccount,
      arguments: { parameters: workflowParameters() },
      ...validationSpec(),
      templates: [
        { name: "validate", dag: { tasks } },
        ...order.map((stage) =>
          stageTemplate(topology, stage, stage, {
            deadline: STAGE_DEADLINE_SECONDS[stage],
            // Pull-request code runs here: no GitHub token, and no AWS access (so no bucket: the
            // build's store stays in the shared workspace, where synth finds its output).
            withToken: false,
            withBucket: false,
            // The PR's config may name a bucket: the stages must ignore it (PR boundary).
            extraEnv: [
              { name: "APHEX_LOCAL_STORE", value: "true" },
              ...(stage === "preflight" ? [{ name: "APHEX_SKIP_AWS", value: "true" }] : []),
            ],
          })
        ),
        reportTemplate(topology, config, { pullRequest: true }),
      ],
    },
  };
}

/** The WorkflowTemplates of a configuration: the pipeline, plus validation if pull requests are enabled. */
export function buildWorkflowTemplates(config: AphexConfig): WorkflowTemplate[] {
  const out = [buildWorkflowTemplate(config)];
  if (config.pipeline.pullRequests.enabled) out.push(buildValidateWorkflowTemplate(config));
  return out;
}

/** Labels every generated object carries, re-exported for consumers that select them. */
export const LABEL_KEYS = {
  name: NAME_LABEL,
  managedBy: MANAGED_BY_LABEL,
  component: COMPONENT_LABEL,
} as const;
