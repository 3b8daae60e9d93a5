/**
 * The Kubernetes adapter of Aphex, on the official `@kubernetes/client-node`: configuration
 * (`--kubeconfig`, `KUBECONFIG`, in-cluster service account, `~/.kube/config`), reading objects,
 * **server-side apply** (`PATCH` with `Content-Type: application/apply-patch+yaml`,
 * `fieldManager=aphex`, no `force` unless asked), creating Workflows, and a readable diff of the
 * live objects against the generated ones.
 *
 * "Changed" is decided on the fields Aphex manages: the live object is cut down to the fields of
 * the desired object plus the fields the `aphex` field manager owns (from `managedFields`), after
 * dropping what the server populates (`managedFields`, `resourceVersion`, `uid`,
 * `creationTimestamp`, `generation`, `status`…). Unchanged objects are never written.
 *
 * Every API failure becomes an {@linkcode KubeApiError} (an {@linkcode AphexError}, exit 1) with
 * the API server's message; apply conflicts list each conflicting field and its manager.
 * @module
 */
import {
  ApiException,
  createConfiguration,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  ServerConfiguration,
} from "@kubernetes/client-node";
import { createTwoFilesPatch } from "diff";
import { join, resolve } from "node:path";
import { AphexError, describeError, ExitCode, usageError } from "../../models/errors.ts";
import { toYamlDocument } from "../../templates/_yaml.ts";
import { canonicalJson } from "../../templates/topology.ts";

/** Field manager of every Aphex write. */
export const FIELD_MANAGER = "aphex";
/** Metadata fields the API server populates; never compared, never sent. */
export const SERVER_POPULATED_METADATA: readonly string[] = [
  "managedFields",
  "resourceVersion",
  "uid",
  "creationTimestamp",
  "generation",
  "selfLink",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
];
/** Default bound of one API request (connect + answer), in milliseconds. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
/** Service-account token file of a pod (in-cluster configuration). */
export const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/** Object metadata as Aphex handles it. */
export interface KubeMetadata {
  /** Name. */
  name: string;
  /** Namespace (namespaced kinds). */
  namespace?: string;
  /** Labels. */
  labels?: Record<string, string>;
  /** Annotations. */
  annotations?: Record<string, string>;
  /** Anything else the server returns. */
  [key: string]: unknown;
}

/** Any Kubernetes object, as plain JSON data. */
export interface KubeObject {
  /** API group/version. */
  apiVersion: string;
  /** Kind. */
  kind: string;
  /** Metadata. */
  metadata: KubeMetadata;
  /** Other top-level fields (`spec`, `rules`, `status`…). */
  [key: string]: unknown;
}

/** Identity of one object. */
export interface ObjectRef {
  /** API group/version. */
  apiVersion: string;
  /** Kind. */
  kind: string;
  /** Name. */
  name: string;
  /** Namespace, for namespaced kinds. */
  namespace?: string;
}

/** The operations Aphex performs on the API server; {@linkcode createKubeClient} makes the real one. */
export interface KubeClient {
  /** URL of the API server (for messages). */
  readonly server: string;
  /** Reads an object; `undefined` when it does not exist (404). */
  get(ref: ObjectRef): Promise<KubeObject | undefined>;
  /** Server-side apply as field manager `aphex`; `dryRun` asks the server to validate only. */
  apply(object: KubeObject, options?: { dryRun?: boolean; force?: boolean }): Promise<KubeObject>;
  /** Creates an object (`POST`); a duplicate name fails with reason `AlreadyExists`. */
  create(object: KubeObject): Promise<KubeObject>;
  /** Lists the objects of a kind in a namespace matching a label selector (`k=v,k2=v2`). */
  list?(
    type: { apiVersion: string; kind: string; namespace: string },
    options: { labelSelector: string },
  ): Promise<KubeObject[]>;
  /** JSON merge patch (RFC 7386) of an existing object. */
  mergePatch?(ref: ObjectRef, patch: Record<string, unknown>): Promise<KubeObject>;
}

/** One `causes` entry of a Kubernetes `Status`. */
export interface StatusCause {
  /** Machine-readable reason, e.g. `FieldManagerConflict`. */
  reason?: string;
  /** Human-readable message, e.g. `conflict with "kubectl-annotate" using v1`. */
  message?: string;
  /** Field path, e.g. `.metadata.annotations.x`. */
  field?: string;
}

/** One conflicting field of a server-side apply. */
export interface FieldConflict {
  /** Field path as the API server names it. */
  field: string;
  /** Field manager that owns it. */
  manager: string;
}

/** A failed Kubernetes API call (exit code 1). */
export class KubeApiError extends AphexError {
  /** HTTP status, or undefined when the server could not be reached. */
  readonly status: number | undefined;
  /** `Status.reason` (`Conflict`, `AlreadyExists`, `NotFound`, `Forbidden`…), if any. */
  readonly reason: string | undefined;
  /** Conflicting fields of a server-side apply (empty otherwise). */
  readonly conflicts: FieldConflict[];

  constructor(
    message: string,
    options: {
      status?: number;
      reason?: string;
      conflicts?: FieldConflict[];
      cause?: unknown;
    } = {},
  ) {
    super(message, { exitCode: ExitCode.Failed, cause: options.cause });
    this.name = "KubeApiError";
    this.status = options.status;
    this.reason = options.reason;
    this.conflicts = options.conflicts ?? [];
  }
}

/** `Kind namespace/name` (or `Kind name`). */
export function describeRef(ref: ObjectRef): string {
  return `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ""}${ref.name}`;
}

/** The identity of an object. */
export function refOf(object: KubeObject): ObjectRef {
  return {
    apiVersion: object.apiVersion,
    kind: object.kind,
    name: object.metadata.name,
    ...(object.metadata.namespace ? { namespace: object.metadata.namespace } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Configuration

/** Options of {@linkcode loadKubeConfig}. */
export interface LoadKubeConfigOptions {
  /** Explicit kubeconfig file (`--kubeconfig`), relative to `cwd`. */
  kubeconfig?: string;
  /** Environment (`KUBECONFIG`, `KUBERNETES_SERVICE_HOST`, `HOME`). */
  env: Record<string, string | undefined>;
  /** Working directory. */
  cwd: string;
  /** Token file proving we run in a pod (default {@linkcode SERVICE_ACCOUNT_TOKEN}). */
  serviceAccountToken?: string;
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

function fromFile(kc: KubeConfig, path: string, origin: string): void {
  try {
    kc.loadFromFile(path);
  } catch (e) {
    throw usageError(`${origin} ${path}: not a valid kubeconfig: ${describeError(e)}`);
  }
}

/**
 * Loads the Kubernetes client configuration, first match wins: `kubeconfig` (flag), the first
 * existing file of `KUBECONFIG`, the pod's service account (`KUBERNETES_SERVICE_HOST` + token),
 * `~/.kube/config`. Usage error (exit 2) when none is found or the file has no current cluster.
 */
export async function loadKubeConfig(options: LoadKubeConfigOptions): Promise<KubeConfig> {
  const kc = new KubeConfig();
  const env = options.env;
  const tokenFile = options.serviceAccountToken ?? SERVICE_ACCOUNT_TOKEN;
  const home = env.HOME ? join(env.HOME, ".kube", "config") : undefined;
  if (options.kubeconfig) {
    const path = resolve(options.cwd, options.kubeconfig);
    if (!(await exists(path))) throw usageError(`--kubeconfig ${path}: no such file`);
    fromFile(kc, path, "--kubeconfig");
  } else if (env.KUBECONFIG) {
    const candidates = env.KUBECONFIG.split(":").filter(Boolean).map((p) =>
      resolve(options.cwd, p)
    );
    let found: string | undefined;
    for (const c of candidates) if (found === undefined && await exists(c)) found = c;
    if (found === undefined) {
      throw usageError(`KUBECONFIG=${env.KUBECONFIG}: none of these files exists`);
    }
    fromFile(kc, found, "KUBECONFIG");
  } else if (env.KUBERNETES_SERVICE_HOST && await exists(tokenFile)) {
    kc.loadFromCluster();
  } else if (home && await exists(home)) {
    fromFile(kc, home, "kubeconfig");
  } else {
    throw usageError(
      "no Kubernetes configuration found: pass --kubeconfig FILE, set KUBECONFIG, or run inside " +
        "the cluster with a service account",
    );
  }
  if (!kc.getCurrentCluster()) {
    throw usageError(
      `kubeconfig has no current cluster (context ${
        JSON.stringify(kc.getCurrentContext())
      }): set current-context`,
    );
  }
  return kc;
}

// ---------------------------------------------------------------------------------------------
// Errors

function parseStatus(body: unknown): Record<string, unknown> | undefined {
  if (typeof body === "string") {
    try {
      const parsed = JSON.parse(body);
      return parsed !== null && typeof parsed === "object" ? parsed : undefined;
    } catch {
      return undefined;
    }
  }
  return body !== null && typeof body === "object" ? body as Record<string, unknown> : undefined;
}

/** Conflicting fields and their managers from a `Status`'s `details.causes`. */
export function conflictsFromCauses(causes: readonly StatusCause[]): FieldConflict[] {
  return causes
    .filter((c) => c.reason === "FieldManagerConflict" || /conflict with/.test(c.message ?? ""))
    .map((c) => ({
      field: c.field ?? "(unknown field)",
      manager: /conflict with "([^"]*)"/.exec(c.message ?? "")?.[1] ?? c.message ?? "(unknown)",
    }));
}

function networkCause(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let depth = 0; depth < 6 && cur instanceof Error; depth++) {
    if (cur.name === "TimeoutError") return `no answer in time: ${cur.message}`;
    const code = (cur as { code?: unknown }).code;
    // ECONNREFUSED, ENOTFOUND, UND_ERR_CONNECT_TIMEOUT, CERT_HAS_EXPIRED, …
    if (typeof code === "string" && /^[A-Z][A-Z0-9_]+$/.test(code)) {
      return `${code}: ${cur.message}`;
    }
    if (cur instanceof Deno.errors.ConnectionRefused) return cur.message;
    cur = (cur as { cause?: unknown }).cause;
  }
  if (e instanceof TypeError && /fetch failed|network|connect/i.test(e.message)) return e.message;
  return undefined;
}

/**
 * Turns whatever the client threw into a {@linkcode KubeApiError} describing `what` failed:
 * API status and message, the conflicting fields and managers of a 409 apply conflict, or the
 * unreachable server.
 */
export function toKubeError(
  e: unknown,
  context: { what: string; server: string },
): KubeApiError {
  const { what, server } = context;
  if (e instanceof KubeApiError) return e;
  if (e instanceof ApiException) {
    const status = parseStatus(e.body);
    const code = typeof status?.code === "number" ? status.code : e.code;
    const reason = typeof status?.reason === "string" ? status.reason : undefined;
    const message = typeof status?.message === "string"
      ? status.message
      : typeof e.body === "string" && e.body.trim()
      ? e.body.trim().slice(0, 500)
      : `HTTP ${e.code}`;
    const details = status?.details as { causes?: StatusCause[] } | undefined;
    const conflicts = code === 409 ? conflictsFromCauses(details?.causes ?? []) : [];
    let text: string;
    if (conflicts.length > 0) {
      text = `${what}: server-side apply conflicts with other field managers:\n` +
        conflicts.map((c) => `  - ${c.field} (owned by "${c.manager}")`).join("\n") +
        `\nThe API server said: ${message}\n` +
        "Nothing of this object was changed. Remove these fields from the other manager, or re-run " +
        "with --force-conflicts to make aphex their owner.";
    } else if (code === 404 && /^Failed to fetch resource metadata for /.test(e.message)) {
      const gvk = /^Failed to fetch resource metadata for (\S+?):/.exec(e.message)?.[1] ?? "";
      text = `${what}: the API server does not serve ${gvk} (404); is its CRD installed ` +
        "(Argo Workflows / Argo Events)?";
    } else if (code === 401) {
      text = `${what}: Unauthorized (401): ${message} (the kubeconfig's credentials or the ` +
        "service account token were not accepted)";
    } else if (code === 403) {
      text = `${what}: ${reason ?? "Forbidden"} (403): ${message} ` +
        "(the identity needs the Role generated in rbac.yaml; an admin installs it with aphex apply)";
    } else {
      text = `${what}: the API server answered ${code}${reason ? ` ${reason}` : ""}: ${message}`;
    }
    return new KubeApiError(text, {
      status: code,
      ...(reason ? { reason } : {}),
      conflicts,
      cause: e,
    });
  }
  const unreachable = networkCause(e);
  if (unreachable !== undefined) {
    return new KubeApiError(
      `${what}: cannot reach the Kubernetes API server at ${server}: ${unreachable}`,
      { cause: e },
    );
  }
  const text = describeError(e);
  if (/^Unrecognized API version and kind/.test(text)) {
    return new KubeApiError(
      `${what}: the API server does not serve this kind (${text}); is its CRD installed ` +
        "(Argo Workflows / Argo Events)?",
      { cause: e },
    );
  }
  return new KubeApiError(`${what}: ${text}`, { cause: e });
}

// ---------------------------------------------------------------------------------------------
// The real client

function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value));
}

/** Options of {@linkcode createKubeClient}. */
export interface KubeClientOptions {
  /** Bound of each request in ms (default {@linkcode DEFAULT_REQUEST_TIMEOUT_MS}). */
  requestTimeoutMs?: number;
}

/**
 * Wraps a loaded configuration into a {@linkcode KubeClient} on `KubernetesObjectApi` (which
 * discovers each API group/version's resources before its first request). Every request is
 * bounded by `requestTimeoutMs`, so a black-holed API server fails the stage instead of hanging.
 */
export function createKubeClient(kc: KubeConfig, options: KubeClientOptions = {}): KubeClient {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw usageError("kubeconfig has no current cluster: set current-context");
  const server = cluster.server;
  const timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const api = new KubernetesObjectApi(createConfiguration({
    baseServer: new ServerConfiguration<Record<string, string>>(server, {}),
    authMethods: { default: kc },
    promiseMiddleware: [{
      pre: (request) => {
        // The client rewrites error messages; a DOMException's message is read-only, so the
        // timeout aborts with a plain Error named TimeoutError instead.
        const controller = new AbortController();
        AbortSignal.timeout(timeoutMs).addEventListener("abort", () => {
          const error = new Error(`no answer within ${timeoutMs} ms`);
          error.name = "TimeoutError";
          controller.abort(error);
        }, { once: true });
        request.setSignal(controller.signal);
        return Promise.resolve(request);
      },
      post: (response) => Promise.resolve(response),
    }],
  }));
  const call = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      throw toKubeError(e, { what, server });
    }
  };
  return {
    server,
    async get(ref) {
      const header = {
        apiVersion: ref.apiVersion,
        kind: ref.kind,
        metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) },
      };
      try {
        return plain(await api.read(header)) as KubeObject;
      } catch (e) {
        // A 404 of the object itself (not of API discovery) means "does not exist".
        if (
          e instanceof ApiException && e.code === 404 &&
          !/^Failed to fetch resource metadata/.test(e.message)
        ) return undefined;
        throw toKubeError(e, { what: `reading ${describeRef(ref)}`, server });
      }
    },
    apply(object, options = {}) {
      const what = `${options.dryRun ? "server-side dry-run of " : ""}applying ${
        describeRef(refOf(object))
      }`;
      return call(what, async () =>
        plain(
          await api.patch(
            structuredClone(object),
            undefined,
            options.dryRun ? "All" : undefined,
            FIELD_MANAGER,
            options.force ? true : undefined,
            PatchStrategy.ServerSideApply,
          ),
        ) as KubeObject);
    },
    create(object) {
      return call(`creating ${describeRef(refOf(object))}`, async () =>
        plain(
          await api.create(structuredClone(object), undefined, undefined, FIELD_MANAGER),
        ) as KubeObject);
    },
    list(type, options) {
      return call(`listing ${type.kind} objects in ${type.namespace}`, async () => {
        const out = await api.list(
          type.apiVersion,
          type.kind,
          type.namespace,
          undefined,
          undefined,
          undefined,
          undefined,
          options.labelSelector,
        );
        return (plain(out) as { items?: KubeObject[] }).items ?? [];
      });
    },
    mergePatch(ref, patch) {
      const body = {
        ...patch,
        apiVersion: ref.apiVersion,
        kind: ref.kind,
        metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) },
      };
      return call(`patching ${describeRef(ref)}`, async () =>
        plain(
          await api.patch(
            body,
            undefined,
            undefined,
            FIELD_MANAGER,
            undefined,
            PatchStrategy.MergePatch,
          ),
        ) as KubeObject);
    },
  };
}

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
