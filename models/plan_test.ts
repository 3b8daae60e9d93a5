import assert from "node:assert/strict";
import fc from "fast-check";
import {
  canonicalJson,
  type EnvironmentPlan,
  formatPlanTable,
  needsApproval,
  plannedChanges,
  planRisks,
  securityBroadening,
  type StackPlan,
  summarizePlan,
  type TemplateDocument,
} from "./plan.ts";
import { reviewPolicy } from "./config.ts";

const stack = (name: string, changes: StackPlan["changes"], extra: Partial<StackPlan> = {}) => ({
  stackName: name,
  status: changes.length > 0 ? "changes" as const : "no-op" as const,
  newStack: false,
  ...(changes.length > 0 ? { changeSetId: `arn:cs/${name}`, changeSetName: "aphex-dev-abc" } : {}),
  changes,
  broadening: [],
  ...extra,
});

const plan = (stacks: StackPlan[]): EnvironmentPlan => ({
  version: 1,
  environment: "dev",
  commitSha: "a".repeat(40),
  createdAt: "2026-11-29T23:00:00.000Z",
  stacks,
});

Deno.test("plannedChanges: replacement only for Modify with True/Conditional", () => {
  assert.deepEqual(
    plannedChanges([
      { Action: "Add", LogicalResourceId: "A", ResourceType: "AWS::SQS::Queue" },
      { Action: "Modify", LogicalResourceId: "B", ResourceType: "T", Replacement: "True" },
      { Action: "Modify", LogicalResourceId: "C", ResourceType: "T", Replacement: "Conditional" },
      { Action: "Modify", LogicalResourceId: "D", ResourceType: "T", Replacement: "False" },
      { Action: "Remove", LogicalResourceId: "E", ResourceType: "T" },
    ]),
    [
      { action: "Add", logicalId: "A", resourceType: "AWS::SQS::Queue" },
      { action: "Modify", logicalId: "B", resourceType: "T", replacement: "True" },
      { action: "Modify", logicalId: "C", resourceType: "T", replacement: "Conditional" },
      { action: "Modify", logicalId: "D", resourceType: "T" },
      { action: "Remove", logicalId: "E", resourceType: "T" },
    ],
  );
});

const TABLE_CASES: [string, StackPlan[], string, string][] = [
  [
    "add",
    [stack("web", [{ action: "Add", logicalId: "Q", resourceType: "AWS::SQS::Queue" }], {
      newStack: true,
    })],
    [
      "STACK      CHANGE SET     ADD  MODIFY  REMOVE  REPLACE  BROADENING",
      "web (new)  aphex-dev-abc  1    0       0       0        -",
    ].join("\n"),
    "1 stack(s) change (+1 ~0 -0); no risk",
  ],
  [
    "modify + replace",
    [stack("web", [
      { action: "Modify", logicalId: "Q", resourceType: "AWS::SQS::Queue", replacement: "True" },
      { action: "Modify", logicalId: "T", resourceType: "AWS::SNS::Topic" },
    ])],
    [
      "STACK  CHANGE SET     ADD  MODIFY  REMOVE  REPLACE  BROADENING",
      "web    aphex-dev-abc  0    2       0       1        -",
      "",
      "RISKS",
      "  replacement     web: Q (AWS::SQS::Queue) replaced",
    ].join("\n"),
    "1 stack(s) change (+0 ~2 -0); risky: 1 replacement",
  ],
  [
    "remove + no-op",
    [
      stack("web", [{ action: "Remove", logicalId: "Q", resourceType: "AWS::SQS::Queue" }]),
      stack("mon", []),
    ],
    [
      "STACK  CHANGE SET     ADD  MODIFY  REMOVE  REPLACE  BROADENING",
      "web    aphex-dev-abc  0    0       1       0        -",
      "mon    (no changes)   0    0       0       0        -",
      "",
      "RISKS",
      "  deletion        web: Q (AWS::SQS::Queue) deleted",
    ].join("\n"),
    "1 stack(s) change (+0 ~0 -1), 1 no-op; risky: 1 deletion",
  ],
  [
    "no-op",
    [stack("web", []), stack("mon", [])],
    [
      "STACK  CHANGE SET    ADD  MODIFY  REMOVE  REPLACE  BROADENING",
      "web    (no changes)  0    0       0       0        -",
      "mon    (no changes)  0    0       0       0        -",
    ].join("\n"),
    "no changes in 2 stack(s)",
  ],
];

for (const [name, stacks, table, summary] of TABLE_CASES) {
  Deno.test(`plan table: ${name}`, () => {
    assert.equal(formatPlanTable(plan(stacks)), table);
    assert.equal(summarizePlan(plan(stacks)), summary);
  });
}

Deno.test("review gate: never / on-risk (per kind) / always; a no-op plan never waits", () => {
  const replace = plan([stack("web", [
    { action: "Modify", logicalId: "Q", resourceType: "T", replacement: "Conditional" },
  ])]);
  const harmless = plan([stack("web", [{ action: "Add", logicalId: "Q", resourceType: "T" }])]);
  const noop = plan([stack("web", [])]);
  const all = reviewPolicy({ approval: true });
  assert.deepEqual(all, {
    approve: "on-risk",
    risk: ["iam-broadening", "replacement", "deletion"],
  });
  assert.deepEqual(reviewPolicy({ approval: false }).approve, "never");
  assert.equal(needsApproval(replace, all), true);
  assert.equal(needsApproval(harmless, all), false);
  assert.equal(needsApproval(replace, { approve: "on-risk", risk: ["deletion"] }), false);
  assert.equal(needsApproval(harmless, { approve: "always", risk: [] }), true);
  assert.equal(needsApproval(noop, { approve: "always", risk: [] }), false);
  assert.equal(needsApproval(replace, { approve: "never", risk: all.risk }), false);
  assert.deepEqual(planRisks(replace, ["replacement"]).map((r) => r.detail), [
    "Q (T) replaced (conditional)",
  ]);
});

const policyTemplate = (statements: unknown[]): TemplateDocument => ({
  Resources: {
    P: {
      Type: "AWS::IAM::Policy",
      Properties: {
        PolicyName: "p",
        PolicyDocument: { Version: "2012-10-17", Statement: statements },
      },
    },
  },
});

Deno.test("security broadening: SG rules, managed policies, Deny and Lambda permissions", () => {
  const sg = (rules: unknown[]): TemplateDocument => ({
    Resources: {
      G: { Type: "AWS::EC2::SecurityGroup", Properties: { SecurityGroupIngress: rules } },
    },
  });
  const https = { IpProtocol: "tcp", FromPort: 443, ToPort: 443, CidrIp: "10.0.0.0/8" };
  const ssh = { IpProtocol: "tcp", FromPort: 22, ToPort: 22, CidrIp: "0.0.0.0/0" };
  assert.deepEqual(securityBroadening(sg([https]), sg([https, ssh])), [
    { logicalId: "G", kind: "security-group-rule", detail: "ingress tcp port 22 from 0.0.0.0/0" },
  ]);
  assert.deepEqual(securityBroadening(sg([https, ssh]), sg([https])), []);
  const role = (arns: string[]): TemplateDocument => ({
    Resources: { R: { Type: "AWS::IAM::Role", Properties: { ManagedPolicyArns: arns } } },
  });
  assert.deepEqual(securityBroadening(role([]), role(["arn:aws:iam::aws:policy/Admin"])), [
    {
      logicalId: "R",
      kind: "managed-policy",
      detail: "managed policy arn:aws:iam::aws:policy/Admin attached",
    },
  ]);
  assert.deepEqual(
    securityBroadening(
      policyTemplate([]),
      policyTemplate([{ Effect: "Deny", Action: "*", Resource: "*" }]),
    ),
    [],
    "an added Deny narrows",
  );
  const perm: TemplateDocument = {
    Resources: {
      L: {
        Type: "AWS::Lambda::Permission",
        Properties: { Action: "lambda:InvokeFunction", FunctionName: "f", Principal: "*" },
      },
    },
  };
  assert.equal(
    securityBroadening({ Resources: {} }, perm)[0]?.detail,
    "Allow lambda:InvokeFunction on f to * (AWS::Lambda::Permission)",
  );
});

const actionArb = fc.constantFrom("s3:GetObject", "s3:PutObject", "sqs:SendMessage", "kms:Decrypt");
const resourceArb = fc.constantFrom("*", "arn:aws:s3:::b/*", "arn:aws:sqs:us-east-1:1:q");
const statementArb = fc.record({
  Effect: fc.constant("Allow"),
  Action: fc.oneof(actionArb, fc.uniqueArray(actionArb, { minLength: 1, maxLength: 3 })),
  Resource: fc.oneof(resourceArb, fc.uniqueArray(resourceArb, { minLength: 1, maxLength: 2 })),
});

Deno.test("property: dropping statements or actions is never broadening", () => {
  fc.assert(
    fc.property(fc.array(statementArb, { maxLength: 5 }), fc.nat(), (statements, seed) => {
      const before = policyTemplate(statements);
      // Narrow: drop one statement and cut the first action list to one action.
      const narrowed = statements.filter((_, i) => i !== seed % Math.max(1, statements.length))
        .map((s) => ({ ...s, Action: [s.Action].flat().slice(0, 1) }));
      assert.deepEqual(securityBroadening(before, policyTemplate(narrowed)), []);
    }),
  );
});

Deno.test("property: an action not allowed before is always reported, once per resource", () => {
  fc.assert(
    fc.property(fc.array(statementArb, { maxLength: 5 }), resourceArb, (statements, resource) => {
      const fresh = { Effect: "Allow", Action: "iam:PassRole", Resource: resource };
      const added = securityBroadening(
        policyTemplate(statements),
        policyTemplate([...statements, fresh]),
      );
      assert.equal(added.length, 1);
      assert.match(added[0]!.detail, /^Allow iam:PassRole on /);
    }),
  );
});

Deno.test("property: canonicalJson ignores key order", () => {
  fc.assert(
    fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (o) => {
      const reversed = Object.fromEntries(Object.entries(o).reverse());
      assert.equal(canonicalJson(o), canonicalJson(reversed));
    }),
  );
});
