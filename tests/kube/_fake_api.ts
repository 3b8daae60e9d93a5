/**
 * Test helper: a loopback Kubernetes API server (Deno.serve on 127.0.0.1, port 0) speaking the
 * REST calls `@kubernetes/client-node` makes for Aphex — API discovery (`/api`, `/apis`,
 * `/api/v1`, `/apis/<group>/<version>`), GET of namespaced objects (404 Status when missing),
 * server-side apply (`PATCH` with `application/apply-patch+yaml`, `fieldManager` required,
 * `force`, `dryRun=All`, field ownership in `managedFields`, 409 Conflict Status with causes
 * when another manager owns a field with a different value) and `POST` create (409
 * AlreadyExists). Objects live in memory; every request is recorded for assertions.
 * @module
 */
import { parse as parseYaml } from "yaml";

/** One recorded request. */
export interface RecordedRequest {
  /** HTTP method. */
  method: string;
  /** URL path. */
  path: string;
  /** Query parameters. */
  query: Record<string, string>;
  /** Content-Type header (or null). */
  contentType: string | null;
  /** Authorization header (or null). */
  authorization: string | null;
  /** Request body text. */
  body: string;
}

interface ResourceInfo {
  name: string;
  singularName: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
}

const VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"];
const r = (name: string, kind: string): ResourceInfo => ({
  name,
  singularName: name.replace(/s$/, ""),
  kind,
  namespaced: true,
  verbs: VERBS,
});

/** Served group versions and their resources. */
const RESOURCES: Record<string, ResourceInfo[]> = {
  "v1": [
    r("serviceaccounts", "ServiceAccount"),
    r("configmaps", "ConfigMap"),
    r("secrets", "Secret"),
    { ...r("namespaces", "Namespace"), namespaced: false },
  ],
  "rbac.authorization.k8s.io/v1": [r("roles", "Role"), r("rolebindings", "RoleBinding")],
  "argoproj.io/v1alpha1": [
    r("workflows", "Workflow"),
    r("workflowtemplates", "WorkflowTemplate"),
    r("eventsources", "EventSource"),
    r("sensors", "Sensor"),
  ],
};

type Json = Record<string, unknown>;

function isMap(v: unknown): v is Json {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** fieldsV1 of an applied configuration: maps recurse, lists are atomic. */
export function fieldsV1Of(value: Json, top = true): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(value)) {
    if (top && (k === "apiVersion" || k === "kind")) continue;
    if (top && k === "metadata" && isMap(v)) {
      const { name: _n, namespace: _ns, ...rest } = v;
      const meta = fieldsV1Of(rest, false);
      if (Object.keys(meta).length > 0) out["f:metadata"] = meta;
      continue;
    }
    out[`f:${k}`] = isMap(v) && Object.keys(v).length > 0
      ? { ".": {}, ...fieldsV1Of(v, false) }
      : {};
  }
  return out;
}

function leafPaths(fields: Json, prefix: string[] = []): string[][] {
  const keys = Object.keys(fields).filter((k) => k !== "." && k.startsWith("f:"));
  if (keys.length === 0) return [prefix];
  return keys.flatMap((k) => leafPaths(fields[k] as Json, [...prefix, k.slice(2)]));
}

function valueAt(obj: unknown, path: string[]): unknown {
  let cur = obj;
  for (const p of path) {
    if (!isMap(cur)) return undefined;
    cur = cur[p];
  }
  return cur;
}

function removeAt(obj: Json, path: string[]): void {
  const parent = valueAt(obj, path.slice(0, -1));
  if (isMap(parent)) delete parent[path.at(-1)!];
}

function merge(base: Json, patch: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    out[k] = isMap(v) && isMap(out[k]) ? merge(out[k] as Json, v) : structuredClone(v);
  }
  return out;
}

function removeFieldsFromSet(fields: Json, path: string[]): void {
  const parent = valueAt(fields, path.slice(0, -1).map((p) => `f:${p}`));
  if (isMap(parent)) delete parent[`f:${path.at(-1)}`];
}

function status(code: number, reason: string, message: string, details?: Json): Response {
  return Response.json({
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  }, { status: code });
}

/** A seeded field owner (e.g. `kubectl-annotate` owning an annotation). */
export interface SeedOptions {
  /** Manager of the seeded object's fields (default `kubectl`). */
  manager?: string;
  /** Operation (default `Update`). */
  operation?: "Apply" | "Update";
  /** Extra managed-field entries (other managers owning parts of the object). */
  extraManagers?: { manager: string; operation: "Apply" | "Update"; fieldsV1: Json }[];
}

/** A running fake API server. */
export interface FakeApiServer {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** Every request, in order. */
  requests: RecordedRequest[];
  /** Stored objects by `<apiVersion>|<kind>|<namespace>|<name>`. */
  objects: Map<string, Json>;
  /** Stores an object as if another client had written it. */
  seed(object: Json, options?: SeedOptions): void;
  /** The stored object, if any. */
  get(apiVersion: string, kind: string, namespace: string, name: string): Json | undefined;
  /** When set, every non-dry-run write answers 503 (the API server stops accepting writes). */
  failWrites: boolean;
  /** When set, requests get no answer until the server is closed (a black-holed server). */
  hang: boolean;
  /** When set, object requests are authorized like Kubernetes RBAC (403 Forbidden otherwise). */
  authorize: Authorizer | undefined;
  /** Writes (PATCH without dryRun, POST, PUT, DELETE) received. */
  writes(): RecordedRequest[];
  /** Writes a kubeconfig for this server into `dir`; returns its path. */
  writeKubeconfig(dir: string): Promise<string>;
  /** Stops the server. */
  close(): Promise<void>;
}

/** Attributes of one request, as the Kubernetes authorizer sees them. */
export interface RequestAttributes {
  /** `get`, `create`, `patch`. */
  verb: string;
  /** API group (`""` for core). */
  group: string;
  /** Plural resource. */
  resource: string;
  /** Namespace. */
  namespace: string;
  /** Object name (absent for `create` by POST). */
  name?: string;
}

/** Decides whether a request is allowed. */
export type Authorizer = (attrs: RequestAttributes) => boolean;

/** An RBAC authorizer from namespaced Role rules (what the bound Roles grant). */
export function rbacAuthorizer(
  roles: {
    namespace: string;
    rules: {
      apiGroups: string[];
      resources: string[];
      resourceNames?: string[];
      verbs: string[];
    }[];
  }[],
): Authorizer {
  return (a) =>
    roles.some((role) =>
      role.namespace === a.namespace &&
      role.rules.some((r) =>
        r.apiGroups.includes(a.group) && r.resources.includes(a.resource) &&
        r.verbs.includes(a.verb) &&
        (r.resourceNames === undefined || r.resourceNames.length === 0 ||
          (a.name !== undefined && r.resourceNames.includes(a.name)))
      )
    );
}

/** The token the fake server expects. */
export const FAKE_TOKEN = "fake-token-for-tests";

function keyOf(apiVersion: string, kind: string, namespace: string, name: string): string {
  return `${apiVersion}|${kind}|${namespace}|${name}`;
}

/** Starts the fake API server. */
export function startFakeApiServer(): FakeApiServer {
  const requests: RecordedRequest[] = [];
  const objects = new Map<string, Json>();
  let rv = 1000;
  let uid = 0;
  const state = { failWrites: false, hang: false, authorize: undefined as Authorizer | undefined };
  let release: () => void = () => {};
  const closed = new Promise<void>((resolve) => (release = resolve));

  const stamp = (obj: Json, existing: Json | undefined): Json => {
    const meta = obj.metadata as Json;
    const old = existing?.metadata as Json | undefined;
    meta.uid = old?.uid ?? `00000000-0000-4000-8000-${String(++uid).padStart(12, "0")}`;
    meta.creationTimestamp = old?.creationTimestamp ?? "2026-01-01T00:00:00Z";
    meta.resourceVersion = String(++rv);
    meta.generation = ((old?.generation as number | undefined) ?? 0) + 1;
    return obj;
  };

  const seed = (object: Json, options: SeedOptions = {}) => {
    const obj = structuredClone(object);
    const meta = obj.metadata as Json;
    const { managedFields: _m, ...content } = obj;
    meta.managedFields = [
      {
        manager: options.manager ?? "kubectl",
        operation: options.operation ?? "Update",
        apiVersion: obj.apiVersion,
        time: "2026-01-01T00:00:00Z",
        fieldsType: "FieldsV1",
        fieldsV1: fieldsV1Of(content),
      },
      ...(options.extraManagers ?? []).map((m) => ({
        ...m,
        apiVersion: obj.apiVersion,
        time: "2026-01-01T00:00:00Z",
        fieldsType: "FieldsV1",
      })),
    ];
    stamp(obj, undefined);
    objects.set(
      keyOf(
        obj.apiVersion as string,
        obj.kind as string,
        (meta.namespace as string) ?? "",
        meta.name as string,
      ),
      obj,
    );
  };

  const discovery = (path: string): Response | undefined => {
    if (path === "/api") {
      return Response.json({
        kind: "APIVersions",
        versions: ["v1"],
        serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: "127.0.0.1" }],
      });
    }
    if (path === "/apis") {
      const groups = Object.keys(RESOURCES).filter((gv) => gv.includes("/")).map((gv) => {
        const [group, version] = gv.split("/");
        return {
          name: group,
          versions: [{ groupVersion: gv, version }],
          preferredVersion: { groupVersion: gv, version },
        };
      });
      return Response.json({ kind: "APIGroupList", apiVersion: "v1", groups });
    }
    const m = /^\/(?:api\/(v1)|apis\/([^/]+\/[^/]+))$/.exec(path);
    if (m) {
      const gv = m[1] ?? m[2]!;
      const resources = RESOURCES[gv];
      if (!resources) {
        return status(404, "NotFound", "the server could not find the requested resource");
      }
      return Response.json({
        kind: "APIResourceList",
        apiVersion: "v1",
        groupVersion: gv,
        resources,
      });
    }
    return undefined;
  };

  const handler = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const body = req.body ? await req.text() : "";
    const rec: RecordedRequest = {
      method: req.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      contentType: req.headers.get("content-type"),
      authorization: req.headers.get("authorization"),
      body,
    };
    requests.push(rec);
    if (state.hang) {
      await closed;
      return status(503, "ServiceUnavailable", "shutting down");
    }
    if (rec.authorization !== `Bearer ${FAKE_TOKEN}`) {
      return status(401, "Unauthorized", "Unauthorized");
    }
    if (req.method === "GET") {
      const d = discovery(url.pathname);
      if (d) return d;
    }
    const m = /^\/(?:api\/(v1)|apis\/([^/]+\/[^/]+))\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+))?$/
      .exec(url.pathname);
    if (!m) return status(404, "NotFound", "the server could not find the requested resource");
    const gv = m[1] ?? m[2]!;
    const [namespace, plural, name] = [m[3]!, m[4]!, m[5]];
    const resource = RESOURCES[gv]?.find((x) => x.name === plural);
    if (!resource) {
      return status(404, "NotFound", "the server could not find the requested resource");
    }
    const group = gv.includes("/") ? gv.split("/")[0]! : "";
    const gr = group ? `${plural}.${group}` : plural;
    const dryRun = rec.query.dryRun === "All";
    const isWrite = req.method !== "GET" && !dryRun;
    if (state.authorize) {
      const exists = name !== undefined && objects.has(keyOf(gv, resource.kind, namespace, name));
      const verbs = req.method === "GET"
        ? [name ? "get" : "list"]
        : req.method === "POST"
        ? ["create"]
        : req.method === "PATCH"
        ? (exists ? ["patch"] : ["patch", "create"])
        : [req.method.toLowerCase()];
      const denied = verbs.find((verb) =>
        !state.authorize!({ verb, group, resource: plural, namespace, ...(name ? { name } : {}) })
      );
      if (denied) {
        return status(
          403,
          "Forbidden",
          `${gr}${
            name ? ` "${name}"` : ""
          } is forbidden: User "system:serviceaccount:argo:aphex-pipeline" ` +
            `cannot ${denied} resource "${plural}" in API group "${group}" in the namespace "${namespace}"`,
          { ...(name ? { name } : {}), group, kind: plural },
        );
      }
    }
    if (isWrite && state.failWrites) {
      return status(503, "ServiceUnavailable", "etcdserver: request timed out");
    }

    if (req.method === "GET" && name) {
      const obj = objects.get(keyOf(gv, resource.kind, namespace, name));
      return obj ? Response.json(obj) : status(404, "NotFound", `${gr} "${name}" not found`, {
        name,
        group,
        kind: plural,
      });
    }

    if (req.method === "GET" && !name) {
      // LIST with an equality label selector (`k=v,k2=v2`).
      const wanted = (rec.query.labelSelector ?? "").split(",").filter(Boolean).map((kv) =>
        kv.split("=") as [string, string]
      );
      const items = [...objects.values()].filter((o) => {
        const meta = o.metadata as Json;
        if (o.apiVersion !== gv || o.kind !== resource.kind || meta.namespace !== namespace) {
          return false;
        }
        const labels = (meta.labels ?? {}) as Record<string, string>;
        return wanted.every(([k, v]) => labels[k] === v);
      });
      return Response.json({
        kind: `${resource.kind}List`,
        apiVersion: gv,
        metadata: { resourceVersion: "1" },
        items,
      });
    }

    if (req.method === "PATCH" && name && rec.contentType === "application/merge-patch+json") {
      const key = keyOf(gv, resource.kind, namespace, name);
      const existing = objects.get(key);
      if (!existing) {
        return status(404, "NotFound", `${gr} "${name}" not found`, { name, group, kind: plural });
      }
      const patched = stamp(merge(existing, JSON.parse(body) as Json), existing);
      if (!dryRun) objects.set(key, patched);
      return Response.json(patched);
    }

    if (req.method === "POST" && !name) {
      if (!rec.contentType?.startsWith("application/json")) {
        return status(415, "UnsupportedMediaType", `unsupported media type ${rec.contentType}`);
      }
      const obj = JSON.parse(body) as Json;
      const meta = (obj.metadata ?? {}) as Json;
      if (obj.apiVersion !== gv || obj.kind !== resource.kind) {
        return status(400, "BadRequest", "the API version/kind in the body does not match the URL");
      }
      if ((meta.namespace ?? namespace) !== namespace) {
        return status(400, "BadRequest", "the namespace of the object does not match the URL");
      }
      const key = keyOf(gv, resource.kind, namespace, meta.name as string);
      if (objects.has(key)) {
        return status(409, "AlreadyExists", `${gr} "${meta.name}" already exists`, {
          name: meta.name,
          group,
          kind: plural,
        });
      }
      meta.namespace = namespace;
      meta.managedFields = [{
        manager: rec.query.fieldManager ?? "unknown",
        operation: "Update",
        apiVersion: gv,
        time: "2026-01-01T00:00:00Z",
        fieldsType: "FieldsV1",
        fieldsV1: fieldsV1Of(obj),
      }];
      obj.metadata = meta;
      if (!dryRun) objects.set(key, stamp(obj, undefined));
      return Response.json(obj, { status: 201 });
    }

    if (req.method === "PATCH" && name) {
      if (rec.contentType !== "application/apply-patch+yaml") {
        return status(
          415,
          "UnsupportedMediaType",
          `this fake only serves server-side apply, not ${rec.contentType}`,
        );
      }
      const manager = rec.query.fieldManager;
      if (!manager) {
        return status(
          422,
          "Invalid",
          'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
        );
      }
      if (
        rec.query.force !== undefined && rec.query.force !== "true" && rec.query.force !== "false"
      ) {
        return status(400, "BadRequest", "invalid force value");
      }
      const force = rec.query.force === "true";
      const applied = parseYaml(body) as Json;
      const ameta = (applied.metadata ?? {}) as Json;
      if (applied.apiVersion !== gv || applied.kind !== resource.kind || ameta.name !== name) {
        return status(
          400,
          "BadRequest",
          "the apiVersion, kind or name of the body does not match the URL",
        );
      }
      if ((ameta.namespace ?? namespace) !== namespace) {
        return status(400, "BadRequest", "the namespace of the object does not match the URL");
      }
      const key = keyOf(gv, resource.kind, namespace, name);
      const existing = objects.get(key);
      const appliedFields = fieldsV1Of(applied);
      let entries = structuredClone(
        ((existing?.metadata as Json | undefined)?.managedFields ?? []) as Json[],
      );
      // Conflicts: another manager owns a field this apply sets to a different value.
      const conflicts: { field: string; manager: string; path: string[] }[] = [];
      for (const entry of entries) {
        if (entry.manager === manager) continue;
        for (const path of leafPaths(entry.fieldsV1 as Json)) {
          const mine = valueAt(applied, path);
          if (mine === undefined) continue;
          if (JSON.stringify(valueAt(existing, path)) !== JSON.stringify(mine)) {
            conflicts.push({ field: `.${path.join(".")}`, manager: entry.manager as string, path });
          }
        }
      }
      if (conflicts.length > 0 && !force) {
        const causes = conflicts.map((c) => ({
          reason: "FieldManagerConflict",
          message: `conflict with "${c.manager}" using ${gv}`,
          field: c.field,
        }));
        return status(
          409,
          "Conflict",
          `Apply failed with ${conflicts.length} conflict${conflicts.length > 1 ? "s" : ""}: ` +
            conflicts.map((c) => `conflict with "${c.manager}" using ${gv}: ${c.field}`).join("\n"),
          { causes },
        );
      }
      for (const c of conflicts) {
        for (const entry of entries) {
          if (entry.manager === c.manager) removeFieldsFromSet(entry.fieldsV1 as Json, c.path);
        }
      }
      // Fields this manager applied before and no longer applies are removed (if nobody else owns them).
      let content: Json = existing ? structuredClone(existing) : {};
      const previous = entries.find((e) => e.manager === manager && e.operation === "Apply");
      if (previous) {
        const othersOwn = new Set(
          entries.filter((e) => e !== previous).flatMap((e) =>
            leafPaths(e.fieldsV1 as Json).map((p) => p.join("."))
          ),
        );
        const now = new Set(leafPaths(appliedFields).map((p) => p.join(".")));
        for (const path of leafPaths(previous.fieldsV1 as Json)) {
          const k = path.join(".");
          if (!now.has(k) && !othersOwn.has(k)) removeAt(content, path);
        }
      }
      const { managedFields: _drop, ...appliedMeta } = ameta;
      content = merge(content, { ...applied, metadata: { ...appliedMeta, namespace } });
      entries = entries.filter((e) => !(e.manager === manager && e.operation === "Apply"));
      entries.push({
        manager,
        operation: "Apply",
        apiVersion: gv,
        time: "2026-01-01T00:00:00Z",
        fieldsType: "FieldsV1",
        fieldsV1: appliedFields,
      });
      (content.metadata as Json).managedFields = entries;
      const strip = (o: Json | undefined) => {
        if (!o) return "";
        const c = structuredClone(o);
        for (const k of ["resourceVersion", "generation"]) delete (c.metadata as Json)[k];
        return JSON.stringify(c);
      };
      if (existing && strip(existing) === strip(content)) return Response.json(existing);
      const result = stamp(content, existing);
      if (!dryRun) objects.set(key, result);
      return Response.json(result, { status: existing ? 200 : 201 });
    }
    return status(405, "MethodNotAllowed", `${req.method} is not supported here`);
  };

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  const url = `http://127.0.0.1:${server.addr.port}`;
  return {
    url,
    requests,
    objects,
    seed,
    get: (apiVersion, kind, namespace, name) =>
      objects.get(keyOf(apiVersion, kind, namespace, name)),
    get failWrites() {
      return state.failWrites;
    },
    set failWrites(v: boolean) {
      state.failWrites = v;
    },
    get hang() {
      return state.hang;
    },
    get authorize() {
      return state.authorize;
    },
    set authorize(v: Authorizer | undefined) {
      state.authorize = v;
    },
    set hang(v: boolean) {
      state.hang = v;
    },
    writes: () => requests.filter((q) => q.method !== "GET" && q.query.dryRun === undefined),
    async writeKubeconfig(dir: string) {
      const path = `${dir}/kubeconfig.yaml`;
      await Deno.writeTextFile(
        path,
        [
          "apiVersion: v1",
          "kind: Config",
          "clusters:",
          "  - name: fake",
          "    cluster:",
          `      server: ${url}`,
          "      insecure-skip-tls-verify: true",
          "users:",
          "  - name: tester",
          "    user:",
          `      token: ${FAKE_TOKEN}`,
          "contexts:",
          "  - name: fake",
          "    context: { cluster: fake, user: tester, namespace: argo }",
          "current-context: fake",
          "",
        ].join("\n"),
      );
      return path;
    },
    close: () => {
      release();
      return server.shutdown();
    },
  };
}
