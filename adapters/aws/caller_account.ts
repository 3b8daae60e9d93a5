/**
 * The AWS account the pipeline's own credentials belong to (`sts:GetCallerIdentity`), for
 * deployments into the pipeline's account when `CDK_DEFAULT_ACCOUNT` is not set. The SDK is
 * imported only when asked.
 * @module
 */
import { AphexError } from "../../models/errors.ts";

/**
 * The account of the default credential chain in `region`, from `sts:GetCallerIdentity`.
 *
 * @throws {AphexError} exit 1 when STS cannot be reached or names no account.
 */
export async function callerAccount(region: string): Promise<string> {
  const { createStsClient } = await import("./credentials.ts");
  const { GetCallerIdentityCommand } = await import("@aws-sdk/client-sts");
  const sts = createStsClient({ region });
  try {
    const account = (await sts.send(new GetCallerIdentityCommand({}))).Account;
    if (!account) throw new Error("no account in the answer");
    return account;
  } catch (e) {
    throw new AphexError(
      `cannot determine the pipeline's AWS account (sts:GetCallerIdentity; set CDK_DEFAULT_ACCOUNT ` +
        `to skip it): ${e instanceof Error ? e.message : e}`,
    );
  } finally {
    sts.destroy();
  }
}
