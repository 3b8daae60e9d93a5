/**
 * `aphex apply` (bootstrap) end to end against the loopback fake API server with the real
 * `@kubernetes/client-node`.
 */
import assert from "node:assert/strict";
import { command } from "../../cli/apply.ts";
import { main } from "../../cli/main.ts";
import { captureContext, execute } from "../../command/contract.ts";
import { parseConfigOrThrow } from "../../models/config_parse.ts";
import { generateManifests } from "../../templates/generate.ts";
import { configYaml } from "./_harness.ts";
import { type FakeApiServer, startFakeApiServer } from "./_fake_api.ts";

const CONFIG = configYaml(["dev", "prod!"], { pullRequests: true });

interface ApplyWorld {
  root: string;
  api: FakeApiServer;
  kubeconfig: string;
  run(args: string[]): Promise<{ code: number; out: string; err: string }>;
}

async function withApplyWorld(
  fn: (w: ApplyWorld) => Promise<void>,
  config = CONFIG,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "aphex-apply-test-" });
  const api = startFakeApiServer();
  try {
    await Deno.writeTextFile(`${root}/aphex-config.yaml`, config);
    await Deno.mkdir(`${root}/manifests`);
    for (const f of generateManifests(parseConfigOrThrow(config))) {
      await Deno.writeTextFile(`${root}/manifests/${f.file}`, f.text);
    }
    const kubeconfig = await api.writeKubeconfig(root);
    await fn({
      root,
      api,
      kubeconfig,
      async run(args) {
        const ctx = captureContext(["apply", ...args], { env: { HOME: root }, cwd: root });
        const code = await main(ctx);
        return { code, out: ctx.out.join(""), err: ctx.err.join("") };
      },
    });
  } finally {
    await api.close();
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("aphex apply: bootstrap applies every manifest, RBAC first, and prints the next steps", async () => {
  await withApplyWorld(async (w) => {
    const r = await w.run(["--kubeconfig", w.kubeconfig]);
    assert.equal(r.code, 0, r.err);
    const real = w.api.writes();
    assert.ok(real.every((q) => q.method === "PATCH"));
    assert.deepEqual(real.slice(0, 3).map((q) => q.path), [
      "/api/v1/namespaces/argo/serviceaccounts/aphex-pipeline",
      "/apis/rbac.authorization.k8s.io/v1/namespaces/argo/roles/shop-pipeline",
      "/apis/rbac.authorization.k8s.io/v1/namespaces/argo/rolebindings/shop-pipeline",
    ]);
    assert.ok(
      real.some((q) =>
        q.path === "/apis/argoproj.io/v1alpha1/namespaces/argo/workflowtemplates/shop-validate"
      ),
    );
    assert.ok(
      real.some((q) => q.path === "/apis/argoproj.io/v1alpha1/namespaces/argo-events/sensors/shop"),
    );
    for (const q of real) {
      assert.equal(q.contentType, "application/apply-patch+yaml");
      assert.deepEqual(q.query, { fieldManager: "aphex" });
    }
    // Discovery of the core and RBAC APIs happened before the first object request.
    const firstObject = w.api.requests.findIndex((q) => q.path.includes("/namespaces/"));
    const discovered = w.api.requests.slice(0, firstObject).map((q) => q.path);
    assert.ok(discovered.includes("/api/v1"));
    assert.ok(
      w.api.requests.some((q) => q.path === "/apis/rbac.authorization.k8s.io/v1"),
    );
    const objectCount = generateManifests(parseConfigOrThrow(CONFIG)).reduce(
      (n, f) => n + f.documents.length,
      0,
    );
    assert.equal(real.length, objectCount);
    assert.equal(w.api.objects.size, objectCount);

    assert.match(r.out, /Next steps:/);
    assert.match(r.out, /Register the GitHub webhook .*: https:\/\/hooks\.example\.com\/github/);
    assert.match(r.out, /kubectl -n argo-events get eventsource,sensor/);
    assert.match(
      r.out,
      /kubectl -n argo-events create secret generic github-webhook --from-literal=secret=<secret>/,
    );
    assert.match(r.out, /Argo UI: https:\/\/argo\.example\.com\/workflows\/argo/);
    assert.match(r.out, /set pipeline\.roleArn in aphex-config\.yaml/);

    // A second bootstrap changes nothing and writes nothing.
    const before = w.api.requests.length;
    const again = await w.run(["--kubeconfig", w.kubeconfig]);
    assert.equal(again.code, 0, again.err);
    assert.deepEqual(w.api.requests.slice(before).filter((q) => q.method !== "GET"), []);
    assert.match(again.err, /up to date; nothing to apply/);
  });
});

Deno.test("aphex apply --dry-run writes nothing and prints the diff", async () => {
  await withApplyWorld(async (w) => {
    const r = await w.run(["--dry-run", "--kubeconfig", w.kubeconfig]);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(w.api.requests.filter((q) => q.method !== "GET"), []);
    assert.equal(w.api.objects.size, 0);
    assert.match(r.out, /create\s+ServiceAccount argo\/aphex-pipeline/);
    assert.match(r.out, /\+kind: Sensor/);
    assert.doesNotMatch(r.out, /Next steps/);
  });
});

Deno.test("aphex apply: an IRSA annotation set with kubectl conflicts → exit 1 naming field and manager", async () => {
  const withRole = configYaml(["dev"], { roleArn: "arn:aws:iam::111111111111:role/aphex" });
  await withApplyWorld(async (w) => {
    const sa = generateManifests(parseConfigOrThrow(withRole)).flatMap((f) => f.documents)
      .find((d) => d.kind === "ServiceAccount" && d.metadata.name === "aphex-pipeline")!;
    const annotated = structuredClone(sa);
    annotated.metadata.annotations = {
      ...annotated.metadata.annotations,
      "eks.amazonaws.com/role-arn": "arn:aws:iam::111111111111:role/pipeline",
    };
    w.api.seed(annotated as unknown as Record<string, unknown>, { manager: "kubectl-annotate" });
    const r = await w.run(["--kubeconfig", w.kubeconfig]);
    assert.equal(r.code, 1, r.err);
    assert.match(
      r.err,
      /\.metadata\.annotations\.eks\.amazonaws\.com\/role-arn \(owned by "kubectl-annotate"\)/,
    );
    assert.match(r.err, /ServiceAccount argo\/aphex-pipeline/);
    assert.deepEqual(w.api.writes(), []);
  }, withRole);
});

Deno.test("aphex apply: missing manifests and missing kubeconfig are usage errors", async () => {
  await withApplyWorld(async (w) => {
    const r = await w.run(["--dir", "nowhere", "--kubeconfig", w.kubeconfig]);
    assert.equal(r.code, 2);
    assert.match(r.err, /run 'aphex generate' first/);
    const none = await w.run([]);
    assert.equal(none.code, 2);
    assert.match(none.err, /no Kubernetes configuration found/);
    assert.deepEqual(w.api.requests, []);
  });
});

Deno.test("aphex apply: API server down → exit 1 with the server address", async () => {
  const root = await Deno.makeTempDir({ prefix: "aphex-apply-down-" });
  try {
    const dead = startFakeApiServer();
    const kubeconfig = await dead.writeKubeconfig(root);
    await dead.close();
    await Deno.mkdir(`${root}/manifests`);
    for (const f of generateManifests(parseConfigOrThrow(CONFIG))) {
      await Deno.writeTextFile(`${root}/manifests/${f.file}`, f.text);
    }
    const ctx = captureContext(["--kubeconfig", kubeconfig], { env: {}, cwd: root });
    assert.equal(await execute(command, ctx), 1);
    assert.match(
      ctx.err.join(""),
      new RegExp(`cannot reach the Kubernetes API server at ${dead.url}`),
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
