/**
 * A real synth (aws-cdk-lib from npm, offline) of a pipeline stack using
 * {@linkcode AphexPipelineResources} for the example `aphex-config.yaml`, asserted with
 * `aws-cdk-lib/assertions` and against the IAM policy written out by hand here.
 */
import assert from "node:assert/strict";
import { Duration } from "aws-cdk-lib";
import { Match } from "aws-cdk-lib/assertions";
import { ISSUER, OIDC_ARN, policyStatements, ROOT, synthExample } from "../tests/cdk/_synth.ts";

const synth = await synthExample({ withCluster: true });
const { template } = synth;
const BUCKET = { "Fn::GetAtt": [logicalId("AWS::S3::Bucket"), "Arn"] };
const TOPIC = { Ref: logicalId("AWS::SNS::Topic") };
const GROUP = "/aws/eks/aphex-pipeline/workflows";

function logicalId(type: string): string {
  const ids = Object.keys(template.findResources(type));
  assert.equal(ids.length, 1, `one ${type}`);
  return ids[0]!;
}

Deno.test("bucket: named by the config, SSE, versioned, private, TLS only, noncurrent versions expire", () => {
  template.hasResourceProperties("AWS::S3::Bucket", {
    BucketName: "webshop-aphex-artifacts",
    BucketEncryption: {
      ServerSideEncryptionConfiguration: [{
        ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" },
      }],
    },
    VersioningConfiguration: { Status: "Enabled" },
    PublicAccessBlockConfiguration: {
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    },
    LifecycleConfiguration: {
      Rules: [Match.objectLike({
        Status: "Enabled",
        NoncurrentVersionExpiration: { NoncurrentDays: 30 },
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
      })],
    },
  });
  template.hasResource("AWS::S3::Bucket", { DeletionPolicy: "Retain" });
  template.hasResourceProperties("AWS::S3::BucketPolicy", {
    PolicyDocument: {
      Statement: Match.arrayWith([Match.objectLike({
        Effect: "Deny",
        Principal: { AWS: "*" },
        Action: "s3:*",
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      })]),
    },
  });
});

Deno.test("bucket: noncurrent-version expiry is configurable", async () => {
  const other = await synthExample({ noncurrentVersionExpiration: Duration.days(7) });
  other.template.hasResourceProperties("AWS::S3::Bucket", {
    LifecycleConfiguration: {
      Rules: [Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 7 } })],
    },
  });
});

Deno.test("role: trusted by the cluster's OIDC provider for exactly the pipeline's service account", () => {
  template.hasResourceProperties("AWS::IAM::Role", {
    RoleName: "webshop-aphex-pipeline",
    MaxSessionDuration: 3600,
    AssumeRolePolicyDocument: {
      Statement: [{
        Effect: "Allow",
        Action: "sts:AssumeRoleWithWebIdentity",
        Principal: { Federated: OIDC_ARN },
        Condition: {
          StringEquals: {
            [`${ISSUER}:sub`]: "system:serviceaccount:argo:aphex-pipeline",
            [`${ISSUER}:aud`]: "sts.amazonaws.com",
          },
        },
      }],
    },
  });
  const roles = template.findResources("AWS::IAM::Role", {
    Properties: { RoleName: "webshop-aphex-pipeline" },
  });
  const role = Object.values(roles)[0]!;
  assert.equal(role.Properties.ManagedPolicyArns, undefined, "no managed policies");
  assert.equal(role.Properties.Policies, undefined, "no inline policies besides the one checked");
});

Deno.test("role policy: exactly these statements, no wildcard action, resources scoped", () => {
  const statements = policyStatements(template);
  const partition = (rest: string) => ({
    "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, rest]],
  });
  const boot = (account: string, region: string) =>
    ["deploy", "file-publishing", "image-publishing", "lookup"].map((kind) =>
      `arn:aws:iam::${account}:role/cdk-hnb659fds-${kind}-role-${account}-${region}`
    );
  const stacks = [
    ["us-east-1", "111111111111", "dev"],
    ["eu-west-1", "111111111111", "staging"],
    ["eu-west-1", "222222222222", "prod"],
  ].flatMap(([region, account, env]) =>
    ["Network", "App"].map((s) =>
      `arn:aws:cloudformation:${region}:${account}:stack/Webshop${s}-${env}/*`
    )
  );
  assert.deepEqual(statements, [
    {
      Sid: "ArtifactObjects",
      Effect: "Allow",
      Action: ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
      Resource: { "Fn::Join": ["", [BUCKET, "/*"]] },
    },
    { Sid: "ArtifactBucket", Effect: "Allow", Action: "s3:ListBucket", Resource: BUCKET },
    {
      Sid: "AssumeDeployRoles",
      Effect: "Allow",
      Action: "sts:AssumeRole",
      // dev (also the pipeline's own account/region), staging: bootstrap roles; prod: its role.
      Resource: [
        ...boot("111111111111", "us-east-1"),
        ...boot("111111111111", "eu-west-1"),
        "arn:aws:iam::222222222222:role/webshop-deployer",
      ],
    },
    {
      Sid: "StackReads",
      Effect: "Allow",
      Action: [
        "cloudformation:DeleteChangeSet",
        "cloudformation:DeleteStack",
        "cloudformation:DescribeChangeSet",
        "cloudformation:DescribeStackEvents",
        "cloudformation:DescribeStacks",
        "cloudformation:ExecuteChangeSet",
        "cloudformation:GetTemplate",
      ],
      Resource: stacks,
    },
    {
      Sid: "BootstrapVersion",
      Effect: "Allow",
      Action: "ssm:GetParameter",
      Resource: [
        "arn:aws:ssm:us-east-1:111111111111:parameter/cdk-bootstrap/hnb659fds/version",
        "arn:aws:ssm:eu-west-1:111111111111:parameter/cdk-bootstrap/hnb659fds/version",
        "arn:aws:ssm:eu-west-1:222222222222:parameter/cdk-bootstrap/hnb659fds/version",
      ],
    },
    {
      Sid: "Metrics",
      Effect: "Allow",
      Action: "cloudwatch:PutMetricData",
      Resource: "*",
      Condition: { StringEquals: { "cloudwatch:namespace": "AphexPipeline" } },
    },
    {
      Sid: "RunRecords",
      Effect: "Allow",
      Action: ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
      Resource: [
        partition(`:logs:us-east-1:111111111111:log-group:${GROUP}`),
        partition(`:logs:us-east-1:111111111111:log-group:${GROUP}:log-stream:*`),
      ],
    },
    { Sid: "Notifications", Effect: "Allow", Action: "sns:Publish", Resource: TOPIC },
  ]);
  // The general rules, independent of the list above.
  for (const s of statements) {
    const actions = [s.Action].flat() as string[];
    assert.ok(actions.every((a) => /^[a-z0-9-]+:[A-Za-z0-9]+$/.test(a)), `no wildcard: ${actions}`);
    assert.equal(s.Effect, "Allow");
    for (const r of [s.Resource].flat()) {
      if (r === "*") {
        assert.deepEqual(actions, ["cloudwatch:PutMetricData"], "only PutMetricData on *");
        assert.ok(s.Condition, "…and only with the namespace condition");
      }
    }
  }
});

Deno.test("topic, log group with retention, a failed-deployment alarm per environment, dashboard", () => {
  template.hasResourceProperties("AWS::SNS::Topic", { TopicName: "webshop-deployments" });
  template.hasResourceProperties("AWS::Logs::LogGroup", {
    LogGroupName: GROUP,
    RetentionInDays: 90,
  });
  for (const env of ["dev", "staging", "prod"]) {
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      AlarmName: `webshop-${env}-deployment-failed`,
      Namespace: "AphexPipeline",
      MetricName: "DeploymentCount",
      Dimensions: Match.arrayEquals([
        { Name: "Environment", Value: env },
        { Name: "Status", Value: "Failed" },
      ]),
      Statistic: "Sum",
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      TreatMissingData: "notBreaching",
      AlarmActions: [TOPIC],
    });
  }
  template.resourceCountIs("AWS::CloudWatch::Alarm", 3);
  const dashboard = Object.values(template.findResources("AWS::CloudWatch::Dashboard"))[0]!;
  const body = JSON.stringify(dashboard.Properties.DashboardBody);
  for (const m of ["DeploymentCount", "DeploymentDuration", "WorkflowDuration"]) {
    assert.ok(body.includes(m), `dashboard shows ${m}`);
  }
});

Deno.test("outputs: bucket name, role ARN, topic ARN", () => {
  const outputs = template.toJSON().Outputs as Record<
    string,
    { Value: unknown; Description: string }
  >;
  const byDescription = Object.fromEntries(
    Object.values(outputs).map((o) => [o.Description, o.Value]),
  );
  assert.deepEqual(byDescription, {
    "pipeline.artifactBucket": { Ref: logicalId("AWS::S3::Bucket") },
    "pipeline.roleArn": { "Fn::GetAtt": [roleLogicalId(), "Arn"] },
    "pipeline.notifications.snsTopicArn": TOPIC,
  });
});

function roleLogicalId(): string {
  const ids = Object.keys(
    template.findResources("AWS::IAM::Role", {
      Properties: { RoleName: "webshop-aphex-pipeline" },
    }),
  );
  assert.equal(ids.length, 1);
  return ids[0]!;
}

Deno.test("generated manifests (RBAC included) are applied to the cluster by its kubectl role", () => {
  const resources = Object.values(template.findResources("Custom::AWSCDK-EKS-KubernetesResource"));
  assert.equal(resources.length, 1);
  const manifest = JSON.parse(JSON.stringify(resources[0]!.Properties.Manifest));
  const text = typeof manifest === "string" ? manifest : JSON.stringify(manifest);
  const applied = JSON.parse(text) as { kind: string; metadata: { name: string } }[];
  assert.deepEqual(
    applied.map((o) => `${o.kind}/${o.metadata.name}`),
    synth.manifests.map((o) => `${o.kind}/${(o.metadata as { name: string }).name}`),
  );
  const kinds = new Set(applied.map((o) => o.kind));
  for (
    const kind of [
      "WorkflowTemplate",
      "EventSource",
      "Sensor",
      "Role",
      "RoleBinding",
      "ServiceAccount",
    ]
  ) {
    assert.ok(kinds.has(kind), `${kind} applied`);
  }
  assert.equal(resources[0]!.Properties.RoleArn, "arn:aws:iam::111111111111:role/webshop-kubectl");
});

Deno.test("existing bucket, topic and log group are imported, not created, and still scoped", async () => {
  const { template: t } = await synthExample({
    existing: { bucket: true, topic: true, logGroup: true },
  });
  t.resourceCountIs("AWS::S3::Bucket", 0);
  t.resourceCountIs("AWS::SNS::Topic", 0);
  t.resourceCountIs("AWS::Logs::LogGroup", 0);
  const statements = policyStatements(t);
  const bySid = Object.fromEntries(statements.map((s) => [s.Sid, s.Resource]));
  assert.deepEqual(bySid.ArtifactBucket, {
    "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":s3:::webshop-aphex-artifacts"]],
  });
  assert.equal(bySid.Notifications, "arn:aws:sns:us-east-1:111111111111:webshop-deployments");
});

Deno.test("the CLI never loads the construct: no module of mod.ts's graph (dynamic imports too) is aws-cdk-lib", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "mod.ts"],
    cwd: ROOT,
    stdout: "piped",
  }).output();
  assert.equal(out.code, 0);
  // `modules` is the whole graph with every dependency's specifier (`npmPackages` lists the
  // lockfile, so it is not looked at).
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string; dependencies?: { specifier: string }[] }[];
  };
  const specifiers = info.modules.flatMap((m) => [
    m.specifier,
    ...(m.dependencies ?? []).map((d) => d.specifier),
  ]);
  assert.ok(specifiers.some((s) => s.endsWith("stages/deploy.ts")), "dynamic imports included");
  assert.ok(specifiers.some((s) => s.includes("@aws-sdk/client-s3")), "npm imports included");
  // The construct's own folder (`cdk/`), not the CDK CLI adapter (`adapters/cdk/`).
  const cdk = specifiers.filter((s) =>
    /aws-cdk-lib|constructs/.test(s) ||
    /(^|[^s]\/)cdk\/(pipeline_resources|config_file)\.ts$/.test(s)
  );
  assert.deepEqual(cdk, []);
});
