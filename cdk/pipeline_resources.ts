/**
 * The pipeline's own AWS side as code: {@linkcode AphexPipelineResources}, a CDK construct
 * (aws-cdk-lib v2) driven by the parsed `aphex-config.yaml` that creates the artifact bucket, the
 * IRSA role of the pipeline's service account with exactly the permissions the stages use, the
 * notification topic, the log group, alarms on failed deployments, a dashboard and (optionally)
 * the generated Kubernetes objects on an existing EKS cluster.
 *
 * This module imports only `aws-cdk-lib`, `constructs` and types, so a Node CDK app can use it
 * (`import { AphexPipelineResources } from "@aphex/aphex/cdk"`); the Aphex CLI never loads it.
 * Read a config file with `loadPipelineConfig` from `cdk/config_file.ts`.
 *
 * The permission table {@linkcode PIPELINE_API_GRANTS} lists every AWS API call the pipeline's
 * stages make with the pipeline's own identity and the IAM actions it needs; the construct grants
 * exactly those, and a test derives the calls from the stage source and checks the two are equal.
 * @module
 */
import {
  Aws,
  CfnJson,
  CfnOutput,
  DefaultStackSynthesizer,
  Duration,
  RemovalPolicy,
  Stack,
  Token,
} from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as cloudwatchActions from "aws-cdk-lib/aws-cloudwatch-actions";
import * as eks from "aws-cdk-lib/aws-eks";
import * as iam from "aws-cdk-lib/aws-iam";
import * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as sns from "aws-cdk-lib/aws-sns";
import { Construct } from "constructs";
import type { AphexConfig } from "../models/config.ts";

/** CloudWatch namespace of the metrics `aphex report` sends (the stages' `METRIC_NAMESPACE`). */
export const APHEX_METRIC_NAMESPACE = "AphexPipeline";

/**
 * What an API call's permission is scoped to: the artifact bucket (`bucket`) or its objects
 * (`objects`), the roles to assume, the configured stacks, the CDK bootstrap version parameters,
 * the Aphex metric namespace, the log group, the topic, or nothing (`none`: no IAM permission).
 */
export type GrantScope =
  | "bucket"
  | "objects"
  | "assumeRoles"
  | "stacks"
  | "bootstrapParameter"
  | "metricNamespace"
  | "logGroup"
  | "topic"
  | "none";

/** The IAM permission one AWS API call needs. */
export interface ApiGrant {
  /** IAM actions (empty when the call needs none). */
  actions: readonly string[];
  /** What the actions are granted on. */
  scope: GrantScope;
}

/**
 * Every AWS API call the stages make with the pipeline's own identity (`<SDK client>.<operation>`,
 * e.g. `S3.GetObject`), with the IAM actions it needs. Calls made with an assumed role's
 * credentials (another account) need the assumed role's permissions, not these; granting them
 * here too keeps the same-account case working.
 *
 * - S3: the artifact store (`adapters/store/s3_store.ts`); uploads go through `@aws-sdk/lib-storage`
 *   (`PutObject`, or multipart: create/upload part/complete/abort — all `s3:PutObject` except abort).
 * - STS: `AssumeRole` for cross-account deploys; `GetCallerIdentity` needs no permission.
 * - CloudFormation: stack state, outputs, failure events, and deleting a `ROLLBACK_COMPLETE` stack
 *   (`aphex deploy --recreate-failed`).
 * - SSM: the CDK bootstrap version (`aphex preflight`).
 * - CloudWatch, Logs, SNS: `aphex report`.
 */
export const PIPELINE_API_GRANTS: Readonly<Record<string, ApiGrant>> = {
  "S3.GetObject": { actions: ["s3:GetObject"], scope: "objects" },
  "S3.HeadObject": { actions: ["s3:GetObject"], scope: "objects" },
  "S3.PutObject": { actions: ["s3:PutObject"], scope: "objects" },
  "S3.CreateMultipartUpload": { actions: ["s3:PutObject"], scope: "objects" },
  "S3.UploadPart": { actions: ["s3:PutObject"], scope: "objects" },
  "S3.CompleteMultipartUpload": { actions: ["s3:PutObject"], scope: "objects" },
  "S3.AbortMultipartUpload": { actions: ["s3:AbortMultipartUpload"], scope: "objects" },
  "S3.DeleteObject": { actions: ["s3:DeleteObject"], scope: "objects" },
  "S3.ListObjectsV2": { actions: ["s3:ListBucket"], scope: "bucket" },
  "STS.AssumeRole": { actions: ["sts:AssumeRole"], scope: "assumeRoles" },
  "STS.GetCallerIdentity": { actions: [], scope: "none" },
  "CloudFormation.DescribeStacks": { actions: ["cloudformation:DescribeStacks"], scope: "stacks" },
  "CloudFormation.DescribeStackEvents": {
    actions: ["cloudformation:DescribeStackEvents"],
    scope: "stacks",
  },
  "CloudFormation.DeleteStack": { actions: ["cloudformation:DeleteStack"], scope: "stacks" },
  // The plan step reads the deployed template and the change sets the CDK CLI prepared and
  // deletes empty ones; the deploy step executes exactly the reviewed ones (issue 14).
  "CloudFormation.GetTemplate": { actions: ["cloudformation:GetTemplate"], scope: "stacks" },
  "CloudFormation.DescribeChangeSet": {
    actions: ["cloudformation:DescribeChangeSet"],
    scope: "stacks",
  },
  "CloudFormation.DeleteChangeSet": {
    actions: ["cloudformation:DeleteChangeSet"],
    scope: "stacks",
  },
  "CloudFormation.ExecuteChangeSet": {
    actions: ["cloudformation:ExecuteChangeSet"],
    scope: "stacks",
  },
  "SSM.GetParameter": { actions: ["ssm:GetParameter"], scope: "bootstrapParameter" },
  "CloudWatch.PutMetricData": { actions: ["cloudwatch:PutMetricData"], scope: "metricNamespace" },
  "CloudWatchLogs.CreateLogGroup": { actions: ["logs:CreateLogGroup"], scope: "logGroup" },
  "CloudWatchLogs.CreateLogStream": { actions: ["logs:CreateLogStream"], scope: "logGroup" },
  "CloudWatchLogs.PutLogEvents": { actions: ["logs:PutLogEvents"], scope: "logGroup" },
  "SNS.Publish": { actions: ["sns:Publish"], scope: "topic" },
};

/**
 * The CDK bootstrap roles the pipeline's identity assumes in an account/region it deploys to
 * without a configured `role`: Aphex assumes the deploy role itself (another account), and the
 * CDK CLI it runs assumes the four roles of the modern bootstrap (deploy, asset publishing,
 * context lookups). Everything the CLI then does happens under those roles' own policies.
 * The names follow `DefaultStackSynthesizer`'s defaults, with the configured qualifier.
 */
export const CDK_BOOTSTRAP_ROLE_TEMPLATES: readonly string[] = [
  DefaultStackSynthesizer.DEFAULT_DEPLOY_ROLE_ARN,
  DefaultStackSynthesizer.DEFAULT_FILE_ASSET_PUBLISHING_ROLE_ARN,
  DefaultStackSynthesizer.DEFAULT_IMAGE_ASSET_PUBLISHING_ROLE_ARN,
  DefaultStackSynthesizer.DEFAULT_LOOKUP_ROLE_ARN,
];

/**
 * AWS partition of a region: `aws-cn` for `cn-*`, `aws-us-gov` for `us-gov-*`, else `aws`
 * (the deploying stack's partition when the region is not known at synth time).
 */
function partitionOf(region: string): string {
  if (Token.isUnresolved(region)) return Aws.PARTITION;
  if (region.startsWith("cn-")) return "aws-cn";
  if (region.startsWith("us-gov-")) return "aws-us-gov";
  return "aws";
}

/** ARNs of the CDK bootstrap roles of one account/region with `qualifier`. */
export function cdkBootstrapRoleArns(
  account: string,
  region: string,
  options: { qualifier: string },
): string[] {
  return CDK_BOOTSTRAP_ROLE_TEMPLATES.map((t) =>
    t.replaceAll("${AWS::Partition}", partitionOf(region))
      .replaceAll("${AWS::AccountId}", account)
      .replaceAll("${AWS::Region}", region)
      .replaceAll("${Qualifier}", options.qualifier)
  );
}

/** Which resources the config names that already exist (imported instead of created). */
export interface ExistingResources {
  /** `pipeline.artifactBucket` exists: import it (its settings stay the owner's). */
  bucket?: boolean;
  /** `pipeline.notifications.snsTopicArn` exists: import it. */
  topic?: boolean;
  /** `pipeline.logGroup` exists: import it. */
  logGroup?: boolean;
}

/** Properties of {@linkcode AphexPipelineResources}. */
export interface AphexPipelineResourcesProps {
  /** The parsed configuration (`loadPipelineConfig(path)` reads `aphex-config.yaml`). */
  config: AphexConfig;
  /** OIDC provider of the existing EKS cluster the pipeline runs on (IRSA trust). */
  oidcProvider: iam.IOpenIdConnectProvider;
  /** Config resources that already exist and are imported, not created (default: none). */
  existing?: ExistingResources;
  /** Noncurrent object versions in a created bucket expire after this (default 30 days). */
  noncurrentVersionExpiration?: Duration;
  /** Retention of a created log group (default three months). */
  logRetention?: logs.RetentionDays;
  /** Removal policy of the created bucket, topic and log group (default RETAIN). */
  removalPolicy?: RemovalPolicy;
  /** Alarm when an environment's deployment fails (default true). */
  alarms?: boolean;
  /** Dashboard of the metrics `aphex report` sends (default true). */
  dashboard?: boolean;
  /**
   * The cluster to apply {@linkcode AphexPipelineResourcesProps.manifests} to (needs a kubectl
   * role, e.g. `eks.Cluster.fromClusterAttributes({ kubectlRoleArn, ... })`).
   */
  cluster?: eks.ICluster;
  /**
   * Kubernetes objects to apply to `cluster`, e.g. what `aphex generate` writes (RBAC included;
   * `loadPipelineConfig` returns them). Applied by the cluster's kubectl role, not the pipeline.
   */
  manifests?: Record<string, unknown>[];
}

/**
 * The pipeline's AWS resources, from its configuration.
 *
 * @example
 * ```ts
 * const { config, manifests } = await loadPipelineConfig("aphex-config.yaml");
 * const provider = iam.OpenIdConnectProvider.fromOpenIdConnectProviderArn(stack, "Oidc", arn);
 * new AphexPipelineResources(stack, "Aphex", { config, oidcProvider: provider });
 * ```
 */
export class AphexPipelineResources extends Construct {
  /** The artifact bucket (created or imported). */
  readonly bucket: s3.IBucket;
  /** The IRSA role of the pipeline's service account. */
  readonly role: iam.Role;
  /** The notification topic, when the config names one. */
  readonly topic?: sns.ITopic;
  /** The log group of run records. */
  readonly logGroup: logs.ILogGroup;
  /** Failed-deployment alarms, one per environment. */
  readonly alarms: cloudwatch.Alarm[] = [];
  /** The dashboard, unless disabled. */
  readonly dashboard?: cloudwatch.Dashboard;
  /** ARNs of the roles the pipeline may assume. */
  readonly assumableRoleArns: string[];

  constructor(scope: Construct, id: string, props: AphexPipelineResourcesProps) {
    super(scope, id);
    const { config } = props;
    const p = config.pipeline;
    const stack = Stack.of(this);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    // Artifact bucket: encrypted (SSE-S3: no KMS grants needed), versioned, private, TLS only.
    if (props.existing?.bucket) {
      if (!p.artifactBucket) throw new Error("existing.bucket needs pipeline.artifactBucket");
      this.bucket = s3.Bucket.fromBucketName(this, "ArtifactBucket", p.artifactBucket);
    } else {
      this.bucket = new s3.Bucket(this, "ArtifactBucket", {
        ...(p.artifactBucket ? { bucketName: p.artifactBucket } : {}),
        encryption: s3.BucketEncryption.S3_MANAGED,
        versioned: true,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        enforceSSL: true,
        objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        lifecycleRules: [{
          id: "expire-noncurrent-versions",
          noncurrentVersionExpiration: props.noncurrentVersionExpiration ?? Duration.days(30),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        }],
        removalPolicy,
      });
    }

    // Topic: only when the config names one (the report stage publishes only then).
    const topicArn = p.notifications.snsTopicArn;
    if (topicArn) {
      this.topic = props.existing?.topic
        ? sns.Topic.fromTopicArn(this, "Topic", topicArn)
        : new sns.Topic(this, "Topic", { topicName: topicArn.split(":").pop()! });
      if (this.topic instanceof sns.Topic) this.topic.applyRemovalPolicy(removalPolicy);
    }

    // Log group of run records.
    this.logGroup = props.existing?.logGroup
      ? logs.LogGroup.fromLogGroupName(this, "LogGroup", p.logGroup)
      : new logs.LogGroup(this, "LogGroup", {
        logGroupName: p.logGroup,
        retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
        removalPolicy,
      });

    // IRSA role: trusted by the cluster's OIDC provider for exactly one service account.
    // The issuer is read from a literal provider ARN, so the trust policy stays plain JSON; a
    // token ARN needs CfnJson (condition keys cannot hold tokens).
    const providerArn = props.oidcProvider.openIdConnectProviderArn;
    const issuer = Token.isUnresolved(providerArn)
      ? props.oidcProvider.openIdConnectProviderIssuer
      : providerArn.slice(providerArn.indexOf(":oidc-provider/") + ":oidc-provider/".length);
    const trust = {
      [`${issuer}:sub`]: `system:serviceaccount:${p.namespace}:${p.serviceAccount}`,
      [`${issuer}:aud`]: "sts.amazonaws.com",
    };
    const roleName = p.roleArn ? p.roleArn.split("/").pop() : undefined;
    this.role = new iam.Role(this, "Role", {
      ...(roleName ? { roleName } : {}),
      description: `Aphex pipeline ${p.name}: service account ${p.namespace}/${p.serviceAccount}`,
      assumedBy: new iam.OpenIdConnectPrincipal(props.oidcProvider).withConditions({
        StringEquals: Token.isUnresolved(issuer)
          ? new CfnJson(this, "TrustCondition", { value: trust })
          : trust,
      }),
      maxSessionDuration: Duration.hours(1),
    });

    this.assumableRoleArns = assumableRoles(config, {
      account: stack.account,
      region: stack.region,
    });
    this.#grant(props, stack);

    if (props.alarms ?? true) {
      for (const env of config.environments) {
        const alarm = new cloudwatch.Alarm(this, `DeploymentFailed-${env.name}`, {
          alarmName: `${p.name}-${env.name}-deployment-failed`,
          alarmDescription: `A deployment of ${env.name} (pipeline ${p.name}) failed`,
          metric: deploymentCount(env.name, "Failed"),
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        });
        if (this.topic) alarm.addAlarmAction(new cloudwatchActions.SnsAction(this.topic));
        this.alarms.push(alarm);
      }
    }

    if (props.dashboard ?? true) {
      const envs = config.environments.map((e) => e.name);
      this.dashboard = new cloudwatch.Dashboard(this, "Dashboard", {
        dashboardName: `${p.name}-aphex`.replace(/[^\w-]/g, "-"),
        widgets: [[
          new cloudwatch.GraphWidget({
            title: "Deployments failed",
            left: envs.map((e) => deploymentCount(e, "Failed", { label: true })),
            width: 12,
          }),
          new cloudwatch.GraphWidget({
            title: "Deployments succeeded",
            left: envs.map((e) => deploymentCount(e, "Succeeded", { label: true })),
            width: 12,
          }),
        ], [
          new cloudwatch.GraphWidget({
            title: "Deployment duration (s)",
            left: envs.map((e) =>
              new cloudwatch.Metric({
                namespace: APHEX_METRIC_NAMESPACE,
                metricName: "DeploymentDuration",
                dimensionsMap: { Environment: e, Status: "Succeeded" },
                statistic: "Average",
                label: e,
              })
            ),
            width: 12,
          }),
          new cloudwatch.GraphWidget({
            title: "Workflow duration (s)",
            left: ["Succeeded", "Failed"].map((s) =>
              new cloudwatch.Metric({
                namespace: APHEX_METRIC_NAMESPACE,
                metricName: "WorkflowDuration",
                dimensionsMap: { Status: s },
                statistic: "Average",
                label: s,
              })
            ),
            width: 12,
          }),
        ]],
      });
    }

    if (props.manifests && props.manifests.length > 0) {
      if (!props.cluster) throw new Error("manifests need the cluster to apply them to");
      new eks.KubernetesManifest(this, "Manifests", {
        cluster: props.cluster,
        manifest: props.manifests,
        overwrite: true,
      });
    }

    new CfnOutput(this, "ArtifactBucketName", {
      value: this.bucket.bucketName,
      description: "pipeline.artifactBucket",
    });
    new CfnOutput(this, "RoleArn", { value: this.role.roleArn, description: "pipeline.roleArn" });
    if (this.topic) {
      new CfnOutput(this, "TopicArn", {
        value: this.topic.topicArn,
        description: "pipeline.notifications.snsTopicArn",
      });
    }
  }

  /** The role's policy, one statement per scope of {@linkcode PIPELINE_API_GRANTS}. */
  #grant(props: AphexPipelineResourcesProps, stack: Stack): void {
    const { config } = props;
    const p = config.pipeline;
    const actionsOf = (scope: GrantScope) =>
      [
        ...new Set(
          Object.values(PIPELINE_API_GRANTS).filter((g) => g.scope === scope)
            .flatMap((g) => g.actions),
        ),
      ].sort();
    const add = (sid: string, scope: GrantScope, resources: string[], extra = {}) => {
      if (resources.length === 0) return;
      this.role.addToPolicy(
        new iam.PolicyStatement({
          sid,
          actions: actionsOf(scope),
          resources: [...new Set(resources)],
          ...extra,
        }),
      );
    };
    add("ArtifactObjects", "objects", [this.bucket.arnForObjects("*")]);
    add("ArtifactBucket", "bucket", [this.bucket.bucketArn]);
    add("AssumeDeployRoles", "assumeRoles", this.assumableRoleArns);
    add(
      "StackReads",
      "stacks",
      config.environments.flatMap((e) =>
        e.stacks.map((s) =>
          `arn:${partitionOf(e.region)}:cloudformation:${e.region}:${e.account}:stack/${s.name}/*`
        )
      ),
    );
    add(
      "BootstrapVersion",
      "bootstrapParameter",
      config.environments.map((e) =>
        `arn:${
          partitionOf(e.region)
        }:ssm:${e.region}:${e.account}:parameter/cdk-bootstrap/${p.cdkQualifier}/version`
      ),
    );
    // PutMetricData has no resource-level permissions: the namespace condition limits it.
    add("Metrics", "metricNamespace", ["*"], {
      conditions: { StringEquals: { "cloudwatch:namespace": APHEX_METRIC_NAMESPACE } },
    });
    const group =
      `arn:${Aws.PARTITION}:logs:${stack.region}:${stack.account}:log-group:${p.logGroup}`;
    add("RunRecords", "logGroup", [group, `${group}:log-stream:*`]);
    if (this.topic) add("Notifications", "topic", [this.topic.topicArn]);
  }
}

/** DeploymentCount of one environment and status (the per-environment series). */
function deploymentCount(
  environment: string,
  status: string,
  options: { label?: boolean } = {},
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: APHEX_METRIC_NAMESPACE,
    metricName: "DeploymentCount",
    dimensionsMap: { Environment: environment, Status: status },
    statistic: "Sum",
    period: Duration.minutes(5),
    ...(options.label ? { label: environment } : {}),
  });
}

/**
 * The roles the pipeline's identity may assume: each environment's configured `role`, else the
 * CDK bootstrap roles of its account/region; plus the bootstrap roles of the pipeline's own
 * account/region when `pipeline.pipelineStack` is deployed by `aphex pipeline-update`.
 */
export function assumableRoles(
  config: AphexConfig,
  own: { account: string; region: string },
): string[] {
  const qualifier = config.pipeline.cdkQualifier;
  const roles: string[] = [];
  for (const env of config.environments) {
    if (env.role) roles.push(env.role);
    else roles.push(...cdkBootstrapRoleArns(env.account, env.region, { qualifier }));
  }
  if (config.pipeline.pipelineStack) {
    roles.push(...cdkBootstrapRoleArns(own.account, own.region, { qualifier }));
  }
  return [...new Set(roles)];
}
