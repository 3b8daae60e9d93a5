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
import { join, resolve } from "node:path";
import { AphexError, describeError, ExitCode, usageError } from "../../models/errors.ts";

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

/** A plain JSON copy of a client model object (class instances and dates flattened). */
export function plain<T>(value: T): T {
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
