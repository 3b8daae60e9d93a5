/**
 * The Argo Events GitHub EventSource: push (and pull_request when PR validation is enabled) for the
 * configured repository, with the webhook HMAC secret always set. No I/O happens in this module.
 * @module
 */
import type { AphexConfig } from "../models/config.ts";
import { AphexError, ExitCode } from "../models/errors.ts";
import { objectNames, standardLabels } from "./labels.ts";
import type { EventSource } from "./types.ts";

/**
 * Builds the EventSource, or returns undefined when `pipeline.github` is not configured.
 * Throws an {@linkcode AphexError} (exit 2) when GitHub is configured without a webhook secret or
 * without a webhook endpoint: an unsigned or unreachable webhook is never generated.
 */
export function buildEventSource(config: AphexConfig): EventSource | undefined {
  const p = config.pipeline;
  const github = p.github;
  if (github === undefined) return undefined;
  if (!github.webhookSecret?.name || !github.webhookSecret?.key) {
    throw new AphexError(
      "pipeline.github.webhookSecret is required: Aphex never generates a GitHub EventSource that accepts unsigned webhooks",
      { exitCode: ExitCode.Usage },
    );
  }
  const webhook = p.webhook;
  if (webhook === undefined) {
    throw new AphexError("pipeline.webhook.url is required when pipeline.github is set", {
      exitCode: ExitCode.Usage,
    });
  }
  const names = objectNames(config);
  const events = p.pullRequests.enabled ? ["push", "pull_request"] : ["push"];
  return {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "EventSource",
    metadata: {
      name: names.eventSource,
      namespace: p.eventsNamespace,
      labels: standardLabels(config, "event-source"),
    },
    spec: {
      service: { ports: [{ name: "webhook", port: webhook.port }] },
      github: {
        [names.eventName]: {
          repositories: [{ owner: github.owner, names: [github.repo] }],
          webhook: {
            endpoint: webhook.endpoint,
            port: String(webhook.port),
            method: "POST",
            url: webhook.url,
          },
          events,
          webhookSecret: { name: github.webhookSecret.name, key: github.webhookSecret.key },
          ...(github.apiToken
            ? { apiToken: { name: github.apiToken.name, key: github.apiToken.key } }
            : {}),
          contentType: "json",
          active: true,
          insecure: false,
        },
      },
    },
  };
}
