/**
 * JSON codecs of the configuration models (spec: AphexConfig, BuildConfig, EnvironmentConfig,
 * StackConfig, TestConfig), like every other model's: a parsed configuration (defaults applied,
 * e.g. empty hook lists) encodes to JSON and decodes back to an equal value. Optional settings
 * that are unset are omitted. Decoding checks the shape (types, required and unknown fields); the
 * configuration rules (account format, DNS labels, …) belong to `parseConfig` on the YAML.
 *
 * No I/O happens in this module.
 * @module
 */
import {
  array,
  boolean,
  type Codec,
  integer,
  literal,
  object,
  optional,
  string,
} from "./_codec.ts";
import type {
  AphexConfig,
  BuildConfig,
  DeployConfig,
  EnvironmentConfig,
  GitHubConfig,
  HooksConfig,
  NotificationsConfig,
  PipelineConfig,
  PullRequestsConfig,
  ReviewConfig,
  RollbackConfig,
  SecretRef,
  StackConfig,
  TestConfig,
  WebhookConfig,
} from "./config.ts";

/** JSON codec of {@linkcode SecretRef}. */
export const SecretRefCodec: Codec<SecretRef> = object<SecretRef>({ name: string, key: string });

/** JSON codec of {@linkcode StackConfig}. */
export const StackConfigCodec: Codec<StackConfig> = object<StackConfig>({
  name: string,
  path: string,
});

/** JSON codec of {@linkcode BuildConfig}. */
export const BuildConfigCodec: Codec<BuildConfig> = object<BuildConfig>({
  commands: array(string),
  artifacts: string,
});

/** JSON codec of {@linkcode TestConfig}. */
export const TestConfigCodec: Codec<TestConfig> = object<TestConfig>({ commands: array(string) });

/** JSON codec of {@linkcode HooksConfig}. */
export const HooksConfigCodec: Codec<HooksConfig> = object<HooksConfig>({
  preDeploy: array(string),
  postDeploy: array(string),
});

/** JSON codec of {@linkcode EnvironmentConfig}. */
export const EnvironmentConfigCodec: Codec<EnvironmentConfig> = object<EnvironmentConfig>({
  name: string,
  region: string,
  account: string,
  stacks: array(StackConfigCodec),
  tests: optional(TestConfigCodec),
  role: optional(string),
  approval: boolean,
  hooks: HooksConfigCodec,
  wave: optional(string),
  approvalTimeout: string,
  requiredContext: optional(array(string)),
  review: optional(
    object<ReviewConfig>({
      approve: literal("never", "on-risk", "always"),
      risk: array(literal("iam-broadening", "replacement", "deletion")),
    }),
  ),
  rollback: optional(object<RollbackConfig>({ onTestFailure: boolean })),
});

const GitHubConfigCodec: Codec<GitHubConfig> = object<GitHubConfig>({
  owner: string,
  repo: string,
  branch: string,
  webhookSecret: SecretRefCodec,
  apiToken: optional(SecretRefCodec),
});

const WebhookConfigCodec: Codec<WebhookConfig> = object<WebhookConfig>({
  url: string,
  port: integer,
  endpoint: string,
});

const PullRequestsConfigCodec: Codec<PullRequestsConfig> = object<PullRequestsConfig>({
  enabled: boolean,
  allowForks: boolean,
});

const NotificationsConfigCodec: Codec<NotificationsConfig> = object<NotificationsConfig>({
  snsTopicArn: optional(string),
  slackWebhook: optional(SecretRefCodec),
  onSuccess: boolean,
});

/** JSON codec of {@linkcode PipelineConfig}. */
export const PipelineConfigCodec: Codec<PipelineConfig> = object<PipelineConfig>({
  name: string,
  namespace: string,
  eventsNamespace: string,
  image: string,
  serviceAccount: string,
  roleArn: optional(string),
  artifactBucket: optional(string),
  github: optional(GitHubConfigCodec),
  webhook: optional(WebhookConfigCodec),
  pipelineStack: optional(StackConfigCodec),
  pullRequests: PullRequestsConfigCodec,
  argoUrl: optional(string),
  notifications: NotificationsConfigCodec,
  logGroup: string,
  cdkQualifier: string,
  executionMode: literal("queued", "superseded"),
});

/** JSON codec of {@linkcode AphexConfig} (the configuration with defaults applied). */
export const AphexConfigCodec: Codec<AphexConfig> = object<AphexConfig>({
  version: string,
  pipeline: PipelineConfigCodec,
  build: BuildConfigCodec,
  deploy: object<DeployConfig>({ concurrency: integer }),
  environments: array(EnvironmentConfigCodec),
});
