/**
 * Run order through the real `aphex deploy` command: one run holds the pipeline's mutex while
 * three pushes queue three more runs (Workflows in a loopback Kubernetes API that authorizes like
 * the generated RBAC). `superseded` mode: only the newest commit deploys, the other two stop as
 * superseded by it (recorded, their Workflows stopped). `queued` mode: all three deploy in order.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { captureContext } from "../../command/contract.ts";
import { main } from "../../cli/main.ts";
import { readText } from "../../adapters/store/artifact_store.ts";
import { readCurrentDeployment } from "../../adapters/store/current.ts";
import { stageRecordKey } from "../../adapters/store/stage_records.ts";
import { parseConfigOrThrow } from "../../models/config_parse.ts";
import { buildRbac } from "../../templates/rbac.ts";
import { standardLabels } from "../../templates/labels.ts";
import { assembleWorkflowMetadata } from "../../stages/_run_record.ts";
import { fromJsonText } from "../../models/_codec.ts";
import { StageRecordCodec } from "../../adapters/store/stage_records.ts";
import { FAKE_CDK } from "../deploy/_fixture.ts";
import { type FakeApiServer, rbacAuthorizer, startFakeApiServer } from "../kube/_fake_api.ts";
import { mockAws, type RunOrderFixture, withRunOrderFixture } from "./_setup.ts";

type Mode = "queued" | "superseded";
const ARGO = "argoproj.io/v1alpha1";

/** The generated Roles bound to the pipeline's service account, as an authorizer. */
function authorizerFor(configText: string) {
  const rbac = buildRbac(parseConfigOrThrow(configText)) as unknown as {
    kind: string;
    metadata: { name: string; namespace: string };
    rules?: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    roleRef?: { name: string };
    subjects?: { name: string; namespace: string }[];
  }[];
  const roles = rbac.filter((o) =>
    o.kind === "RoleBinding" && o.subjects!.some((s) => s.name === "aphex-pipeline")
  ).map((b) => {
    const role = rbac.find((o) => o.kind === "Role" && o.metadata.name === b.roleRef!.name)!;
    return { namespace: role.metadata.namespace, rules: role.rules! };
  });
  return rbacAuthorizer(roles);
}

function workflow(configText: string, name: string, sha: string, phase: string, minute: number) {
  return {
    apiVersion: ARGO,
    kind: "Workflow",
    metadata: {
      name,
      namespace: "argo",
      labels: standardLabels(parseConfigOrThrow(configText), "pipeline-run"),
      creationTimestamp: `2026-11-29T10:${String(minute).padStart(2, "0")}:00Z`,
    },
    spec: {
      workflowTemplateRef: { name: "aphex" },
      arguments: {
        parameters: [{ name: "commit-sha", value: sha }, { name: "ref", value: "refs/heads/main" }],
      },
    },
    status: { phase },
  };
}

function setPhase(api: FakeApiServer, name: string, phase: string) {
  const wf = api.get(ARGO, "Workflow", "argo", name) as { status: { phase: string } };
  wf.status.phase = phase;
}

async function git(args: string[], env: Record<string, string>) {
  const out = await new Deno.Command("git", { args, env, clearEnv: true }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

/** `aphex deploy` for dev, as run `name` of commit `sha` (a full clone: the CLI refuses file://). */
async function deployRun(f: RunOrderFixture, api: FakeApiServer, name: string, sha: string) {
  const ws = join(f.root, `ws-${name}`);
  await git(["clone", "--quiet", "--", join(f.root, "origin"), ws], f.env);
  await git(["-C", ws, "checkout", "--quiet", "--detach", sha], f.env);
  const out = join(f.root, `out-${name}`);
  await Deno.mkdir(out);
  const env = {
    ...f.env,
    APHEX_ENV: "dev",
    APHEX_WORKSPACE: ws,
    APHEX_COMMIT_SHA: sha,
    APHEX_BRANCH: "refs/heads/main",
    APHEX_OUTPUTS_DIR: out,
    APHEX_STORE_DIR: join(f.root, "store"),
    APHEX_CDK_COMMAND: `bash ${FAKE_CDK}`,
    APHEX_WORKFLOW_NAME: name,
    KUBECONFIG: await api.writeKubeconfig(f.root),
  };
  const ctx = captureContext(["deploy"], { env });
  const code = await main(ctx);
  return { code, err: ctx.err.join(""), status: await Deno.readTextFile(join(out, "status")) };
}

async function scenario(mode: Mode) {
  const restore = mockAws();
  const api = startFakeApiServer();
  try {
    let result: {
      runs: Awaited<ReturnType<typeof deployRun>>[];
      deploys: string[];
      live: string | undefined;
      shas: string[];
      records: Record<string, { status: string; supersededBy: string | null }>;
      shutdown: Record<string, unknown>;
      listed: number;
    } | undefined;
    await withRunOrderFixture(async (f) => {
      const configText = await Deno.readTextFile(join(f.root, "origin", "aphex-config.yaml"));
      api.authorize = authorizerFor(configText);
      const [c1, c2, c3, c4] = f.commits;
      // r1 holds the mutex and deploys c1; meanwhile three pushes queue r2, r3, r4.
      api.seed(workflow(configText, "r1", c1, "Running", 1));
      const first = await deployRun(f, api, "r1", c1);
      assert.equal(first.code, 0, first.err);
      for (const [i, [name, sha]] of [["r2", c2], ["r3", c3], ["r4", c4]].entries()) {
        api.seed(workflow(configText, name!, sha!, "Pending", 2 + i));
      }
      setPhase(api, "r1", "Succeeded");
      // The mutex serves the waiting runs in creation order.
      const runs = [];
      for (const [name, sha] of [["r2", c2], ["r3", c3], ["r4", c4]] as const) {
        setPhase(api, name, "Running");
        const r = await deployRun(f, api, name, sha);
        runs.push(r);
        // What Argo makes of it: a stopped run fails, the others succeed.
        const wf = api.get(ARGO, "Workflow", "argo", name) as { spec: { shutdown?: string } };
        setPhase(api, name, wf.spec.shutdown === "Stop" ? "Failed" : "Succeeded");
      }
      const records: Record<string, { status: string; supersededBy: string | null }> = {};
      for (const [name, sha] of [["r2", c2], ["r3", c3], ["r4", c4]] as const) {
        const rec = fromJsonText(
          StageRecordCodec,
          await readText(f.store, stageRecordKey(sha, name, "deploy-dev")),
          name,
        );
        records[name] = { status: rec.stage.status, supersededBy: rec.supersededBy };
        // The exit report's view of the run.
        const run = assembleWorkflowMetadata({
          workflow: name,
          commitSha: sha,
          branch: "main",
          workflowStatus: records[name]!.status === "superseded" ? "Failed" : "Succeeded",
          createdAt: null,
        }, { records: [rec], failures: [], now: new Date() });
        records[name]!.status += `/${run.status}`;
      }
      const shutdown = Object.fromEntries(
        ["r2", "r3", "r4"].map((n) => [
          n,
          (api.get(ARGO, "Workflow", "argo", n) as { spec: { shutdown?: string } }).spec.shutdown,
        ]),
      );
      result = {
        runs,
        deploys: await f.calls(),
        live: (await readCurrentDeployment(f.store, "dev"))?.sha,
        shas: f.commits,
        records,
        shutdown,
        listed: api.requests.filter((q) => q.method === "GET" && q.path.endsWith("/workflows"))
          .length,
      };
    }, { executionMode: mode });
    return result!;
  } finally {
    restore();
    await api.close();
  }
}

Deno.test("superseded mode: three pushes while a run holds the mutex → only the newest deploys", async () => {
  const r = await scenario("superseded");
  const [, , , c4] = r.shas;
  assert.deepEqual(r.runs.map((x) => [x.code, x.status]), [
    [0, "superseded"],
    [0, "superseded"],
    [0, "deployed"],
  ], r.runs.map((x) => x.err).join("\n---\n"));
  // r1's deploy and r4's: c2 and c3 never deployed.
  assert.deepEqual(r.deploys, ["deploy Network", "deploy Network"]);
  assert.equal(r.live, c4);
  for (const name of ["r2", "r3"]) {
    assert.deepEqual(r.records[name], {
      status: "superseded/superseded",
      supersededBy: `commit ${c4} (r4)`,
    });
    assert.equal(r.shutdown[name], "Stop", `${name} stopped itself (mutex released)`);
  }
  assert.deepEqual(r.records.r4, { status: "succeeded/succeeded", supersededBy: null });
  assert.equal(r.shutdown.r4, undefined);
  assert.match(r.runs[0]!.err, new RegExp(`SUPERSEDED reaching the environment: commit ${c4}`));
});

Deno.test("queued mode: the same three pushes all deploy, in order; no Workflow is listed", async () => {
  const r = await scenario("queued");
  assert.deepEqual(r.runs.map((x) => [x.code, x.status]), [
    [0, "deployed"],
    [0, "deployed"],
    [0, "deployed"],
  ], r.runs.map((x) => x.err).join("\n---\n"));
  assert.equal(r.deploys.length, 4);
  assert.equal(r.live, r.shas[3]);
  assert.equal(r.listed, 0, "queued mode needs no list permission");
  for (const name of ["r2", "r3", "r4"]) {
    assert.deepEqual(r.records[name], { status: "succeeded/succeeded", supersededBy: null });
  }
});
