/**
 * The pipeline's Argo WorkflowTemplate (and the pull-request validation template), built as typed
 * objects from the configuration's topology.
 *
 * Every step runs the pipeline image's `aphex` binary with literal argv (`["aphex", "deploy"]`);
 * per-run data (commit SHA, ref, workflow name, environment) reaches it only through environment
 * variable *values*. There is no script template and no shell anywhere. Environments differ only in
 * the arguments of DAG tasks, so the template grows by a few hundred bytes per environment.
 *
 * This module is the skeleton: the entry DAG (preflight → build → pipeline-update →
 * environments), the workflow's parameters, deadline, volumes and mutex, and the `report` exit
 * handler. Its parts live beside it: the container template every step runs
 * (`_stage_template.ts`), the templates an environment's tasks run, `deploy` (plan → approve →
 * execute) and `test` (run → rollback) (`_environment_steps.ts`), and the chaining of the
 * environments' tasks into DAGs within Argo's 200-task cap, with or without waves
 * (`_environment_dags.ts`). Their public names are re-exported here. No I/O happens in this module.
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
} from "./labels.ts";
import { buildTopology, hashTopology, pipelineSteps, type Topology } from "./topology.ts";
import {
  COMMIT_SHA_PARAMETER,
  REF_PARAMETER,
  STAGE_DEADLINE_SECONDS,
  STAGE_OUTPUTS_DIR,
  stageTemplate,
} from "./_stage_template.ts";
import { deployTemplates, testTemplates } from "./_environment_steps.ts";
import { dagTask, environmentDags, ENVIRONMENTS_TEMPLATE } from "./_environment_dags.ts";
import type { DagTask, EnvVar, Parameter, Template, WorkflowTemplate } from "./types.ts";

export { TOPOLOGY_HASH_ANNOTATION } from "./labels.ts";
export {
  COMMIT_SHA_PARAMETER,
  REF_PARAMETER,
  RETRY_LIMIT,
  STAGE_DEADLINE_SECONDS,
  STAGE_OUTPUTS_DIR,
  WORKSPACE_PATH,
} from "./_stage_template.ts";
export { APPROVE_PARAMETER, INNER_STEP_NAMES } from "./_environment_steps.ts";
export {
  ENVIRONMENTS_TEMPLATE,
  MAX_DAG_TASKS,
  WAVE_PART_PREFIX,
  WAVE_PREFIX,
} from "./_environment_dags.ts";

/** Workflow parameter listing the environments in order (only when commit statuses are set). */
export const ENVIRONMENTS_PARAMETER = "environments";
/** Output parameter of `pipeline-update`: "true" when this run was superseded by a resubmitted one. */
export const SUPERSEDED_PARAMETER = "superseded";

/** Size of the workspace volume a pull-request validation run shares between its steps. */
export const VALIDATION_WORKSPACE_SIZE = "10Gi";
/** Deadline of a whole run (approval gates included), in seconds: 3 days. */
export const WORKFLOW_DEADLINE_SECONDS = 3 * 24 * 3600;
/** Pod annotation holding the Argo node name (`common.AnnotationKeyNodeName`). */
export const NODE_NAME_ANNOTATION = "workflows.argoproj.io/node-name";

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
