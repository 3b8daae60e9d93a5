/**
 * The CloudFormation client of one environment: regional, the SDK's default credential chain
 * unless the stage assumed credentials for the environment's account.
 * @module
 */
import {
  CloudFormationClient,
  type CloudFormationClientConfig,
} from "@aws-sdk/client-cloudformation";
import type { AwsCredentials } from "../aws/credentials.ts";

/** Creates the CloudFormation client of the environment (injected in tests). */
export type CloudFormationFactory = (
  config: { region: string; credentials?: AwsCredentials },
) => CloudFormationClient;

/** The default CloudFormation client: regional, default chain unless credentials are given. */
export const createCloudFormationClient: CloudFormationFactory = ({ region, credentials }) => {
  const config: CloudFormationClientConfig = { region, maxAttempts: 2 };
  if (credentials) config.credentials = credentials;
  return new CloudFormationClient(config);
};
