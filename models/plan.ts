/**
 * Deployment plans (issue 14), pure: what one environment's CloudFormation change sets will do,
 * classified for review. Input is what `DescribeChangeSet` returns (resource changes, all pages)
 * and the pair of templates (deployed, synthesized) of each stack; output is a JSON-friendly
 * {@linkcode EnvironmentPlan}, a table as `aphex plan` prints it, a one-line summary for the run
 * record, notification and GitHub status, and the risks the review gate acts on.
 *
 * Security broadening follows what `cdk diff --security-only` reports: IAM policy statements that
 * allow more (identity policies, inline role policies, trust policies, and the resource policies
 * of buckets, queues, topics and Lambda permissions), managed policies attached, and security
 * group ingress/egress rules added. A statement or rule that only disappears, or an added `Deny`,
 * narrows access and is not broadening. Statements are compared per (effect, principal, action,
 * resource, condition) element, so narrowing a statement never reads as broadening it.
 *
 * No I/O happens in this module.
 * @module
 */
import type { ReviewConfig, ReviewRisk } from "./config.ts";

/** One resource change of a change set, as DescribeChangeSet reports it (`Changes[].ResourceChange`). */
export interface ResourceChangeInput {
  /** `Add`, `Modify`, `Remove`, `Import`, `Dynamic`. */
  Action?: string;
  /** Logical id. */
  LogicalResourceId?: string;
  /** Physical id (absent for additions). */
  PhysicalResourceId?: string;
  /** Resource type. */
  ResourceType?: string;
  /** `True`, `False` or `Conditional` (Modify only). */
  Replacement?: string;
}

/** What a change set does to one resource. */
export interface PlannedChange {
  /** `Add`, `Modify`, `Remove`, `Import` or `Dynamic`. */
  action: string;
  /** Logical id. */
  logicalId: string;
  /** Resource type. */
  resourceType: string;
  /** Replacement of a Modify: `True`, `Conditional` (absent when none). */
  replacement?: "True" | "Conditional";
}

/** One security-relevant addition (what `cdk diff --security-only` would list). */
export interface SecurityChange {
  /** Logical id of the resource holding the policy or rule. */
  logicalId: string;
  /** What was added. */
  kind: "iam-statement" | "managed-policy" | "security-group-rule";
  /** Human-readable description, e.g. `Allow s3:GetObject on * (AWS::IAM::Policy)`. */
  detail: string;
}

/** The plan of one stack. */
export interface StackPlan {
  /** CloudFormation stack name. */
  stackName: string;
  /** `changes`: a change set waits for execution; `no-op`: nothing would change. */
  status: "changes" | "no-op";
  /** Whether the stack does not exist yet (a CREATE change set). */
  newStack: boolean;
  /** Change set ARN (absent for a no-op stack whose empty change set was deleted). */
  changeSetId?: string;
  /** Change set name. */
  changeSetName?: string;
  /** Resource changes, in CloudFormation's order. */
  changes: PlannedChange[];
  /** Security broadening found between the deployed and the synthesized template. */
  broadening: SecurityChange[];
}

/** The plan of one environment (`<sha>/plans/<env>.json`). */
export interface EnvironmentPlan {
  /** Plan document version. */
  version: 1;
  /** Environment name. */
  environment: string;
  /** Commit the plan was made for. */
  commitSha: string;
  /** ISO time the plan was made. */
  createdAt: string;
  /** Stacks in deploy order. */
  stacks: StackPlan[];
}

/** Risk kinds the review gate knows. */
export const RISK_KINDS: readonly RiskKind[] = ["iam-broadening", "replacement", "deletion"];
/** One risk kind. */
export type RiskKind = ReviewRisk;

/** One risky change of a plan. */
export interface Risk {
  /** Kind. */
  kind: RiskKind;
  /** Stack. */
  stackName: string;
  /** What exactly, e.g. `Work (AWS::SQS::Queue) replaced`. */
  detail: string;
}

/** Turns DescribeChangeSet resource changes into {@linkcode PlannedChange}s. */
export function plannedChanges(changes: readonly ResourceChangeInput[]): PlannedChange[] {
  return changes.map((c) => {
    const change: PlannedChange = {
      action: c.Action ?? "Dynamic",
      logicalId: c.LogicalResourceId ?? "",
      resourceType: c.ResourceType ?? "",
    };
    if (c.Action === "Modify" && (c.Replacement === "True" || c.Replacement === "Conditional")) {
      change.replacement = c.Replacement;
    }
    return change;
  });
}

// ---------------------------------------------------------------------------------------------
// security broadening from a template pair

/** A CloudFormation template (the parts read here). */
export interface TemplateDocument {
  /** Resources by logical id. */
  Resources?: Record<string, { Type?: string; Properties?: Record<string, unknown> }>;
}

/** Canonical JSON: object keys sorted, so equal values compare equal as strings. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

const asArray = (value: unknown): unknown[] =>
  value === undefined ? [undefined] : Array.isArray(value) ? value : [value];

const show = (value: unknown): string => typeof value === "string" ? value : canonicalJson(value);

/** One policy document's Allow elements, keyed canonically, with a description each. */
function statementElements(document: unknown, context: string): Map<string, string> {
  const out = new Map<string, string>();
  const doc = document as { Statement?: unknown } | undefined;
  for (const raw of asArray(doc?.Statement)) {
    if (typeof raw !== "object" || raw === null) continue;
    const s = raw as Record<string, unknown>;
    if (s.Effect !== "Allow") continue; // an added Deny narrows access
    const actionKey = s.NotAction !== undefined ? "NotAction" : "Action";
    const resourceKey = s.NotResource !== undefined ? "NotResource" : "Resource";
    const principalKey = s.NotPrincipal !== undefined ? "NotPrincipal" : "Principal";
    for (const action of asArray(s[actionKey])) {
      for (const resource of asArray(s[resourceKey])) {
        const element = {
          [principalKey]: s[principalKey],
          [actionKey]: action,
          [resourceKey]: resource,
          Condition: s.Condition,
        };
        const principal = s[principalKey] === undefined ? "" : ` to ${show(s[principalKey])}`;
        const condition = s.Condition === undefined ? "" : ` when ${canonicalJson(s.Condition)}`;
        const neg = (key: string) => key.startsWith("Not") ? "not " : "";
        out.set(
          `${context}|${canonicalJson(element)}`,
          `Allow ${neg(actionKey)}${show(action)} on ${neg(resourceKey)}${
            resource === undefined ? "*" : show(resource)
          }${principal}${condition}`,
        );
      }
    }
  }
  return out;
}

/** Resource types holding a resource policy in `PolicyDocument` (as `cdk diff` reads them). */
const RESOURCE_POLICY_TYPES = new Set([
  "AWS::S3::BucketPolicy",
  "AWS::SQS::QueuePolicy",
  "AWS::SNS::TopicPolicy",
  "AWS::KMS::Key",
  "AWS::IAM::Policy",
  "AWS::IAM::ManagedPolicy",
]);

interface Grants {
  statements: Map<string, string>;
  managedPolicies: Map<string, string>;
  rules: Map<string, string>;
}

function ruleDescription(direction: string, rule: Record<string, unknown>): string {
  const peer = rule.CidrIp ?? rule.CidrIpv6 ?? rule.SourceSecurityGroupId ??
    rule.DestinationSecurityGroupId ?? rule.SourcePrefixListId ?? rule.DestinationPrefixListId ??
    "?";
  const ports = rule.FromPort === undefined
    ? "all ports"
    : rule.FromPort === rule.ToPort
    ? `port ${show(rule.FromPort)}`
    : `ports ${show(rule.FromPort)}-${show(rule.ToPort)}`;
  return `${direction} ${show(rule.IpProtocol ?? "-1")} ${ports} ${
    direction === "ingress" ? "from" : "to"
  } ${show(peer)}`;
}

/** Every grant of one resource, keyed canonically. */
function resourceGrants(
  type: string,
  props: Record<string, unknown>,
): Grants {
  const grants: Grants = { statements: new Map(), managedPolicies: new Map(), rules: new Map() };
  const addStatements = (document: unknown, context: string) => {
    for (const [k, v] of statementElements(document, context)) {
      grants.statements.set(k, `${v} (${context})`);
    }
  };
  if (RESOURCE_POLICY_TYPES.has(type)) {
    addStatements(type === "AWS::KMS::Key" ? props.KeyPolicy : props.PolicyDocument, type);
  }
  if (type === "AWS::IAM::Role" || type === "AWS::IAM::User" || type === "AWS::IAM::Group") {
    if (props.AssumeRolePolicyDocument !== undefined) {
      addStatements(props.AssumeRolePolicyDocument, `${type} trust policy`);
    }
    for (const policy of asArray(props.Policies)) {
      const p = policy as { PolicyName?: unknown; PolicyDocument?: unknown } | undefined;
      if (p?.PolicyDocument !== undefined) {
        addStatements(p.PolicyDocument, `${type} inline policy ${show(p.PolicyName)}`);
      }
    }
    for (const arn of Array.isArray(props.ManagedPolicyArns) ? props.ManagedPolicyArns : []) {
      grants.managedPolicies.set(canonicalJson(arn), `managed policy ${show(arn)} attached`);
    }
  }
  if (type === "AWS::Lambda::Permission") {
    const element = {
      Action: props.Action,
      Principal: props.Principal,
      SourceArn: props.SourceArn,
      SourceAccount: props.SourceAccount,
      FunctionName: props.FunctionName,
    };
    grants.statements.set(
      `${type}|${canonicalJson(element)}`,
      `Allow ${show(props.Action)} on ${show(props.FunctionName)} to ${
        show(props.Principal)
      } (${type})`,
    );
  }
  const rules = (direction: string, list: unknown) => {
    for (const rule of Array.isArray(list) ? list : []) {
      if (typeof rule !== "object" || rule === null) continue;
      const r = { ...(rule as Record<string, unknown>) };
      delete r.Description;
      grants.rules.set(`${direction}|${canonicalJson(r)}`, ruleDescription(direction, r));
    }
  };
  if (type === "AWS::EC2::SecurityGroup") {
    rules("ingress", props.SecurityGroupIngress);
    rules("egress", props.SecurityGroupEgress);
  }
  if (type === "AWS::EC2::SecurityGroupIngress") rules("ingress", [props]);
  if (type === "AWS::EC2::SecurityGroupEgress") rules("egress", [props]);
  return grants;
}

/**
 * The security broadening between a deployed template (`before`, undefined for a new stack) and a
 * synthesized one: every Allow element, managed policy and security group rule present after and
 * absent before, per logical id, sorted by logical id.
 */
export function securityBroadening(
  before: TemplateDocument | undefined,
  after: TemplateDocument,
): SecurityChange[] {
  const out: SecurityChange[] = [];
  const ids = Object.keys(after.Resources ?? {}).sort();
  for (const id of ids) {
    const now = after.Resources![id]!;
    const was = before?.Resources?.[id];
    const type = now.Type ?? "";
    const newGrants = resourceGrants(type, now.Properties ?? {});
    const oldGrants = was && was.Type === type
      ? resourceGrants(type, was.Properties ?? {})
      : { statements: new Map(), managedPolicies: new Map(), rules: new Map() };
    const added = (
      kind: SecurityChange["kind"],
      a: Map<string, string>,
      b: Map<string, string>,
    ) => {
      for (const [key, detail] of a) {
        if (!b.has(key)) out.push({ logicalId: id, kind, detail });
      }
    };
    added("iam-statement", newGrants.statements, oldGrants.statements);
    added("managed-policy", newGrants.managedPolicies, oldGrants.managedPolicies);
    added("security-group-rule", newGrants.rules, oldGrants.rules);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// risks, table, summary

/** The risks of a plan among `kinds` (all kinds by default), in stack order. */
export function planRisks(
  plan: EnvironmentPlan,
  kinds: readonly RiskKind[] = RISK_KINDS,
): Risk[] {
  const wanted = new Set(kinds);
  const risks: Risk[] = [];
  for (const stack of plan.stacks) {
    if (wanted.has("iam-broadening")) {
      for (const b of stack.broadening) {
        risks.push({
          kind: "iam-broadening",
          stackName: stack.stackName,
          detail: `${b.logicalId}: ${b.detail}`,
        });
      }
    }
    for (const c of stack.changes) {
      if (wanted.has("replacement") && c.replacement) {
        risks.push({
          kind: "replacement",
          stackName: stack.stackName,
          detail: `${c.logicalId} (${c.resourceType}) replaced${
            c.replacement === "Conditional" ? " (conditional)" : ""
          }`,
        });
      }
      if (wanted.has("deletion") && c.action === "Remove") {
        risks.push({
          kind: "deletion",
          stackName: stack.stackName,
          detail: `${c.logicalId} (${c.resourceType}) deleted`,
        });
      }
    }
  }
  return risks;
}

/**
 * Whether a plan needs approval under `policy`: `always` unless nothing changes, `on-risk` when
 * one of the policy's risk kinds is present, `never` never. A no-op plan never waits.
 */
export function needsApproval(plan: EnvironmentPlan, policy: ReviewConfig): boolean {
  if (policy.approve === "never") return false;
  if (plan.stacks.every((s) => s.status === "no-op")) return false;
  if (policy.approve === "always") return true;
  return planRisks(plan, policy.risk).length > 0;
}

function counts(
  stack: StackPlan,
): { add: number; modify: number; remove: number; replace: number } {
  let add = 0, modify = 0, remove = 0, replace = 0;
  for (const c of stack.changes) {
    if (c.action === "Add" || c.action === "Import") add++;
    else if (c.action === "Remove") remove++;
    else modify++;
    if (c.replacement) replace++;
  }
  return { add, modify, remove, replace };
}

/**
 * The plan as `aphex plan` prints it: one row per stack (change counts, replacements, broadening),
 * then one row per risky change.
 */
export function formatPlanTable(plan: EnvironmentPlan): string {
  const header = ["STACK", "CHANGE SET", "ADD", "MODIFY", "REMOVE", "REPLACE", "BROADENING"];
  const rows = plan.stacks.map((s) => {
    const n = counts(s);
    return [
      s.stackName + (s.newStack ? " (new)" : ""),
      s.status === "no-op" ? "(no changes)" : s.changeSetName ?? "",
      String(n.add),
      String(n.modify),
      String(n.remove),
      String(n.replace),
      s.broadening.length > 0 ? `${s.broadening.length} (IAM/SG)` : "-",
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd();
  const lines = [line(header), ...rows.map(line)];
  const risks = planRisks(plan);
  if (risks.length > 0) {
    lines.push("", "RISKS");
    for (const r of risks) lines.push(`  ${r.kind.padEnd(14)}  ${r.stackName}: ${r.detail}`);
  }
  return lines.join("\n");
}

/**
 * One line for the run record, the notification and the GitHub status description (≤ 140
 * characters, what GitHub keeps), e.g. `2 stacks change (+3 ~1 -1), 1 no-op; risky: 1
 * iam-broadening, 1 replacement`.
 */
export function summarizePlan(
  plan: EnvironmentPlan,
  kinds: readonly RiskKind[] = RISK_KINDS,
): string {
  const changed = plan.stacks.filter((s) => s.status === "changes");
  if (changed.length === 0) return `no changes in ${plan.stacks.length} stack(s)`;
  const total = { add: 0, modify: 0, remove: 0 };
  for (const s of changed) {
    const n = counts(s);
    total.add += n.add;
    total.modify += n.modify;
    total.remove += n.remove;
  }
  const noop = plan.stacks.length - changed.length;
  const byKind = new Map<string, number>();
  for (const r of planRisks(plan, kinds)) byKind.set(r.kind, (byKind.get(r.kind) ?? 0) + 1);
  const risky = [...byKind].map(([k, n]) => `${n} ${k}`).join(", ");
  const text =
    `${changed.length} stack(s) change (+${total.add} ~${total.modify} -${total.remove})` +
    (noop > 0 ? `, ${noop} no-op` : "") + (risky ? `; risky: ${risky}` : "; no risk");
  return text.length > 140 ? `${text.slice(0, 139)}…` : text;
}
