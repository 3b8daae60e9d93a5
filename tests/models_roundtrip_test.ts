/** Property tests: every spec model survives JSON encode → text → decode exactly. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { type Codec, fromJsonText, toJsonText } from "../models/_codec.ts";
import { AphexError } from "../models/errors.ts";
import { GitHubEventCodec } from "../models/event.ts";
import {
  ArtifactMetadataCodec,
  type StageMetadata,
  StageMetadataCodec,
  WorkflowMetadataCodec,
} from "../models/metadata.ts";
import {
  BuildResultCodec,
  DeploymentResultCodec,
  TestExecutionResultCodec,
} from "../models/results.ts";

const date = fc.date({
  min: new Date("1970-01-01T00:00:00Z"),
  max: new Date("9999-12-31T23:59:59Z"),
  noInvalidDate: true,
});
const duration = fc.double({ min: 0, max: 1e9, noNaN: true }).map((x) => (x === 0 ? 0 : x));
const count = fc.nat({ max: 1_000_000 });
const status = fc.constantFrom("running" as const, "succeeded" as const, "failed" as const);
const sha = fc.stringMatching(/^[0-9a-f]{40}$/);

const stage: fc.Arbitrary<StageMetadata> = fc.record({
  stageName: fc.string(),
  startedAt: date,
  completedAt: fc.option(date, { nil: null }),
  status,
  errorMessage: fc.option(fc.string(), { nil: null }),
});

const cases: [string, Codec<unknown>, fc.Arbitrary<unknown>][] = [
  ["StageMetadata", StageMetadataCodec as Codec<unknown>, stage],
  [
    "WorkflowMetadata",
    WorkflowMetadataCodec as Codec<unknown>,
    fc.record({
      workflowId: fc.string(),
      commitSha: sha,
      branch: fc.string(),
      triggeredAt: date,
      completedAt: fc.option(date, { nil: null }),
      status,
      stages: fc.array(stage, { maxLength: 5 }),
    }),
  ],
  [
    "ArtifactMetadata",
    ArtifactMetadataCodec as Codec<unknown>,
    fc.record({
      commitSha: sha,
      timestamp: date,
      s3Path: fc.string(),
      artifactType: fc.string(),
      sizeBytes: fc.nat(),
      checksum: fc.stringMatching(/^[0-9a-f]{64}$/),
    }),
  ],
  [
    "GitHubEvent",
    GitHubEventCodec as Codec<unknown>,
    fc.record({
      commitSha: sha,
      branch: fc.string(),
      repoUrl: fc.webUrl(),
      author: fc.string(),
      message: fc.string({ unit: "grapheme" }),
      timestamp: date,
    }),
  ],
  [
    "BuildResult",
    BuildResultCodec as Codec<unknown>,
    fc.record({
      success: fc.boolean(),
      exitCode: fc.integer({ min: -1, max: 255 }),
      stdout: fc.string(),
      stderr: fc.string(),
      duration,
      artifacts: fc.array(fc.string()),
    }),
  ],
  [
    "TestExecutionResult",
    TestExecutionResultCodec as Codec<unknown>,
    fc.record({
      success: fc.boolean(),
      exitCode: fc.integer({ min: -1, max: 255 }),
      stdout: fc.string(),
      stderr: fc.string(),
      duration,
      testCount: count,
      passedCount: count,
      failedCount: count,
      countSource: fc.constantFrom("junit", "tap", "summary", "per-command"),
    }),
  ],
  [
    "DeploymentResult",
    DeploymentResultCodec as Codec<unknown>,
    fc.record({
      success: fc.boolean(),
      stackName: fc.string(),
      stackOutputs: fc.dictionary(fc.string(), fc.string()),
      duration,
      // Events arrive as parsed JSON (no -0, which JSON cannot carry).
      cloudformationEvents: fc.array(fc.dictionary(fc.string(), fc.jsonValue()), { maxLength: 3 })
        .map((v) => JSON.parse(JSON.stringify(v))),
    }),
  ],
];

/** Rebuilds plain objects (fast-check may generate null-prototype ones); keeps Dates. */
function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (value instanceof Date || value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    Object.defineProperty(out, k, {
      value: plain(v),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

for (const [name, codec, arbitrary] of cases) {
  Deno.test(`property: ${name} JSON round trip is exact`, () => {
    fc.assert(
      fc.property(arbitrary, (value) => {
        const text = toJsonText(codec, value);
        const back = fromJsonText(codec, text, name);
        assert.deepEqual(back, plain(value));
        assert.equal(toJsonText(codec, back), text);
      }),
      { numRuns: 300 },
    );
  });
}

Deno.test("models: JSON uses camelCase keys and ISO-8601 UTC datetimes", () => {
  const text = toJsonText(StageMetadataCodec, {
    stageName: "deploy-prod",
    startedAt: new Date(Date.UTC(2024, 0, 15, 10, 40)),
    completedAt: null,
    status: "running",
    errorMessage: null,
  });
  assert.equal(
    text,
    '{"stageName":"deploy-prod","startedAt":"2024-01-15T10:40:00.000Z","completedAt":null,' +
      '"status":"running","errorMessage":null}',
  );
});

Deno.test("models: decoding names the offending field", () => {
  const bad = (text: string, pattern: RegExp) =>
    assert.throws(() => fromJsonText(WorkflowMetadataCodec, text, "run.json"), (e: unknown) => {
      assert.ok(e instanceof AphexError);
      assert.match(e.message, pattern);
      return true;
    });
  const good = {
    workflowId: "w",
    commitSha: "a".repeat(40),
    branch: "main",
    triggeredAt: "2024-01-15T10:30:00Z",
    completedAt: null,
    status: "failed",
    stages: [],
  };
  bad("{", /^run\.json: invalid JSON/);
  bad(JSON.stringify({ ...good, status: "done" }), /^run\.json: status: must be one of "running"/);
  bad(
    JSON.stringify({ ...good, triggeredAt: "2024-01-15 10:30" }),
    /triggeredAt: must be an ISO-8601 timestamp with a zone/,
  );
  bad(
    JSON.stringify({ ...good, triggeredAt: "2024-01-15T10:30:00" }),
    /triggeredAt: must be an ISO-8601 timestamp with a zone/,
  );
  bad(
    JSON.stringify({ ...good, stages: [{ stageName: 1 }] }),
    /stages\[0\]\.stageName: must be a string, got number/,
  );
  bad(JSON.stringify({ ...good, extra: 1 }), /extra: unknown field/);
  assert.equal(
    fromJsonText(WorkflowMetadataCodec, JSON.stringify(good), "run.json").status,
    "failed",
  );
});

Deno.test("models: a __proto__ key in a map stays data", () => {
  const text =
    '{"success":true,"stackName":"S","stackOutputs":{"__proto__":"x"},"duration":1,"cloudformationEvents":[]}';
  const result = fromJsonText(DeploymentResultCodec, text, "d");
  assert.equal(Object.getPrototypeOf(result.stackOutputs), Object.prototype);
  assert.deepEqual(Object.keys(result.stackOutputs), ["__proto__"]);
});
