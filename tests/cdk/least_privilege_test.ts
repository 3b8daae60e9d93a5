/**
 * Least privilege, proven: the AWS API calls the pod stages make (derived from their source, see
 * `_sdk_calls.ts`) equal the calls the construct grants (`PIPELINE_API_GRANTS`), and the
 * synthesized role policy holds exactly the IAM actions of those grants; the CDK bootstrap roles
 * the pipeline may assume are exactly the ones the stages and the CDK CLI they run assume.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { App, CfnWaitConditionHandle, Stack } from "aws-cdk-lib";
import * as ecrAssets from "aws-cdk-lib/aws-ecr-assets";
import * as s3Assets from "aws-cdk-lib/aws-s3-assets";
import {
  APHEX_METRIC_NAMESPACE,
  CDK_BOOTSTRAP_ROLE_TEMPLATES,
  PIPELINE_API_GRANTS,
} from "../../cdk/pipeline_resources.ts";
import { METRIC_NAMESPACE } from "../../adapters/monitoring/cloudwatch.ts";
import { DEFAULT_QUALIFIER } from "../../adapters/aws/credentials.ts";
import { DEFAULTS } from "../../models/config.ts";
import {
  bootstrapRolesAssumedBySource,
  compareGrants,
  sdkCalls,
  type SourceFile,
  stageSources,
} from "./_sdk_calls.ts";
import { policyStatements, synthExample } from "./_synth.ts";

const sources = await stageSources();
const GRANTED = Object.keys(PIPELINE_API_GRANTS);

Deno.test("the stages' AWS API calls are exactly the calls the construct grants", async () => {
  assert.ok(sources.some((f) => f.path === "stages/deploy.ts"), "deploy is a pod stage");
  assert.ok(
    sources.some((f) => f.path === "adapters/store/s3_store.ts"),
    "its dependencies are scanned",
  );
  const calls = await sdkCalls(sources);
  assert.ok(calls.size >= 15, `derived ${calls.size} calls`);
  assert.deepEqual(compareGrants(calls.keys(), GRANTED), { missing: [], unused: [] });
});

Deno.test("the synthesized role policy holds exactly the IAM actions of the granted calls", async () => {
  const { template } = await synthExample();
  const inPolicy = policyStatements(template).flatMap((s) => [s.Action].flat() as string[]);
  const fromGrants = Object.values(PIPELINE_API_GRANTS).flatMap((g) => g.actions);
  assert.deepEqual([...new Set(inPolicy)].sort(), [...new Set(fromGrants)].sort());
  assert.equal(inPolicy.length, new Set(inPolicy).size, "each action in one statement");
});

/** Copy of the source set with `path`'s text changed. */
function edited(path: string, change: (text: string) => string): SourceFile[] {
  let found = false;
  const out = sources.map((f) => {
    if (f.path !== path) return f;
    found = true;
    return { path, text: change(f.text) };
  });
  assert.ok(found, path);
  return out;
}

Deno.test("a stage that gains an unlisted SDK call, or drops a granted one, fails the check", async () => {
  // A new S3 call in the artifact store (dynamic import, as the store loads the SDK).
  const gained = edited(
    "adapters/store/s3_store.ts",
    (t) =>
      t + `\nexport async function wipe(client: S3Client, Bucket: string): Promise<void> {
  const { DeleteBucketCommand } = await import("@aws-sdk/client-s3");
  await client.send(new DeleteBucketCommand({ Bucket }));
}\n`,
  );
  const a = compareGrants((await sdkCalls(gained)).keys(), GRANTED);
  assert.deepEqual(a, { missing: ["S3.DeleteBucket"], unused: [] });

  // A new client nobody reviewed, in a new module a stage imports.
  const newClient = [...sources, {
    path: "adapters/aws/ec2.ts",
    text: `import { EC2Client, RunInstancesCommand } from "@aws-sdk/client-ec2";\n`,
  }];
  const b = compareGrants((await sdkCalls(newClient)).keys(), GRANTED);
  assert.deepEqual(b.missing, ["@aws-sdk/client-ec2.?"]);

  // A grant nobody uses any more: the failed-stack deletion removed from the CloudFormation module.
  const dropped = edited(
    "adapters/cloudformation/stacks.ts",
    (t) => t.replaceAll("DeleteStackCommand", "Removed"),
  );
  const c = compareGrants((await sdkCalls(dropped)).keys(), GRANTED);
  assert.deepEqual(c, { missing: [], unused: ["CloudFormation.DeleteStack"] });

  // lib-storage uploads with tags would send PutObjectTagging.
  const tagged = edited(
    "adapters/store/s3_store.ts",
    (t) => t.replace("leavePartsOnError: false,", "leavePartsOnError: false, tags: [],"),
  );
  const d = compareGrants((await sdkCalls(tagged)).keys(), GRANTED);
  assert.deepEqual(d, { missing: ["S3.PutObjectTagging"], unused: [] });
});

/** The role kind (`deploy`, `file-publishing`, …) of a CDK bootstrap role ARN or template. */
function roleKind(arn: string): string {
  const m = /:role\/cdk-(?:\$\{Qualifier\}|[a-z0-9]+)-([a-z-]+)-role-/.exec(arn);
  if (!m) throw new Error(`not a bootstrap role: ${arn}`);
  return m[1]!;
}

/**
 * The bootstrap roles the CDK CLI assumes for a cloud assembly: the deploy and lookup roles of
 * each stack and the publishing roles of its assets, read from the assembly of an app with file
 * and image assets.
 */
async function rolesTheCliAssumes(): Promise<string[]> {
  const dir = await Deno.makeTempDir({ prefix: "aphex-cdk-roles-" });
  try {
    const image = join(dir, "image");
    await Deno.mkdir(image);
    await Deno.writeTextFile(join(image, "Dockerfile"), "FROM scratch\n");
    const app = new App({ outdir: join(dir, "cdk.out") });
    const stack = new Stack(app, "Probe", {
      env: { account: "111111111111", region: "us-east-1" },
    });
    new s3Assets.Asset(stack, "File", { path: join(image, "Dockerfile") });
    new ecrAssets.DockerImageAsset(stack, "Image", { directory: image });
    new CfnWaitConditionHandle(stack, "Resource"); // a template needs one resource
    const assembly = app.synth();
    const roles = new Set<string>();
    const collect = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(collect);
      if (typeof node !== "object" || node === null) return;
      for (const [k, v] of Object.entries(node)) {
        if (typeof v === "string" && /^(assumeRoleArn|arn)$/.test(k) && v.includes(":role/cdk-")) {
          roles.add(roleKind(v));
        }
        collect(v);
      }
    };
    collect(JSON.parse(await Deno.readTextFile(join(assembly.directory, "manifest.json"))));
    for (const artifact of assembly.artifacts) {
      if (artifact.manifest.type === "cdk:asset-manifest") {
        const file = (artifact.manifest.properties as { file: string }).file;
        collect(JSON.parse(await Deno.readTextFile(join(assembly.directory, file))));
      }
    }
    return [...roles].sort();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the bootstrap roles granted are the ones the stages and the CDK CLI they run assume", async () => {
  const byCli = await rolesTheCliAssumes();
  assert.deepEqual(byCli, ["deploy", "file-publishing", "image-publishing", "lookup"]);
  const derived = new Set([...bootstrapRolesAssumedBySource(sources), ...byCli]);
  assert.ok(derived.has("deploy"), "adapters/aws/credentials.ts assumes the deploy role itself");
  const granted = CDK_BOOTSTRAP_ROLE_TEMPLATES.map(roleKind);
  assert.deepEqual(compareGrants(derived, granted), { missing: [], unused: [] });

  // And in the synthesized policy: per account/region without a role, exactly those roles.
  const { template } = await synthExample();
  const assume = policyStatements(template).find((s) => s.Action === "sts:AssumeRole")!;
  const resources = assume.Resource as string[];
  for (const [account, region] of [["111111111111", "us-east-1"], ["111111111111", "eu-west-1"]]) {
    const kinds = resources.filter((r) => r.endsWith(`-role-${account}-${region}`)).map(roleKind);
    assert.deepEqual(kinds.sort(), [...derived].sort(), `${account}/${region}`);
  }
  assert.deepEqual(
    resources.filter((r) => r.includes("222222222222")),
    ["arn:aws:iam::222222222222:role/webshop-deployer"],
    "prod: only its configured role",
  );
});

Deno.test("the construct's metric namespace and qualifier default are the stages'", () => {
  // The construct cannot import the stages (it must load in a Node CDK app with aws-cdk-lib only).
  assert.equal(APHEX_METRIC_NAMESPACE, METRIC_NAMESPACE);
  assert.equal(DEFAULTS.pipeline.cdkQualifier, DEFAULT_QUALIFIER);
});
