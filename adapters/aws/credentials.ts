/**
 * Credentials for deploying one environment: who the pipeline is (`sts:GetCallerIdentity` on the
 * default AWS chain, IRSA web identity in the pod), and when that is another account, the
 * environment's `role` (or the CDK bootstrap deploy role) assumed with bounded, fast-failing STS
 * calls. The resulting account must be the configured one before anything is deployed.
 *
 * Credentials are returned as environment variables for child processes plus the list of secret
 * values for the log redactor; they never appear in an error message.
 * @module
 */
import { withDeadline } from "../retry.ts";
import {
  AssumeRoleCommand,
  GetCallerIdentityCommand,
  STSClient,
  type STSClientConfig,
} from "@aws-sdk/client-sts";
import { AphexError, describeError } from "../../models/errors.ts";

/** Default CDK bootstrap qualifier. */
export const DEFAULT_QUALIFIER = "hnb659fds";

/** Default bound of one STS call, retries included (ms). */
export const DEFAULT_STS_TIMEOUT_MS = 4000;

/** Attempts per STS call (the SDK's own retry, bounded so a failure is reported within seconds). */
export const STS_MAX_ATTEMPTS = 2;

/** Connection/request timeouts of the default STS client's HTTP handler (ms). */
export const STS_REQUEST_HANDLER = {
  connectionTimeout: 1500,
  requestTimeout: 1500,
  throwOnRequestTimeout: true,
} as const;

/** AWS partition of a region: `aws-cn` for `cn-*`, `aws-us-gov` for `us-gov-*`, else `aws`. */
export function partitionForRegion(region: string): string {
  if (region.startsWith("cn-")) return "aws-cn";
  if (region.startsWith("us-gov-")) return "aws-us-gov";
  return "aws";
}

/** ARN of the CDK bootstrap deploy role `cdk-<qualifier>-deploy-role-<account>-<region>`. */
export function bootstrapDeployRoleArn(
  account: string,
  region: string,
  options: { qualifier?: string } = {},
): string {
  const qualifier = options.qualifier ?? DEFAULT_QUALIFIER;
  return `arn:${
    partitionForRegion(region)
  }:iam::${account}:role/cdk-${qualifier}-deploy-role-${account}-${region}`;
}

/** The environment to deploy (a subset of `EnvironmentConfig`). */
export interface CredentialTarget {
  /** Environment name (used in messages and the role session name). */
  name: string;
  /** Configured account id. */
  account: string;
  /** Region. */
  region: string;
  /** Role to assume when the pipeline runs in another account. */
  role?: string;
}

/** Static credentials (the shape SDK v3 clients accept as `credentials`). */
export interface AwsCredentials {
  /** Access key id. */
  accessKeyId: string;
  /** Secret access key. */
  secretAccessKey: string;
  /** Session token. */
  sessionToken?: string;
  /** When they expire. */
  expiration?: Date;
}

/** Creates an STS client; injected in tests (default: {@linkcode createStsClient}). */
export type StsClientFactory = (
  config: { region: string; credentials?: AwsCredentials },
) => STSClient;

/**
 * The default STS client: regional endpoint, at most {@linkcode STS_MAX_ATTEMPTS} attempts and
 * short connection/request timeouts, so a broken identity fails within seconds.
 */
export const createStsClient: StsClientFactory = ({ region, credentials }) => {
  const config: STSClientConfig = {
    region,
    maxAttempts: STS_MAX_ATTEMPTS,
    requestHandler: { ...STS_REQUEST_HANDLER },
  };
  if (credentials) config.credentials = credentials;
  return new STSClient(config);
};

/** Options of {@linkcode resolveDeployCredentials}. */
export interface CredentialsOptions {
  /** CDK bootstrap qualifier for the default deploy role (default {@linkcode DEFAULT_QUALIFIER}). */
  qualifier?: string;
  /** STS client factory (default {@linkcode createStsClient}). */
  stsClient?: StsClientFactory;
  /** Bound of each STS call in ms (default {@linkcode DEFAULT_STS_TIMEOUT_MS}). */
  timeoutMs?: number;
  /** Role session name (default `aphex-<env>`). */
  sessionName?: string;
  /** Session duration in seconds (default 3600, the cap for chained roles). */
  durationSeconds?: number;
}

/** Credentials to deploy one environment. */
export interface DeployCredentials {
  /** Account the credentials act in (always the configured account). */
  account: string;
  /** ARN of the identity the pipeline started as. */
  callerArn: string;
  /** Account the pipeline started in. */
  callerAccount: string;
  /** Role assumed, when the caller's account differed. */
  assumedRole?: string;
  /** Assumed credentials for in-process SDK clients (absent: use the default chain). */
  credentials?: AwsCredentials;
  /**
   * Variables to add to child processes' environment: `AWS_REGION`, `AWS_DEFAULT_REGION` and,
   * when a role was assumed, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
   */
  env: Record<string, string>;
  /** Secret values to redact from every log line. */
  secrets: string[];
}

function describeStsError(error: unknown): string {
  return error instanceof StsTimeout ? error.message : describeError(error);
}

class StsTimeout extends Error {
  constructor(ms: number) {
    super(`no answer from STS within ${ms} ms`);
  }
}

/** Sends an STS command bounded by `timeoutMs` (the request is aborted on timeout). */
function sendBounded<T>(
  send: (abortSignal: AbortSignal) => Promise<T>,
  timeoutMs: number,
): Promise<T> {
  return withDeadline(send, timeoutMs, () => new StsTimeout(timeoutMs));
}

function redactor(secrets: string[]): (text: string) => string {
  return (text) => secrets.reduce((t, s) => (s ? t.split(s).join("***") : t), text);
}

function sessionNameFor(target: CredentialTarget, given?: string): string {
  return (given ?? `aphex-${target.name}`).replace(/[^\w+=,.@-]/g, "-").slice(0, 64);
}

/**
 * Resolves the credentials to deploy `target`: GetCallerIdentity on the default chain; when the
 * caller's account differs from `target.account`, assumes `target.role` or the CDK bootstrap deploy
 * role and checks the resulting account.
 *
 * @throws {AphexError} exit 1 when the identity cannot be read, the role cannot be assumed (naming
 * account and role), or the resulting account is not the configured one. Never contains
 * credentials.
 */
export async function resolveDeployCredentials(
  target: CredentialTarget,
  options: CredentialsOptions = {},
): Promise<DeployCredentials> {
  const factory = options.stsClient ?? createStsClient;
  const timeoutMs = options.timeoutMs ?? DEFAULT_STS_TIMEOUT_MS;
  const where = `environment "${target.name}" (account ${target.account}, ${target.region})`;
  const regionEnv = { AWS_REGION: target.region, AWS_DEFAULT_REGION: target.region };

  const base = factory({ region: target.region });
  let caller;
  try {
    // The caller's identity (default chain).
    caller = await sendBounded(
      (abortSignal) => base.send(new GetCallerIdentityCommand({}), { abortSignal }),
      timeoutMs,
    );
  } catch (error) {
    base.destroy();
    throw new AphexError(
      `cannot determine the pipeline's AWS identity for ${where}: sts:GetCallerIdentity failed ` +
        `(${
          describeStsError(error)
        }); check the pod's service account (IRSA role) or AWS credentials`,
    );
  }
  const callerAccount = caller.Account ?? "";
  const callerArn = caller.Arn ?? "";
  if (callerAccount === target.account) {
    base.destroy();
    return { account: callerAccount, callerAccount, callerArn, env: regionEnv, secrets: [] };
  }

  const roleArn = target.role ??
    bootstrapDeployRoleArn(target.account, target.region, { qualifier: options.qualifier });
  let credentials: AwsCredentials;
  let secrets: string[] = [];
  try {
    const out = await sendBounded(
      (abortSignal) =>
        base.send(
          new AssumeRoleCommand({
            RoleArn: roleArn,
            RoleSessionName: sessionNameFor(target, options.sessionName),
            DurationSeconds: options.durationSeconds ?? 3600,
          }),
          { abortSignal },
        ),
      timeoutMs,
    );
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error("STS returned no credentials");
    credentials = { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey };
    if (c.SessionToken) credentials.sessionToken = c.SessionToken;
    if (c.Expiration) credentials.expiration = c.Expiration;
    secrets = [c.SecretAccessKey, c.SessionToken ?? "", c.AccessKeyId].filter((s) => s.length > 0);
  } catch (error) {
    throw new AphexError(
      `cannot assume role ${roleArn} in account ${target.account} for ${where} from ${
        callerArn || `account ${callerAccount}`
      }: ${redactor(secrets)(describeStsError(error))}. The role must exist and trust the ` +
        `pipeline's identity${
          target.role ? "" : " (is the account CDK-bootstrapped with this qualifier?)"
        }`,
    );
  } finally {
    base.destroy();
  }

  const redact = redactor(secrets);
  const assumed = factory({ region: target.region, credentials });
  let identity;
  try {
    identity = await sendBounded(
      (abortSignal) => assumed.send(new GetCallerIdentityCommand({}), { abortSignal }),
      timeoutMs,
    );
  } catch (error) {
    throw new AphexError(
      redact(
        `assumed role ${roleArn} for ${where} but sts:GetCallerIdentity with it failed ` +
          `(${describeStsError(error)})`,
      ),
    );
  } finally {
    assumed.destroy();
  }
  if (identity.Account !== target.account) {
    throw new AphexError(
      redact(
        `assumed role ${roleArn} for ${where}, but it acts in account ${
          identity.Account ?? "(unknown)"
        }, not the configured account ${target.account}; nothing was deployed`,
      ),
    );
  }
  const env: Record<string, string> = {
    ...regionEnv,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
  };
  if (credentials.sessionToken) env.AWS_SESSION_TOKEN = credentials.sessionToken;
  return {
    account: target.account,
    callerAccount,
    callerArn,
    assumedRole: roleArn,
    credentials,
    env,
    secrets,
  };
}
