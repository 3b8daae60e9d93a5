/** Synthesizes a pipeline stack with {@linkcode AphexPipelineResources} for the example config. */
import { App, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import * as eks from "aws-cdk-lib/aws-eks";
import * as iam from "aws-cdk-lib/aws-iam";
import { loadPipelineConfig } from "../../cdk/config_file.ts";
import {
  AphexPipelineResources,
  type AphexPipelineResourcesProps,
} from "../../cdk/pipeline_resources.ts";
import type { AphexConfig } from "../../models/config.ts";

export const ROOT = new URL("../..", import.meta.url).pathname;
export const OIDC_ARN =
  "arn:aws:iam::111111111111:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";
export const ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";

/** One synthesized pipeline stack. */
export interface Synth {
  app: App;
  stack: Stack;
  resources: AphexPipelineResources;
  template: Template;
  config: AphexConfig;
  manifests: Record<string, unknown>[];
}

/** Synthesizes `WebshopPipeline` (account 111111111111, us-east-1) for `aphex-config.yaml`. */
export async function synthExample(
  props: Partial<AphexPipelineResourcesProps> & { withCluster?: boolean } = {},
): Promise<Synth> {
  const { config, manifests } = await loadPipelineConfig(`${ROOT}aphex-config.yaml`);
  const app = new App();
  const stack = new Stack(app, "WebshopPipeline", {
    env: { account: "111111111111", region: "us-east-1" },
  });
  const oidcProvider = iam.OpenIdConnectProvider.fromOpenIdConnectProviderArn(
    stack,
    "Oidc",
    OIDC_ARN,
  );
  const { withCluster, ...rest } = props;
  const cluster = withCluster
    ? eks.Cluster.fromClusterAttributes(stack, "Cluster", {
      clusterName: "webshop",
      kubectlRoleArn: "arn:aws:iam::111111111111:role/webshop-kubectl",
    })
    : undefined;
  const resources = new AphexPipelineResources(stack, "Aphex", {
    config: props.config ?? config,
    oidcProvider,
    ...(cluster ? { cluster, manifests } : {}),
    ...rest,
  });
  return {
    app,
    stack,
    resources,
    template: Template.fromStack(stack),
    config: props.config ?? config,
    manifests,
  };
}

/** The pipeline role's policy statements (the one AWS::IAM::Policy attached to it). */
export function policyStatements(template: Template): Record<string, unknown>[] {
  const policies = Object.values(template.findResources("AWS::IAM::Policy")).filter((p) =>
    JSON.stringify(p.Properties.Roles).includes("AphexRole")
  );
  if (policies.length !== 1) throw new Error(`${policies.length} policies on the role`);
  return policies[0]!.Properties.PolicyDocument.Statement;
}
