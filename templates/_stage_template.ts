/**
 * The container template every pipeline step runs: the pipeline image's `aphex` binary with
 * literal argv (`["aphex", "<stage>"]`), per-run data (commit SHA, ref, workflow name,
 * environment) only in environment variable *values*, the per-pod workspace, a deadline per stage
 * kind and a retry on infrastructure errors. The workflow parameters and paths every stage pod
 * receives are defined here. No I/O happens in this module.
 * @module
 */
import type { StepKind, Topology } from "./topology.ts";
import type { EnvVar, Template } from "./types.ts";

/** Workflow parameter carrying the commit SHA (validated by the Sensor and by every stage). */
export const COMMIT_SHA_PARAMETER = "commit-sha";
/** Workflow parameter carrying the git ref (`refs/heads/main`). */
export const REF_PARAMETER = "ref";
/** Where stages write their Argo output-parameter files (`APHEX_OUTPUTS_DIR` in every pod). */
export const STAGE_OUTPUTS_DIR = "/tmp/aphex/outputs";
/** Mount path of the per-pod workspace volume. */
export const WORKSPACE_PATH = "/workspace";

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

/** Retry limit for infrastructure errors (pod deleted, node lost), emitted as a string. */
export const RETRY_LIMIT = "2";

/** The environment of a stage pod: the run's facts, the topology's settings, then `extra`. */
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
export function stageTemplate(
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
