/**
 * The files `aphex init` writes, as text: the commented `aphex-config.yaml` (which validates as
 * written) and, with `--pipeline-stack`, the pipeline's own CDK app (a stack file using
 * `AphexPipelineResources` from `aphex/cdk`, and its `cdk.json`). Pure: what goes in them
 * (environments, the CDK app's stacks, file paths) is found by `cli/init.ts`. No I/O happens in
 * this module.
 * @module
 */
import { join } from "node:path";

/** The published JSON schema of `aphex-config.yaml` (editors validate against it). */
export const SCHEMA_URL = "https://aphex.dev/schema/aphex-config.schema.json";

/** One environment of `--env name:region:account`. */
export interface InitEnvironment {
  /** Environment name. */
  name: string;
  /** AWS region. */
  region: string;
  /** AWS account id (12 digits). */
  account: string;
}

/** A stack of the CDK app, as the configuration lists it (a synthesized assembly stack fits). */
export interface InitStack {
  /** CloudFormation stack name. */
  stackName: string;
  /** CloudFormation stack names this stack depends on. */
  dependencies: readonly string[];
}

/** What {@linkcode renderInitConfig} writes. */
export interface InitPlan {
  /** Environments (in order). */
  environments: InitEnvironment[];
  /** Whether the environments are the example (no `--env` given). */
  example: boolean;
  /** Stacks in dependency order. */
  stacks: InitStack[];
  /** File the stacks are defined in, relative to the repository root. */
  stackPath: string;
  /** CDK app directory relative to the repository root (`.` for the root). */
  appDir: string;
  /** `pipeline.pipelineStack` to set (`--pipeline-stack`). */
  pipelineStack?: { name: string; path: string };
}

/** Stack name of the pipeline stack `aphex init --pipeline-stack` writes. */
export const PIPELINE_STACK_NAME = "AphexPipeline";

/** Default file of `--pipeline-stack`, inside the CDK app's folder (its node_modules resolve). */
export function defaultPipelineStackFile(appDir: string): string {
  return join(appDir === "." ? "" : appDir, "pipeline", "pipeline-stack.ts");
}

/**
 * The pipeline stack file of `aphex init --pipeline-stack` (pure): its own CDK app (the folder
 * gets a `cdk.json` running it with tsx) that reads `aphex-config.yaml` with `loadPipelineConfig`
 * and creates `AphexPipelineResources` on the cluster's OIDC provider, from CDK context
 * `aphex:oidcProviderArn` or `APHEX_OIDC_PROVIDER_ARN`.
 *
 * @param workspace the repository root relative to the file's folder (e.g. `../..`)
 * @param configFile the configuration file relative to the repository root
 */
export function renderPipelineStack(workspace: string, configFile: string): string {
  return `// The pipeline's own AWS resources, written by \`aphex init --pipeline-stack\`: the artifact
// bucket, the IRSA role of the pipeline's service account (exactly the permissions the stages use),
// the notification topic, the log group, alarms and a dashboard, all from ${configFile}.
//
// This folder is its own CDK app (cdk.json runs this file with tsx); it needs aphex, aws-cdk-lib,
// constructs, tsx and aws-cdk installed in the CDK app's package (npm i -D aphex).
// Bootstrap: deploy it once from this folder, with the EKS cluster's IAM OIDC provider:
//   npx cdk deploy -c aphex:oidcProviderArn=arn:aws:iam::ACCOUNT:oidc-provider/oidc.eks.REGION.amazonaws.com/id/ID
// then put the outputs (bucket name, role ARN, topic ARN) into ${configFile}. Afterwards every
// pipeline run deploys it (\`pipeline.pipelineStack\`, \`aphex pipeline-update\`): keep the ARN in
// cdk.json's "context" (or set APHEX_OIDC_PROVIDER_ARN in the pipeline's environment).
import { resolve } from "node:path";
import { App, Stack } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import { AphexPipelineResources } from "aphex/cdk";
import { loadPipelineConfig } from "aphex/cdk/config";

// The repository root: APHEX_WORKSPACE when Aphex runs the app, else relative to this folder
// (cdk runs the app in the folder of its cdk.json).
const workspace = process.env.APHEX_WORKSPACE ?? resolve(${JSON.stringify(workspace)});

async function main(): Promise<void> {
  // Validated as \`aphex validate\` does; pass \`manifests\` and a \`cluster\` to the construct to
  // apply the generated Kubernetes objects too.
  const { config } = await loadPipelineConfig(resolve(workspace, ${JSON.stringify(configFile)}));
  const app = new App();
  const stack = new Stack(app, config.pipeline.pipelineStack?.name ?? ${
    JSON.stringify(PIPELINE_STACK_NAME)
  }, {
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
  const oidcProviderArn: unknown = stack.node.tryGetContext("aphex:oidcProviderArn") ??
    process.env.APHEX_OIDC_PROVIDER_ARN;
  if (typeof oidcProviderArn !== "string" || oidcProviderArn === "") {
    throw new Error(
      "set the EKS cluster's OIDC provider ARN: cdk -c aphex:oidcProviderArn=ARN, cdk.json " +
        "context, or APHEX_OIDC_PROVIDER_ARN",
    );
  }
  const oidcProvider = iam.OpenIdConnectProvider.fromOpenIdConnectProviderArn(
    stack,
    "ClusterOidc",
    oidcProviderArn,
  );
  new AphexPipelineResources(stack, "Aphex", { config, oidcProvider });
  app.synth();
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
`;
}

/** The `cdk.json` beside the pipeline stack file (pure). */
export function renderPipelineCdkJson(stackFile: string, oidcProviderArn?: string): string {
  const cdk: Record<string, unknown> = { app: `npx --no-install tsx ${stackFile}` };
  if (oidcProviderArn) cdk.context = { "aphex:oidcProviderArn": oidcProviderArn };
  return JSON.stringify(cdk, null, 2) + "\n";
}

/** Renders the commented configuration (pure). */
export function renderInitConfig(plan: InitPlan): string {
  const install = plan.appDir === "." ? "npm ci" : `npm ci --prefix ${plan.appDir}`;
  const lines = [
    `# yaml-language-server: $schema=${SCHEMA_URL}`,
    "# Aphex pipeline configuration, written by `aphex init`. Check it with `aphex validate`, then",
    "# `aphex generate` writes the Argo manifests into manifests/ (commit them) and `aphex apply`",
    "# installs them in the cluster once.",
    'version: "1.0"',
    "",
    "build:",
    "  # Shell commands run at the repository root on every push, in order.",
    "  commands:",
    `    - ${JSON.stringify(install)}`,
    "",
    "# Deployed in this order; each environment deploys its stacks in the order listed",
    "# (dependencies first). Stacks are matched by CloudFormation stack name.",
    "environments:",
  ];
  for (const env of plan.environments) {
    lines.push(
      `  - name: ${env.name}`,
      `    region: ${env.region}`,
      `    account: "${env.account}"${plan.example ? " # replace with your AWS account id" : ""}`,
      "    stacks:",
    );
    for (const s of plan.stacks) {
      const deps = s.dependencies.length > 0 ? ` # after ${s.dependencies.join(", ")}` : "";
      lines.push(
        `      - name: ${s.stackName}${deps}`,
        `        path: ${plan.stackPath}`,
      );
    }
  }
  if (plan.pipelineStack) {
    lines.push(
      "",
      "pipeline:",
      "  # The pipeline's own CDK stack (bucket, IRSA role, topic, log group; `aphex init",
      "  # --pipeline-stack`): deploy it once, then every run deploys it before updating the pipeline.",
      `  pipelineStack: { name: ${plan.pipelineStack.name}, path: ${plan.pipelineStack.path} }`,
    );
  }
  lines.push(
    "",
    "# pipeline: set the image, artifact bucket and GitHub repository before `aphex generate`",
    "# for a cluster (see README, Configuration reference).",
    "",
  );
  return lines.join("\n");
}
