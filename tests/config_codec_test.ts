/**
 * Property tests: the configuration models survive JSON encode → text → decode exactly, like the
 * other models (tests/models_roundtrip_test.ts); a parsed configuration (defaults applied)
 * round-trips through JSON.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { type Codec, fromJsonText, toJsonText } from "../models/_codec.ts";
import {
  AphexConfigCodec,
  BuildConfigCodec,
  EnvironmentConfigCodec,
  StackConfigCodec,
  TestConfigCodec,
} from "../models/config_codec.ts";
import { parseConfigOrThrow } from "../models/config_parse.ts";
import { AphexError } from "../models/errors.ts";

const text = fc.string();
const secret = fc.record({ name: text, key: text });
const stack = fc.record({ name: text, path: text });
const build = fc.record({ commands: fc.array(text, { maxLength: 3 }), artifacts: text });
const tests = fc.record({ commands: fc.array(text, { maxLength: 3 }) });
const environment = fc.record({
  name: text,
  region: text,
  account: fc.stringMatching(/^[0-9]{12}$/),
  stacks: fc.array(stack, { maxLength: 3 }),
  tests,
  role: text,
  approval: fc.boolean(),
  hooks: fc.record({
    preDeploy: fc.array(text, { maxLength: 2 }),
    postDeploy: fc.array(text, { maxLength: 2 }),
  }),
  wave: text,
  approvalTimeout: text,
}, {
  requiredKeys: ["name", "region", "account", "stacks", "approval", "hooks", "approvalTimeout"],
});
const pipeline = fc.record({
  name: text,
  namespace: text,
  eventsNamespace: text,
  image: text,
  serviceAccount: text,
  roleArn: text,
  artifactBucket: text,
  github: fc.record({
    owner: text,
    repo: text,
    branch: text,
    webhookSecret: secret,
    apiToken: secret,
  }, { requiredKeys: ["owner", "repo", "branch", "webhookSecret"] }),
  webhook: fc.record({ url: text, port: fc.integer({ min: 1, max: 65535 }), endpoint: text }),
  pipelineStack: stack,
  pullRequests: fc.record({ enabled: fc.boolean(), allowForks: fc.boolean() }),
  argoUrl: text,
  notifications: fc.record({ snsTopicArn: text, slackWebhook: secret, onSuccess: fc.boolean() }, {
    requiredKeys: ["onSuccess"],
  }),
  logGroup: text,
  cdkQualifier: text,
  executionMode: fc.constantFrom("queued" as const, "superseded" as const),
}, {
  requiredKeys: [
    "name",
    "namespace",
    "eventsNamespace",
    "image",
    "serviceAccount",
    "pullRequests",
    "notifications",
    "logGroup",
    "cdkQualifier",
    "executionMode",
  ],
});
const config = fc.record({
  version: fc.constant("1.0"),
  pipeline,
  build,
  deploy: fc.record({ concurrency: fc.integer({ min: 1, max: 20 }) }),
  environments: fc.array(environment, { maxLength: 3 }),
});

const cases: [string, Codec<unknown>, fc.Arbitrary<unknown>][] = [
  ["StackConfig", StackConfigCodec as Codec<unknown>, stack],
  ["BuildConfig", BuildConfigCodec as Codec<unknown>, build],
  ["TestConfig", TestConfigCodec as Codec<unknown>, tests],
  ["EnvironmentConfig", EnvironmentConfigCodec as Codec<unknown>, environment],
  ["AphexConfig", AphexConfigCodec as Codec<unknown>, config],
];

/** Rebuilds plain objects (fast-check may generate null-prototype ones). */
function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
}

for (const [name, codec, arbitrary] of cases) {
  Deno.test(`property: ${name} JSON round trip is exact`, () => {
    fc.assert(
      fc.property(arbitrary, (value) => {
        const json = toJsonText(codec, value);
        const back = fromJsonText(codec, json, name);
        assert.deepEqual(back, plain(value));
        assert.equal(toJsonText(codec, back), json);
      }),
      { numRuns: 200 },
    );
  });
}

Deno.test("a parsed config with defaults (empty hooks, no tests) round-trips through JSON", async () => {
  const yaml = await Deno.readTextFile(new URL("../aphex-config.yaml", import.meta.url));
  const parsed = parseConfigOrThrow(yaml);
  const minimal = parseConfigOrThrow(
    'version: "1.0"\nbuild: { commands: [make] }\nenvironments:\n' +
      '  - { name: dev, region: us-east-1, account: "012345678901", stacks: [{ name: A, path: a.ts }] }\n',
  );
  assert.deepEqual(minimal.environments[0]!.hooks, { preDeploy: [], postDeploy: [] });
  for (const c of [parsed, minimal]) {
    // JSON.stringify of the model is what the codec reads (unset optionals are simply absent).
    assert.deepEqual(fromJsonText(AphexConfigCodec, JSON.stringify(c), "config.json"), c);
    assert.deepEqual(fromJsonText(AphexConfigCodec, toJsonText(AphexConfigCodec, c), "c"), c);
  }
  assert.equal(JSON.parse(toJsonText(AphexConfigCodec, minimal)).environments[0].role, undefined);
});

Deno.test("config codec: decoding names the offending field; null is not 'absent'", () => {
  const good = JSON.parse(
    toJsonText(EnvironmentConfigCodec, {
      name: "dev",
      region: "us-east-1",
      account: "012345678901",
      stacks: [],
      approval: false,
      approvalTimeout: "24h",
      hooks: { preDeploy: [], postDeploy: [] },
    }),
  );
  const bad = (value: unknown, pattern: RegExp) =>
    assert.throws(
      () => fromJsonText(EnvironmentConfigCodec, JSON.stringify(value), "env.json"),
      (e: unknown) => e instanceof AphexError && pattern.test(e.message),
    );
  bad({ ...good, role: null }, /^env\.json: role: must be a string, got null/);
  bad({ ...good, hooks: { preDeploy: [] } }, /hooks\.postDeploy: must be an array/);
  bad({ ...good, stacks: [{ name: "A" }] }, /stacks\[0\]\.path: must be a string/);
  bad({ ...good, approve: true }, /approve: unknown field/);
  bad({ ...good, account: 12 }, /account: must be a string, got number/);
});
