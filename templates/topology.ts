/**
 * The pipeline topology: the part of the configuration the WorkflowTemplate is generated from,
 * its hash, and the ordered steps shared by the WorkflowTemplate's DAG and `aphex graph`.
 *
 * Build, test and hook commands and the stack lists are deliberately absent: the stages read them
 * from the configuration at the commit they run, so changing them never changes the template.
 * No I/O happens in this module.
 * @module
 */
import { createHash } from "node:crypto";
import { type AphexConfig, reviewPolicy, type SecretRef } from "../models/config.ts";
import { environmentWaves, usesWaves } from "../models/waves.ts";
import { DEFAULT_APPROVAL_TIMEOUT } from "../models/approval.ts";

/** One environment as the topology sees it. */
export interface TopologyEnvironment {
  /** Environment name. */
  name: string;
  /**
   * Whether the deployment can stop for approval: the environment's review gate is not `never`
   * (whether a run actually stops is the plan's verdict, see `models/plan.ts`).
   */
  approval: boolean;
  /** Whether a test step follows the deployment. */
  tests: boolean;
  /** Wave (set only when configured: the hash of a pipeline without waves is unchanged). */
  wave?: string;
  /** Approval timeout, when there is a gate and it is not the default (24h). */
  approvalTimeout?: string;
}

/** Everything the WorkflowTemplate depends on (and nothing else). */
export interface Topology {
  /** Pipeline name. */
  pipeline: string;
  /** Namespace of the WorkflowTemplate. */
  namespace: string;
  /** Pipeline image. */
  image: string;
  /** Service account of the pipeline's pods. */
  serviceAccount: string;
  /** Clone URL of the repository (from the config, never from a webhook), or null. */
  repoUrl: string | null;
  /** Artifact bucket, or null for the local store. */
  artifactBucket: string | null;
  /** Secret with the GitHub API token, or null. */
  apiToken: SecretRef | null;
  /** Whether the pull-request validation template exists. */
  pullRequests: boolean;
  /** Environments in deployment order. */
  environments: TopologyEnvironment[];
}

/** Kinds of pipeline steps; one reusable Argo template per kind. */
export type StepKind =
  | "build"
  | "pipeline-update"
  | "plan"
  | "approval"
  | "deploy"
  | "test"
  | "rollback";

/** One step of the pipeline DAG. */
export interface PipelineStep {
  /** Unique step name (`build`, `deploy-dev`, …). */
  name: string;
  /** Stage kind. */
  kind: StepKind;
  /** Environment of the step, for per-environment kinds. */
  env?: string;
  /** Name of the step this one runs after (none for the first step). */
  after?: string;
  /**
   * With waves: the steps this one waits for, all of them (the first step of an environment
   * waits for the last step of every environment of the previous wave); `after` is then unset.
   */
  afterAll?: string[];
  /** With waves: the wave of an environment's step. */
  wave?: string;
  /** Deploy steps: the approval gate's timeout when it is not the default. */
  timeout?: string;
  /**
   * The step whose template runs this one (plan and approval run inside `deploy-<env>`'s
   * template, rollback inside `test-<env>`'s, so they add no task to the environment chain).
   */
  inside?: string;
}

/** Extracts the topology from a configuration. */
export function buildTopology(config: AphexConfig): Topology {
  const p = config.pipeline;
  return {
    pipeline: p.name,
    namespace: p.namespace,
    image: p.image,
    serviceAccount: p.serviceAccount,
    repoUrl: p.github ? githubCloneUrl(p.github.owner, p.github.repo) : null,
    artifactBucket: p.artifactBucket ?? null,
    apiToken: p.github?.apiToken
      ? { name: p.github.apiToken.name, key: p.github.apiToken.key }
      : null,
    pullRequests: p.pullRequests.enabled,
    environments: config.environments.map((e) => {
      const approval = reviewPolicy(e).approve !== "never";
      return {
        name: e.name,
        approval,
        tests: e.tests !== undefined && e.tests.commands.length > 0,
        ...(e.wave !== undefined ? { wave: e.wave } : {}),
        ...(approval && e.approvalTimeout !== DEFAULT_APPROVAL_TIMEOUT
          ? { approvalTimeout: e.approvalTimeout }
          : {}),
      };
    }),
  };
}

/** The HTTPS clone URL of a GitHub repository. */
export function githubCloneUrl(owner: string, repo: string): string {
  return `https://github.com/${owner}/${repo}.git`;
}

/** Canonical JSON: object keys sorted, no whitespace. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * The topology hash written into the WorkflowTemplate's annotation: `sha256:` + hex SHA-256 of the
 * canonical JSON of {@linkcode buildTopology}. The self-update stage compares it with the running
 * workflow's template.
 *
 * @example
 * ```ts
 * const hash = topologyHash(config); // "sha256:3f5a…"
 * ```
 */
export function topologyHash(config: AphexConfig): string {
  return hashTopology(buildTopology(config));
}

/** {@linkcode topologyHash} of an already extracted topology. */
export function hashTopology(topology: Topology): string {
  return `sha256:${createHash("sha256").update(canonicalJson(topology)).digest("hex")}`;
}

/**
 * The pipeline's steps in execution order: build → pipeline-update → for each environment:
 * plan-<env> → [approve-<env>] → deploy-<env> → [test-<env> → rollback-<env>]. Each step runs
 * after the previous one (with waves, see {@linkcode topologyWaves}, environments of one wave side
 * by side). Plan and approval run inside the deploy step's template (`inside`): `deploy-<env>` is
 * one DAG task whose template plans, suspends only when the plan asks for it (and fails the run
 * when the gate expires), then executes exactly the planned change sets — so the environment chain
 * keeps one task per deploy. Likewise rollback-<env> runs inside test-<env>'s template, only when
 * the tests failed.
 */
export function pipelineSteps(topology: Topology): PipelineStep[] {
  const steps: PipelineStep[] = [];
  const add = (
    name: string,
    kind: StepKind,
    env?: string,
    options: { inside?: string; timeout?: string } = {},
  ) => {
    const previous = steps.at(-1)?.name;
    steps.push({
      name,
      kind,
      ...(env === undefined ? {} : { env }),
      ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
      ...(previous === undefined ? {} : { after: previous }),
      ...(options.inside === undefined ? {} : { inside: options.inside }),
    });
  };
  add("build", "build");
  add("pipeline-update", "pipeline-update");
  for (const env of topology.environments) {
    const deploy = `deploy-${env.name}`;
    add(`plan-${env.name}`, "plan", env.name, { inside: deploy });
    if (env.approval) add(`approve-${env.name}`, "approval", env.name, { inside: deploy });
    // The gate's timeout travels with the deploy task (the gate runs inside its template).
    add(deploy, "deploy", env.name, {
      ...(env.approvalTimeout === undefined ? {} : { timeout: env.approvalTimeout }),
    });
    if (env.tests) {
      add(`test-${env.name}`, "test", env.name);
      // Runs only when the tests failed; redeploys the last good version when the commit's
      // config sets rollback.onTestFailure, and fails the run either way.
      add(`rollback-${env.name}`, "rollback", env.name, { inside: `test-${env.name}` });
    }
  }
  return usesWaves(topology.environments) ? inWaves(topology, steps) : steps;
}

/**
 * Rewires the chained steps into waves: inside an environment the order is unchanged (treated as
 * opaque); the first step of each environment waits for the last step of every environment of
 * the previous wave (for the first wave: the step before the environments).
 */
function inWaves(topology: Topology, steps: PipelineStep[]): PipelineStep[] {
  const byEnv = new Map<string, PipelineStep[]>();
  const head: PipelineStep[] = [];
  for (const step of steps) {
    if (step.env === undefined) head.push(step);
    else byEnv.set(step.env, [...byEnv.get(step.env) ?? [], step]);
  }
  const out = [...head];
  let previous = [head.at(-1)!.name];
  for (const wave of environmentWaves(topology.environments)) {
    const last: string[] = [];
    for (const env of wave.environments) {
      const unit = byEnv.get(env)!;
      unit.forEach((step, i) => {
        const { after: _chained, ...rest } = step;
        out.push({
          ...rest,
          wave: wave.name,
          ...(i === 0 ? { afterAll: previous } : { after: unit[i - 1]!.name }),
        });
      });
      last.push(unit.at(-1)!.name);
    }
    previous = last;
  }
  return out;
}

/** The waves of a topology (see models/waves.ts); each environment its own wave without any. */
export function topologyWaves(topology: Topology): ReturnType<typeof environmentWaves> {
  return environmentWaves(topology.environments);
}
