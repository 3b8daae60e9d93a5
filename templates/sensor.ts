/**
 * The Argo Events Sensor: turns a push to the configured branch into a pipeline Workflow and, when
 * enabled, a pull request into a validation Workflow.
 *
 * Event data reaches the Workflow only as `arguments.parameters` values and as the suffix of
 * `metadata.name`, and only after data filters have checked it: the commit SHA must match
 * `^[0-9a-f]{40}$`, the ref must be exactly `refs/heads/<branch>`, deleted branches and tags never
 * match. The Workflow name is deterministic per commit (`<pipeline>-<sha>`) and created with the
 * Kubernetes `create` operation, so a redelivered webhook fails with AlreadyExists instead of
 * starting a second deployment. No I/O happens in this module.
 * @module
 */
import { createHash } from "node:crypto";
import type { AphexConfig } from "../models/config.ts";
import { VALIDATED_PR_ACTIONS } from "../models/event.ts";
import { objectNames, standardLabels } from "./labels.ts";
import type { DataFilter, EventDependency, Sensor, Trigger, WorkflowResource } from "./types.ts";
import { COMMIT_SHA_PARAMETER, REF_PARAMETER } from "./workflow_template.ts";

/** Regular expression (Go syntax) every commit SHA must match before it is used. */
export const SHA_FILTER = "^[0-9a-f]{40}$";
/** The `after` SHA of a push that deleted a branch. */
export const ZERO_SHA_FILTER = "^0{40}$";
/** Longest Kubernetes label value; Argo labels pods with the Workflow name. */
export const MAX_WORKFLOW_NAME = 63;
/** Pull-request actions that start a validation run (the same list `aphex event parse` uses). */
export const PULL_REQUEST_ACTIONS: readonly string[] = VALIDATED_PR_ACTIONS;

/** Escapes a literal for a Go (RE2) regular expression. */
export function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.|?*+()[\]{}]/g, "\\$&");
}

/**
 * Prefix of the Workflow names the Sensor creates, such that prefix + 40-character SHA fits in
 * {@linkcode MAX_WORKFLOW_NAME}: `<pipeline>-` (or `<pipeline>-pr-`), with long pipeline names
 * shortened and suffixed with a hash of the full name so they stay unique.
 */
export function workflowNamePrefix(
  pipeline: string,
  options: { pullRequest?: boolean } = {},
): string {
  const suffix = options.pullRequest ? "-pr-" : "-";
  const room = MAX_WORKFLOW_NAME - 40 - suffix.length;
  if (pipeline.length <= room) return `${pipeline}${suffix}`;
  const hash = createHash("sha256").update(pipeline).digest("hex").slice(0, 6);
  const head = pipeline.slice(0, room - 7).replace(/-+$/, "");
  return `${head}-${hash}${suffix}`;
}

function workflowResource(
  config: AphexConfig,
  options: { template: string; pullRequest: boolean },
): WorkflowResource {
  const p = config.pipeline;
  return {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "Workflow",
    metadata: {
      name: workflowNamePrefix(p.name, { pullRequest: options.pullRequest }),
      namespace: p.namespace,
      labels: standardLabels(
        config,
        options.pullRequest ? "pull-request-validation" : "pipeline-run",
      ),
    },
    spec: {
      workflowTemplateRef: { name: options.template },
      arguments: {
        parameters: [
          { name: COMMIT_SHA_PARAMETER, value: "" },
          { name: REF_PARAMETER, value: "" },
        ],
      },
    },
  };
}

function trigger(
  name: string,
  dependency: string,
  resource: WorkflowResource,
  keys: { sha: string; ref: { dataKey: string } | { dataTemplate: string } },
): Trigger {
  return {
    template: {
      name,
      conditions: dependency,
      k8s: {
        operation: "create",
        source: { resource },
        parameters: [
          {
            src: { dependencyName: dependency, dataKey: keys.sha },
            dest: "metadata.name",
            operation: "append",
          },
          {
            src: { dependencyName: dependency, dataKey: keys.sha },
            dest: "spec.arguments.parameters.0.value",
          },
          {
            src: { dependencyName: dependency, ...keys.ref },
            dest: "spec.arguments.parameters.1.value",
          },
        ],
      },
    },
    retryStrategy: { steps: 3, duration: "3s" },
    atLeastOnce: true,
  };
}

const string = (path: string, value: string, comparator?: "!="): DataFilter => ({
  path,
  type: "string",
  value: [value],
  ...(comparator ? { comparator } : {}),
});

/** Builds the Sensor, or returns undefined when `pipeline.github` is not configured. */
export function buildSensor(config: AphexConfig): Sensor | undefined {
  const p = config.pipeline;
  const github = p.github;
  if (github === undefined) return undefined;
  const names = objectNames(config);
  const repo = `(?i)^${escapeRegExp(`${github.owner}/${github.repo}`)}$`;
  const push: EventDependency = {
    name: "push",
    eventSourceName: names.eventSource,
    eventName: names.eventName,
    filters: {
      dataLogicalOperator: "and",
      data: [
        string("headers.X-Github-Event.0", "^push$"),
        string("body.repository.full_name", repo),
        string("body.ref", `^${escapeRegExp(`refs/heads/${github.branch}`)}$`),
        { path: "body.deleted", type: "bool", value: ["false"] },
        string("body.after", SHA_FILTER),
        string("body.after", ZERO_SHA_FILTER, "!="),
      ],
    },
  };
  const dependencies = [push];
  const triggers = [
    trigger(
      "deploy",
      "push",
      workflowResource(config, { template: names.workflowTemplate, pullRequest: false }),
      {
        sha: "body.after",
        ref: { dataKey: "body.ref" },
      },
    ),
  ];
  if (p.pullRequests.enabled) {
    const data: DataFilter[] = [
      string("headers.X-Github-Event.0", "^pull_request$"),
      string("body.action", `^(${PULL_REQUEST_ACTIONS.join("|")})$`),
      string("body.repository.full_name", repo),
      string("body.pull_request.base.repo.full_name", repo),
    ];
    if (!p.pullRequests.allowForks) {
      data.push(string("body.pull_request.head.repo.full_name", repo));
    }
    data.push(string("body.pull_request.head.sha", SHA_FILTER));
    dependencies.push({
      name: "pull-request",
      eventSourceName: names.eventSource,
      eventName: names.eventName,
      filters: { dataLogicalOperator: "and", data },
    });
    triggers.push(
      trigger(
        "validate",
        "pull-request",
        workflowResource(config, { template: names.validateTemplate, pullRequest: true }),
        // The PR's ref in the base repository (the only one fetchable for fork PRs); the number
        // is an integer in the payload, so no attacker-chosen text reaches the parameter.
        {
          sha: "body.pull_request.head.sha",
          ref: { dataTemplate: "refs/pull/{{ .Input.body.number }}/head" },
        },
      ),
    );
  }
  return {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "Sensor",
    metadata: {
      name: names.sensor,
      namespace: p.eventsNamespace,
      labels: standardLabels(config, "sensor"),
    },
    spec: {
      template: { serviceAccountName: names.sensorServiceAccount },
      dependencies,
      triggers,
    },
  };
}
