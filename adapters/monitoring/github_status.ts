/**
 * GitHub commit statuses (`POST /repos/{owner}/{repo}/statuses/{sha}`): `aphex/pipeline` for the
 * whole run and `aphex/<env>` per environment, each linking to the workflow in the Argo UI.
 *
 * The token comes from the environment (`APHEX_GITHUB_TOKEN`, set from the Kubernetes secret of
 * `pipeline.github.apiToken`) and is never logged; the API base URL is injectable (GitHub
 * Enterprise, tests). Delivery uses {@linkcode postJson}: bounded retries, never throws.
 * @module
 */
import { usageError } from "../../models/errors.ts";
import type { WorkflowMetadata } from "../../models/metadata.ts";
import { type DeliveryResult, type HttpRetryOptions, postJson } from "./notify.ts";
import { environmentOfStage } from "../store/stage_records.ts";

/** Environment variable holding the GitHub API token (one definition, in the stage runtime). */
export { GITHUB_TOKEN_ENV } from "../../models/config.ts";

/** Default GitHub REST API base URL. */
export const DEFAULT_GITHUB_API_URL = "https://api.github.com";

/** Context of the whole-run status. */
export const PIPELINE_CONTEXT = "aphex/pipeline";

/** Context of the one status a pull-request validation run sets. */
export const VALIDATE_CONTEXT = "aphex/validate";

/**
 * The status of a pull-request validation run: pending when it starts, then success or failure
 * from Argo's own `{{workflow.status}}` (never from anything the pull request's code wrote).
 */
export function validationStatus(
  workflowStatus: "Succeeded" | "Failed" | "Error" | null,
  options: { targetUrl: string | null },
): CommitStatus {
  const state: CommitState = workflowStatus === null
    ? "pending"
    : workflowStatus === "Succeeded"
    ? "success"
    : "failure";
  const description = state === "pending"
    ? "Aphex validation running"
    : state === "success"
    ? "Aphex validation passed (build and synth)"
    : "Aphex validation failed; details in the Argo UI";
  return { context: VALIDATE_CONTEXT, state, description, targetUrl: options.targetUrl };
}

/** Commit status state. */
export type CommitState = "error" | "failure" | "pending" | "success";

/** One commit status to set. */
export interface CommitStatus {
  /** `aphex/pipeline` or `aphex/<env>`. */
  context: string;
  /** State. */
  state: CommitState;
  /** Short description (at most 140 characters). */
  description: string;
  /** Link (the Argo UI workflow page), if known. */
  targetUrl: string | null;
}

/** A GitHub repository. */
export interface Repository {
  /** Owner (user or organisation). */
  owner: string;
  /** Repository name. */
  repo: string;
}

/** Parses `owner/repo`; usage error otherwise. */
export function parseRepository(text: string): Repository {
  const m = /^([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))\/([A-Za-z0-9._-]{1,100})$/.exec(text);
  if (!m || m[2] === "." || m[2] === "..") {
    throw usageError(`repository ${JSON.stringify(text.slice(0, 120))} must be owner/repo`);
  }
  return { owner: m[1]!, repo: m[2]! };
}

/** Context of an environment's status: `aphex/<env>`. */
export function environmentContext(env: string): string {
  return `aphex/${env}`;
}

function describe(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length <= 140 ? flat : `${flat.slice(0, 139)}…`;
}

/** Statuses set when a run starts: everything pending. */
export function pendingStatuses(
  environments: string[],
  options: { targetUrl: string | null },
): CommitStatus[] {
  return [
    {
      context: PIPELINE_CONTEXT,
      state: "pending",
      description: "Aphex pipeline running",
      targetUrl: options.targetUrl,
    },
    ...environments.map((env): CommitStatus => ({
      context: environmentContext(env),
      state: "pending",
      description: `Waiting to deploy ${env}`,
      targetUrl: options.targetUrl,
    })),
  ];
}

/**
 * Final statuses of a run: `aphex/pipeline` success/failure, and per environment (the given list
 * plus any environment seen in the stages): `failure` when one of its stages failed, `success`
 * when its stages all succeeded, `error` ("not deployed") when none of its stages ran.
 * Descriptions never carry error messages (statuses are as visible as the repository).
 */
export function finalStatuses(
  run: WorkflowMetadata,
  options: { environments: string[]; targetUrl: string | null; supersededBy?: string | null },
): CommitStatus[] {
  const envs = [...options.environments];
  for (const stage of run.stages) {
    const env = environmentOfStage(stage.stageName);
    if (env !== null && !envs.includes(env)) envs.push(env);
  }
  if (run.status === "superseded") {
    // The resubmitted run works on the same commit and sets the final statuses; until then
    // everything stays pending (never success or failure for a run that deployed nothing).
    return [{
      context: PIPELINE_CONTEXT,
      state: "pending",
      description: describe(
        `Superseded by ${options.supersededBy ?? "a resubmitted run"} (new pipeline topology)`,
      ),
      targetUrl: options.targetUrl,
    }];
  }
  const failed = run.stages.find((s) => s.status === "failed");
  const statuses: CommitStatus[] = [{
    context: PIPELINE_CONTEXT,
    state: run.status === "succeeded" ? "success" : "failure",
    description: describe(
      run.status === "succeeded"
        ? "Aphex pipeline succeeded"
        : `Aphex pipeline failed${failed ? ` at ${failed.stageName}` : ""}`,
    ),
    targetUrl: options.targetUrl,
  }];
  for (const env of envs) {
    const stages = run.stages.filter((s) => environmentOfStage(s.stageName) === env);
    const bad = stages.find((s) => s.status !== "succeeded");
    let state: CommitState;
    let description: string;
    if (stages.length === 0) {
      state = "error";
      description = `Not deployed to ${env}: the pipeline stopped earlier`;
    } else if (bad) {
      state = "failure";
      // No error text: statuses are visible to everyone who can read the repository.
      description = `${bad.stageName} ${
        bad.status === "running" ? "did not finish" : "failed"
      }; details in the Argo UI`;
    } else {
      state = "success";
      description = `Deployed to ${env}`;
    }
    statuses.push({
      context: environmentContext(env),
      state,
      description: describe(description),
      targetUrl: options.targetUrl,
    });
  }
  return statuses;
}

/** Options of {@linkcode setCommitStatuses}. */
export interface SetStatusesOptions extends HttpRetryOptions {
  /** Repository. */
  repository: Repository;
  /** Commit SHA. */
  commitSha: string;
  /** API token (never logged). */
  token: string;
  /** API base URL (default {@linkcode DEFAULT_GITHUB_API_URL}). */
  apiUrl?: string;
  /** User-Agent header (GitHub requires one). */
  userAgent?: string;
  /** Log sink for failures. */
  log?: (line: string) => void;
}

/** Sets commit statuses one by one. Never throws; failures are logged and returned. */
export async function setCommitStatuses(
  statuses: CommitStatus[],
  options: SetStatusesOptions,
): Promise<DeliveryResult[]> {
  const base = (options.apiUrl ?? DEFAULT_GITHUB_API_URL).replace(/\/+$/, "");
  const { owner, repo } = options.repository;
  const url = `${base}/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/statuses/${
    encodeURIComponent(options.commitSha)
  }`;
  const results: DeliveryResult[] = [];
  for (const status of statuses) {
    const result = await postJson(url, {
      state: status.state,
      ...(status.targetUrl ? { target_url: status.targetUrl } : {}),
      description: status.description,
      context: status.context,
    }, {
      ...options,
      channel: `github ${status.context}`,
      headers: {
        accept: "application/vnd.github+json",
        authorization: `Bearer ${options.token}`,
        "user-agent": options.userAgent ?? "aphex",
        "x-github-api-version": "2022-11-28",
      },
      secrets: [options.token],
    });
    if (!result.ok) {
      options.log?.(
        `GitHub status ${status.context}=${status.state} not set after ${result.attempts} ` +
          `attempt(s): ${result.error}`,
      );
    }
    results.push(result);
  }
  return results;
}
