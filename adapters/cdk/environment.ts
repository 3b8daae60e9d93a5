/**
 * The environment of hooks and the CDK CLI in a stage that acts on one environment's account
 * (deploy, plan, `run --local`): the stage's environment without the git token, with the assumed
 * credentials and the CDK/`APHEX_*` variables of the target.
 * @module
 */
import { GITHUB_TOKEN_ENV } from "../../models/config.ts";
import type { DeployCredentials } from "../aws/credentials.ts";
import { cdkEnvironment } from "./cli.ts";

/**
 * Environment of hooks and the CDK CLI: the stage's environment without the git token, the
 * credentials' variables, `CDK_DEFAULT_ACCOUNT`/`CDK_DEFAULT_REGION`/`AWS_REGION` and the
 * `APHEX_*` context of the run. With assumed credentials, `AWS_PROFILE` is dropped (it would make
 * the SDK ignore the credential variables).
 */
export function childEnvironment(
  base: Record<string, string | undefined>,
  target: { name: string; account: string; region: string },
  options: { credentials?: DeployCredentials; commitSha: string; workspace: string },
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
  // The checkout's token never reaches project code (hooks, the CDK app).
  delete env[GITHUB_TOKEN_ENV];
  if (options.credentials?.credentials) {
    delete env.AWS_PROFILE;
    delete env.AWS_SESSION_TOKEN;
  }
  return cdkEnvironment({ ...env, ...options.credentials?.env }, {
    account: target.account,
    region: target.region,
    environment: target.name,
    commitSha: options.commitSha,
    workspace: options.workspace,
  });
}
