/**
 * Configuration models: the typed form of `aphex-config.yaml`.
 *
 * {@linkcode AphexConfig} is what the rest of Aphex consumes: every optional section is filled in
 * by {@linkcode applyDefaults}, the one place where defaults live. The raw (as-written) shape is
 * {@linkcode RawAphexConfig}; it is what the JSON schema describes.
 *
 * No I/O happens in this module.
 * @module
 */

import { DEFAULT_APPROVAL_TIMEOUT } from "./approval.ts";

/** Configuration format version understood by this release. */
export const CONFIG_VERSION = "1.0";

/** A reference to one key of a Kubernetes Secret in the pipeline namespace. */
export interface SecretRef {
  /** Secret name. */
  name: string;
  /** Key inside the secret. */
  key: string;
}

/** A CDK stack to deploy (spec: StackConfig). */
export interface StackConfig {
  /** CloudFormation stack name as the CDK app names it. */
  name: string;
  /** Path of the file that defines the stack, relative to the repository root. */
  path: string;
}

/** Build stage configuration (spec: BuildConfig). */
export interface BuildConfig {
  /** Shell commands run in order from the repository root; the first failure stops the build. */
  commands: string[];
  /** Directory (relative to the repository root) whose files are stored as build artifacts. */
  artifacts: string;
}

/** Post-deployment test configuration (spec: TestConfig). */
export interface TestConfig {
  /** Shell commands run after the environment's deployment. */
  commands: string[];
}

/** Commands run around an environment's deployment. */
export interface HooksConfig {
  /** Run before the first stack is deployed. */
  preDeploy: string[];
  /** Run after the last stack is deployed. */
  postDeploy: string[];
}

/** One deployment environment (spec: EnvironmentConfig). */
export interface EnvironmentConfig {
  /** Lowercase DNS label, unique within the config. */
  name: string;
  /** AWS region, e.g. `us-east-1`. */
  region: string;
  /** 12-digit AWS account id (always a string: leading zeros matter). */
  account: string;
  /** Stacks deployed in this order. */
  stacks: StackConfig[];
  /** Post-deployment tests, if any. */
  tests?: TestConfig;
  /** IAM role ARN assumed when the pipeline's own account differs from `account`. */
  role?: string;
  /** Whether a manual approval gate precedes the deployment. */
  approval: boolean;
  /** Commands around the deployment. */
  hooks: HooksConfig;
  // --- run order (issue 15) ---
  /**
   * Wave the environment deploys in: consecutive environments with the same wave deploy in
   * parallel, waves in order. Unset: a wave of its own (today's one-after-another order).
   */
  wave?: string;
  /** How long an approval gate waits before the run fails as "approval expired" (`24h`). */
  approvalTimeout: string;
  /**
   * CDK context keys that must be set (non-empty) in the environment's CDK apps (`cdk.json` or
   * `cdk.context.json`); preflight checks them before anything is built.
   */
  requiredContext?: string[];
  /** Review gate of the deployment plan (issue 14); see {@linkcode reviewPolicy} for the default. */
  review?: ReviewConfig;
  /** What happens when the environment's tests fail (default: nothing, the run fails). */
  rollback?: RollbackConfig;
}

/** Automatic rollback of an environment (`rollback:`). */
export interface RollbackConfig {
  /** Redeploy the last good version when the tests fail (then re-run them; the run still fails). */
  onTestFailure: boolean;
}

/** Risk kinds of a deployment plan the review gate can act on. */
export type ReviewRisk = "iam-broadening" | "replacement" | "deletion";

/** Review gate of an environment (`review:`). */
export interface ReviewConfig {
  /** When the run stops for approval of the plan: never, when it is risky, or always. */
  approve: "never" | "on-risk" | "always";
  /** Risk kinds that count for `on-risk`. */
  risk: ReviewRisk[];
}

/** GitHub repository that triggers the pipeline. */
export interface GitHubConfig {
  /** Repository owner (user or organisation). */
  owner: string;
  /** Repository name. */
  repo: string;
  /** Branch whose pushes deploy. */
  branch: string;
  /** Secret holding the webhook HMAC secret (required: unsigned webhooks are never accepted). */
  webhookSecret: SecretRef;
  /** Secret holding an API token (commit statuses, webhook registration), if any. */
  apiToken?: SecretRef;
}

/** Where GitHub delivers webhooks (the Argo Events EventSource's HTTP server). */
export interface WebhookConfig {
  /** Public base URL that GitHub calls, e.g. `https://aphex.example.com`. */
  url: string;
  /** Port of the EventSource's HTTP server inside the cluster. */
  port: number;
  /** HTTP path of the endpoint. */
  endpoint: string;
}

/** Pull-request validation runs. */
export interface PullRequestsConfig {
  /** Whether pull requests start validation-only runs. */
  enabled: boolean;
  /** Whether pull requests from forks start them too. */
  allowForks: boolean;
}

/** Where failures (and optionally successes) are announced. */
export interface NotificationsConfig {
  /** SNS topic ARN to publish to. */
  snsTopicArn?: string;
  /** Secret holding a Slack-compatible incoming-webhook URL. */
  slackWebhook?: SecretRef;
  /** Also notify on success (default: failures only). */
  onSuccess: boolean;
}

/** Settings of the pipeline itself (Argo objects, image, repository). */
export interface PipelineConfig {
  /** Pipeline name: prefix of every generated Kubernetes object. */
  name: string;
  /** Namespace of the WorkflowTemplate, Workflows and RBAC objects. */
  namespace: string;
  /** Namespace of the EventSource and Sensor. */
  eventsNamespace: string;
  /** Container image holding the `aphex` binary. */
  image: string;
  /** Service account the pipeline's pods run as (IRSA role annotation goes on it). */
  serviceAccount: string;
  /** IAM role the service account assumes through IRSA (`eks.amazonaws.com/role-arn`). */
  roleArn?: string;
  /** S3 bucket for artifacts and run records; unset means the local store. */
  artifactBucket?: string;
  /** Triggering repository; unset means no EventSource/Sensor is generated. */
  github?: GitHubConfig;
  /** Webhook endpoint; required when `github` is set. */
  webhook?: WebhookConfig;
  /** The pipeline's own CDK stack, deployed by the self-update stage. */
  pipelineStack?: StackConfig;
  /** Pull-request validation runs. */
  pullRequests: PullRequestsConfig;
  /** Base URL of the Argo Workflows UI, for links in notifications and commit statuses. */
  argoUrl?: string;
  /** Failure/success notifications. */
  notifications: NotificationsConfig;
  /** CloudWatch Logs group for run records. */
  logGroup: string;
  /** CDK bootstrap qualifier (bootstrap roles, `/cdk-bootstrap/<qualifier>/version`). */
  cdkQualifier: string;
  // --- run order (issue 15) ---
  /**
   * `queued`: every run deploys, one after another in creation order. `superseded`: a run stops
   * before an environment (and before each deploy) when a newer commit of the same branch has a
   * run waiting or running; it ends as superseded by that commit.
   */
  executionMode: ExecutionMode;
}

/** How runs of one pipeline relate: see {@linkcode PipelineConfig.executionMode}. */
export type ExecutionMode = "queued" | "superseded";

/** How each environment's stacks are deployed (issue 15). */
export interface DeployConfig {
  /**
   * Stacks deployed at once within an environment (default 1): a stack starts once every stack
   * it depends on (in the CDK app) has deployed; the first failure starts nothing new.
   */
  concurrency: number;
}

/** The whole configuration (spec: AphexConfig), with defaults applied. */
export interface AphexConfig {
  /** Always {@linkcode CONFIG_VERSION}. */
  version: string;
  /** Pipeline settings. */
  pipeline: PipelineConfig;
  /** Build stage. */
  build: BuildConfig;
  /** Stack deployment within an environment. */
  deploy: DeployConfig;
  /** Environments in deployment order. */
  environments: EnvironmentConfig[];
}

/** The configuration as written (schema-valid, optional sections possibly missing). */
export interface RawAphexConfig {
  /** Configuration format version (`"1.0"`). */
  version: string;
  /** Pipeline settings; defaults are applied by {@linkcode applyDefaults}. */
  pipeline?: Partial<Omit<PipelineConfig, "pullRequests" | "webhook" | "notifications">> & {
    pullRequests?: Partial<PullRequestsConfig>;
    notifications?: Partial<NotificationsConfig>;
    webhook?: Partial<WebhookConfig> & { url: string };
  };
  /** Build commands and the artifacts folder. */
  build: { commands: string[]; artifacts?: string };
  /** Stack deployment settings. */
  deploy?: Partial<DeployConfig>;
  /** Environments in deploy order, optional fields possibly missing. */
  environments: Array<
    Omit<EnvironmentConfig, "approval" | "hooks" | "approvalTimeout" | "review" | "rollback"> & {
      approval?: boolean;
      approvalTimeout?: string;
      rollback?: { onTestFailure?: boolean };
      review?: { approve: ReviewConfig["approve"]; risk?: ReviewRisk[] };
      hooks?: Partial<HooksConfig>;
    }
  >;
}

/** Defaults for every optional setting. README's configuration reference mirrors this object. */
export const DEFAULTS = {
  pipeline: {
    name: "aphex",
    namespace: "argo",
    eventsNamespace: "argo-events",
    image: "ghcr.io/aphex-dev/aphex:0.1.0",
    /** For the default name; in general `<pipeline.name>-pipeline`. */
    serviceAccount: "aphex-pipeline",
    pullRequests: { enabled: false, allowForks: false },
    webhook: { port: 12000, endpoint: "/github" },
    notifications: { onSuccess: false },
    logGroup: "/aws/eks/aphex-pipeline/workflows",
    cdkQualifier: "hnb659fds",
    executionMode: "queued" as ExecutionMode,
  },
  build: { artifacts: "artifacts" },
  deploy: { concurrency: 1 },
  environment: { approval: false, approvalTimeout: DEFAULT_APPROVAL_TIMEOUT },
} as const;

/**
 * Fills every optional setting of a schema-valid raw configuration with its default.
 *
 * @example
 * ```ts
 * const config = applyDefaults({ version: "1.0", build: { commands: ["make"] }, environments: [] });
 * config.pipeline.namespace; // "argo"
 * ```
 */
export function applyDefaults(raw: RawAphexConfig): AphexConfig {
  const p = raw.pipeline ?? {};
  const d = DEFAULTS.pipeline;
  const pipeline: PipelineConfig = {
    name: p.name ?? d.name,
    namespace: p.namespace ?? d.namespace,
    eventsNamespace: p.eventsNamespace ?? d.eventsNamespace,
    image: p.image ?? d.image,
    // Derived from the name (name boundary): two pipelines in one namespace never share one.
    serviceAccount: p.serviceAccount ?? `${p.name ?? d.name}-pipeline`,
    pullRequests: {
      enabled: p.pullRequests?.enabled ?? d.pullRequests.enabled,
      allowForks: p.pullRequests?.allowForks ?? d.pullRequests.allowForks,
    },
    notifications: { onSuccess: p.notifications?.onSuccess ?? d.notifications.onSuccess },
    logGroup: p.logGroup ?? d.logGroup,
    cdkQualifier: p.cdkQualifier ?? d.cdkQualifier,
    executionMode: p.executionMode ?? d.executionMode,
  };
  if (p.argoUrl !== undefined) pipeline.argoUrl = p.argoUrl;
  if (p.roleArn !== undefined) pipeline.roleArn = p.roleArn;
  if (p.notifications?.snsTopicArn !== undefined) {
    pipeline.notifications.snsTopicArn = p.notifications.snsTopicArn;
  }
  if (p.notifications?.slackWebhook !== undefined) {
    pipeline.notifications.slackWebhook = { ...p.notifications.slackWebhook };
  }
  if (p.artifactBucket !== undefined) pipeline.artifactBucket = p.artifactBucket;
  if (p.github !== undefined) pipeline.github = { ...p.github };
  if (p.webhook !== undefined) {
    pipeline.webhook = {
      url: p.webhook.url,
      port: p.webhook.port ?? d.webhook.port,
      endpoint: p.webhook.endpoint ?? d.webhook.endpoint,
    };
  }
  if (p.pipelineStack !== undefined) pipeline.pipelineStack = { ...p.pipelineStack };
  return {
    version: raw.version,
    pipeline,
    build: {
      commands: [...raw.build.commands],
      artifacts: raw.build.artifacts ?? DEFAULTS.build.artifacts,
    },
    deploy: { concurrency: raw.deploy?.concurrency ?? DEFAULTS.deploy.concurrency },
    environments: raw.environments.map((e) => {
      const env: EnvironmentConfig = {
        name: e.name,
        region: e.region,
        account: e.account,
        stacks: e.stacks.map((s) => ({ name: s.name, path: s.path })),
        approval: e.approval ?? DEFAULTS.environment.approval,
        approvalTimeout: e.approvalTimeout ?? DEFAULTS.environment.approvalTimeout,
        hooks: {
          preDeploy: [...e.hooks?.preDeploy ?? []],
          postDeploy: [...e.hooks?.postDeploy ?? []],
        },
      };
      if (e.tests !== undefined) env.tests = { commands: [...e.tests.commands] };
      if (e.role !== undefined) env.role = e.role;
      if (e.wave !== undefined) env.wave = e.wave;
      if (e.requiredContext !== undefined) env.requiredContext = [...e.requiredContext];
      if (e.review !== undefined) {
        env.review = reviewPolicy({ approval: env.approval, review: e.review as ReviewConfig });
      }
      if (e.rollback !== undefined) {
        env.rollback = { onTestFailure: e.rollback.onTestFailure ?? false };
      }
      return env;
    }),
  };
}

/**
 * The review gate of an environment: its `review:` when set (a missing `risk` means all three
 * kinds), else `on-risk` with every risk kind for an environment with `approval: true` and
 * `never` otherwise.
 */
export function reviewPolicy(env: Pick<EnvironmentConfig, "approval" | "review">): ReviewConfig {
  const all: ReviewRisk[] = ["iam-broadening", "replacement", "deletion"];
  if (env.review) return { approve: env.review.approve, risk: [...(env.review.risk ?? all)] };
  return env.approval ? { approve: "on-risk", risk: all } : { approve: "never", risk: all };
}

/** Finds an environment by name. */
export function findEnvironment(config: AphexConfig, name: string): EnvironmentConfig | undefined {
  return config.environments.find((e) => e.name === name);
}

/**
 * Environment variable through which pods receive the GitHub token (`pipeline.github.apiToken`,
 * mounted by the WorkflowTemplate from its Secret). Used for checkouts of private repositories and
 * commit statuses; never passed to user commands.
 */
export const GITHUB_TOKEN_ENV = "APHEX_GITHUB_TOKEN";
