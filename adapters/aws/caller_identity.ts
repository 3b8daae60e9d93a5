/**
 * `sts:GetCallerIdentity` of the default AWS credential chain: whether it works on this machine (a
 * laptop before `run --local` deploys), and the account the pipeline's own credentials belong to
 * (deployments into the pipeline's account when `CDK_DEFAULT_ACCOUNT` is not set). The SDK is
 * imported only when asked, so the commands that may not need AWS start without it.
 * @module
 */
import { AphexError, describeError, firstLine } from "../../models/errors.ts";
import type { StsClientFactory } from "./credentials.ts";

/** Whether the default AWS credential chain works, from a bounded `sts:GetCallerIdentity`. */
export type CredentialCheck =
  | { available: true; account: string; arn: string }
  | { available: false; reason: string };

/**
 * Bounded `sts:GetCallerIdentity` on the default credential chain: whether `cdk diff`, the AWS
 * checks of preflight and deployments can run. Never throws.
 */
export async function detectAwsCredentials(
  region: string,
  options: { stsClient?: StsClientFactory; timeoutMs?: number } = {},
): Promise<CredentialCheck> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let client;
  try {
    const [{ createStsClient, DEFAULT_STS_TIMEOUT_MS }, { GetCallerIdentityCommand }] =
      await Promise
        .all([import("./credentials.ts"), import("@aws-sdk/client-sts")]);
    const timeoutMs = options.timeoutMs ?? DEFAULT_STS_TIMEOUT_MS;
    client = (options.stsClient ?? createStsClient)({ region });
    const sts = client;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new Error(`no answer from STS within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    const out = await Promise.race([
      sts.send(new GetCallerIdentityCommand({}), { abortSignal: controller.signal }),
      timeout,
    ]);
    return { available: true, account: out.Account ?? "", arn: out.Arn ?? "" };
  } catch (e) {
    const name = (e as { name?: unknown })?.name;
    const message = firstLine(describeError(e));
    return {
      available: false,
      reason: typeof name === "string" && name !== "Error" ? `${name}: ${message}` : message,
    };
  } finally {
    clearTimeout(timer);
    client?.destroy();
  }
}

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
