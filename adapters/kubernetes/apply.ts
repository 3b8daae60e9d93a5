/**
 * Server-side apply as Aphex does it: what would change (the field trees a field manager owns, the
 * desired object restricted to them, a unified diff per object), then dry-run and apply, and
 * create-if-absent for Workflows.
 * @module
 */
import { createTwoFilesPatch } from "diff";
import { toYamlDocument } from "../../templates/yaml.ts";
import { canonicalJson } from "../../templates/topology.ts";
import {
  describeRef,
  FIELD_MANAGER,
  KubeApiError,
  type KubeClient,
  type KubeObject,
  type ObjectRef,
  plain,
  refOf,
  SERVER_POPULATED_METADATA,
  toKubeError,
} from "./client.ts";
// ---------------------------------------------------------------------------------------------
// Diff

/** A set of fields: `true` is a leaf (the whole value), otherwise the named children. */
export type FieldTree = true | { [key: string]: FieldTree };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** The fields of a value: maps recurse, lists and scalars (and empty maps) are leaves. */
export function fieldTreeOf(value: unknown): FieldTree {
  if (!isPlainObject(value) || Object.keys(value).length === 0) return true;
  const out: Record<string, FieldTree> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = fieldTreeOf(v);
  return out;
}

/**
 * The fields of a `managedFields[].fieldsV1` set (`f:<name>` entries); a list addressed by
 * key, value or index (`k:`, `v:`, `i:`) counts as one leaf.
 */
export function fieldTreeOfFieldsV1(fields: unknown): FieldTree {
  if (!isPlainObject(fields)) return true;
  const keys = Object.keys(fields).filter((k) => k !== ".");
  if (keys.length === 0 || keys.some((k) => /^[kvi]:/.test(k))) return true;
  const out: Record<string, FieldTree> = {};
  for (const k of keys) if (k.startsWith("f:")) out[k.slice(2)] = fieldTreeOfFieldsV1(fields[k]);
  return Object.keys(out).length === 0 ? true : out;
}

/** Union of two field sets; `a`'s keys keep their order, `b`'s extra keys follow. */
export function unionFieldTrees(a: FieldTree, b: FieldTree): FieldTree {
  if (a === true || b === true) return true;
  const out: Record<string, FieldTree> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = k in out ? unionFieldTrees(out[k]!, v) : v;
  return out;
}

function restrict(value: unknown, tree: FieldTree): unknown {
  if (tree === true || !isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, sub] of Object.entries(tree)) {
    if (k in value && value[k] !== undefined) out[k] = restrict(value[k], sub);
  }
  return out;
}

/** A live object without the server-populated fields (metadata bookkeeping, `status`). */
export function stripServerFields(object: KubeObject): KubeObject {
  const copy = plain(object);
  delete copy.status;
  for (const key of SERVER_POPULATED_METADATA) delete copy.metadata[key];
  return copy;
}

/** The fields the `aphex` field manager owns on a live object (`undefined`: none). */
export function ownedFields(object: KubeObject): FieldTree | undefined {
  const entries = Array.isArray(object.metadata.managedFields)
    ? object.metadata.managedFields as Record<string, unknown>[]
    : [];
  let tree: FieldTree | undefined;
  for (const entry of entries) {
    if (entry.manager !== FIELD_MANAGER || entry.operation !== "Apply" || entry.subresource) {
      continue;
    }
    const t = fieldTreeOfFieldsV1(entry.fieldsV1);
    tree = tree === undefined ? t : unionFieldTrees(tree, t);
  }
  return tree;
}

/** What applying one object will do. */
export type ApplyAction = "create" | "update" | "unchanged";

/** The plan for one object: its live state, the action and a readable diff. */
export interface ObjectPlan {
  /** The object. */
  ref: ObjectRef;
  /** Desired (generated) object. */
  desired: KubeObject;
  /** Live object, if it exists. */
  live?: KubeObject;
  /** What an apply does. */
  action: ApplyAction;
  /** Unified diff of the managed fields, live → desired (empty when unchanged). */
  diff: string;
  /** Why an object with equal content is still written, if so. */
  note?: string;
}

function yamlOf(value: unknown): string {
  return value === undefined ? "" : toYamlDocument(value as object);
}

/**
 * Compares a desired object with its live state. The live object is cut down to the fields of
 * the desired object plus those the `aphex` manager owns (so a field Aphex stopped setting shows
 * as removed, while fields of other managers are ignored); server-populated fields never count.
 * An object with equal content that `aphex` does not own yet is planned as an update (taking
 * ownership), so later removals work.
 */
export function planObject(desired: KubeObject, live: KubeObject | undefined): ObjectPlan {
  const ref = refOf(desired);
  const want = plain(desired);
  const label = describeRef(ref);
  if (live === undefined) {
    return {
      ref,
      desired: want,
      action: "create",
      diff: unified(label, "", yamlOf(want)),
    };
  }
  const owned = ownedFields(live);
  const tree = owned === undefined ? fieldTreeOf(want) : unionFieldTrees(fieldTreeOf(want), owned);
  const current = restrict(stripServerFields(live), tree);
  const same = canonicalJson(current) === canonicalJson(want);
  const plan: ObjectPlan = {
    ref,
    desired: want,
    live,
    action: same && owned !== undefined ? "unchanged" : "update",
    diff: same ? "" : unified(label, yamlOf(current), yamlOf(want)),
  };
  if (same && owned === undefined) {
    plan.note = `no content change; field manager "${FIELD_MANAGER}" takes ownership`;
  }
  return plan;
}

function unified(label: string, before: string, after: string): string {
  const patch = createTwoFilesPatch(`live: ${label}`, `generated: ${label}`, before, after);
  return patch.split("\n").filter((l) => !/^=+$/.test(l)).join("\n");
}

/** Reads the live state of every object and plans it (only `GET` requests). */
export async function planObjects(
  client: KubeClient,
  desired: readonly KubeObject[],
): Promise<ObjectPlan[]> {
  const plans: ObjectPlan[] = [];
  for (const object of desired) plans.push(planObject(object, await client.get(refOf(object))));
  return plans;
}

/** A human-readable report of plans: one line per object, then the diffs. */
export function renderPlans(plans: readonly ObjectPlan[]): string {
  const lines: string[] = [];
  for (const p of plans) {
    lines.push(`${p.action.padEnd(9)} ${describeRef(p.ref)}${p.note ? ` (${p.note})` : ""}`);
  }
  for (const p of plans) if (p.diff) lines.push("", p.diff.trimEnd());
  return lines.join("\n") + "\n";
}

/** Options of {@linkcode applyPlans}. */
export interface ApplyPlansOptions {
  /** Take ownership of fields other managers own (`force=true`); default false. */
  force?: boolean;
  /** Progress messages. */
  log?: (line: string) => void;
}

/**
 * Applies the changed objects with server-side apply. Every changed object is first sent as a
 * server-side dry run (`dryRun=All`), so a conflict or a rejected object fails the whole apply
 * before anything is written; then each object is applied in order, stopping at the first
 * failure (each object is applied atomically by the server). Unchanged objects are not sent.
 *
 * @returns the objects the server returned, in order.
 * @throws {KubeApiError} naming the object, what was already applied and the server's message.
 */
export async function applyPlans(
  client: KubeClient,
  plans: readonly ObjectPlan[],
  options: ApplyPlansOptions = {},
): Promise<KubeObject[]> {
  const log = options.log ?? (() => {});
  const changed = plans.filter((p) => p.action !== "unchanged");
  const force = options.force === true;
  for (const p of changed) {
    try {
      await client.apply(p.desired, { dryRun: true, force });
    } catch (e) {
      const err = toKubeError(e, {
        what: `server-side dry-run of ${describeRef(p.ref)}`,
        server: client.server,
      });
      throw new KubeApiError(`${err.message}\nNothing was applied.`, {
        ...(err.status !== undefined ? { status: err.status } : {}),
        ...(err.reason !== undefined ? { reason: err.reason } : {}),
        conflicts: err.conflicts,
        cause: e,
      });
    }
  }
  const applied: KubeObject[] = [];
  for (const [i, p] of changed.entries()) {
    try {
      applied.push(await client.apply(p.desired, { force }));
      log(`applied ${describeRef(p.ref)} (${p.action === "create" ? "created" : "updated"})`);
    } catch (e) {
      const err = toKubeError(e, {
        what: `applying ${describeRef(p.ref)}`,
        server: client.server,
      });
      const done = changed.slice(0, i).map((d) => describeRef(d.ref));
      const left = changed.slice(i).map((d) => describeRef(d.ref));
      throw new KubeApiError(
        `${err.message}\nAlready applied: ${done.length ? done.join(", ") : "none"}. ` +
          `Not applied (left as they were): ${left.join(", ")}.`,
        {
          ...(err.status !== undefined ? { status: err.status } : {}),
          ...(err.reason !== undefined ? { reason: err.reason } : {}),
          conflicts: err.conflicts,
          cause: e,
        },
      );
    }
  }
  return applied;
}

/**
 * Creates an object, treating `AlreadyExists` (409) as success: returns whether this call
 * created it. Used for Workflows whose deterministic name makes a second submission a no-op.
 */
export async function createIfAbsent(
  client: KubeClient,
  object: KubeObject,
): Promise<{ created: boolean }> {
  try {
    await client.create(object);
    return { created: true };
  } catch (e) {
    const err = toKubeError(e, {
      what: `creating ${describeRef(refOf(object))}`,
      server: client.server,
    });
    if (err.status === 409 && err.reason === "AlreadyExists") return { created: false };
    throw err;
  }
}
