import assert from "node:assert/strict";
import { AphexError, ExitCode } from "../models/errors.ts";
import { configTable } from "../tests/generate_table.ts";
import { toYamlDocument } from "./yaml.ts";
import { buildEventSource } from "./event_source.ts";

const TABLE = configTable();

Deno.test("EventSource: configured repository, signed webhook, port as a string", () => {
  const es = buildEventSource(TABLE["three-envs-approval-hooks"]!)!;
  assert.equal(es.metadata.namespace, "argo-events");
  const github = es.spec.github.github!;
  assert.deepEqual(github.repositories, [{ owner: "example-org", names: ["shop"] }]);
  assert.deepEqual(github.webhook, {
    endpoint: "/github",
    port: "12000",
    method: "POST",
    url: "https://aphex.example.com",
  });
  assert.deepEqual(github.webhookSecret, { name: "github-webhook", key: "secret" });
  assert.deepEqual(github.events, ["push", "pull_request"]);
  assert.equal(github.insecure, false);
  assert.equal(github.apiToken, undefined);
  assert.deepEqual(es.spec.service.ports, [{ name: "webhook", port: 12000 }]);
  assert.match(toYamlDocument(es), /\n {8}port: "12000"\n/);
  assert.deepEqual(buildEventSource(TABLE["one-env"]!)!.spec.github.github!.events, ["push"]);
  assert.equal(buildEventSource(TABLE["no-github"]!), undefined);
});

Deno.test("EventSource: refuses to generate an unsigned or endpoint-less GitHub webhook", () => {
  const config = structuredClone(TABLE["one-env"]!);
  const unsigned = structuredClone(config);
  // deno-lint-ignore no-explicit-any
  (unsigned.pipeline.github as any).webhookSecret = undefined;
  assert.throws(
    () => buildEventSource(unsigned),
    (e: unknown) =>
      e instanceof AphexError && e.exitCode === ExitCode.Usage &&
      /webhookSecret is required/.test(e.message),
  );
  const noWebhook = structuredClone(config);
  delete noWebhook.pipeline.webhook;
  assert.throws(() => buildEventSource(noWebhook), /pipeline\.webhook\.url is required/);
});
