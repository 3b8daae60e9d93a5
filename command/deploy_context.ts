/**
 * What the stages that act on one environment's AWS account share (deploy, plan, rollback): the
 * build's artifacts downloaded and verified, the environment of hooks and the CDK CLI, and the
 * CloudFormation client factory. Moved out of `stages/deploy.ts` (issue 14) so that the plan stage
 * uses them without importing another stage; `stages/deploy.ts` re-exports them.
 * @module
 */
import { resolve } from "node:path";
import {
  CloudFormationClient,
  type CloudFormationClientConfig,
} from "@aws-sdk/client-cloudformation";
import { AphexError, describeError } from "../models/errors.ts";
import {
  artifactKey,
  artifactPathOf,
  type ArtifactStore,
  metadataKey,
  readBuildMetadata,
} from "../adapters/store/artifacts.ts";
import { cdkEnvironment } from "../adapters/cdk/cli.ts";
import type { AwsCredentials, DeployCredentials } from "../adapters/aws/credentials.ts";
import { prepareDownloadTarget } from "../adapters/workspace/boundary.ts";
import { sha256Stream } from "../adapters/store/hash.ts";
import { GITHUB_TOKEN_ENV } from "./stage_runtime.ts";

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

/**
 * Downloads every artifact listed in `<sha>/metadata.json` into `destDir`, hashing while writing;
 * a file whose SHA-256 or size differs from the metadata is not kept. Returns the problems.
 *
 * @throws {AphexError} exit 1 "no complete build" when metadata.json is missing.
 */
export async function downloadArtifacts(
  store: ArtifactStore,
  commitSha: string,
  destDir: string,
  options: { concurrency?: number } = {},
): Promise<{ count: number; problems: string[] }> {
  if (!(await store.exists(metadataKey(commitSha)))) {
    throw new AphexError(
      `no complete build for ${commitSha}: ${
        store.uriFor(metadataKey(commitSha))
      } not found (the build stage publishes it last; run or re-run the build first)`,
    );
  }
  const doc = await readBuildMetadata(store, commitSha);
  const root = resolve(destDir);
  const problems: string[] = [];
  const queue = [...doc.artifacts];
  const worker = async () => {
    for (let meta = queue.shift(); meta; meta = queue.shift()) {
      let rel = meta.s3Path;
      try {
        rel = artifactPathOf(meta);
        // Workspace boundary (adapters/workspace/boundary.ts): segment-checked path, no link on the way.
        const target = await prepareDownloadTarget(root, rel);
        const tmp = `${target}.aphex-${crypto.randomUUID()}.part`;
        try {
          const [forHash, forFile] = (await store.get(artifactKey(commitSha, rel))).tee();
          const file = await Deno.open(tmp, { write: true, createNew: true });
          const [digest] = await Promise.all([
            sha256Stream(forHash),
            forFile.pipeTo(file.writable),
          ]);
          if (digest.sha256 !== meta.checksum) {
            throw new Error(`SHA-256 mismatch: expected ${meta.checksum}, got ${digest.sha256}`);
          }
          if (digest.size !== meta.sizeBytes) {
            throw new Error(`size mismatch: expected ${meta.sizeBytes} bytes, got ${digest.size}`);
          }
          await Deno.rename(tmp, target);
        } finally {
          await Deno.remove(tmp).catch(() => {});
        }
      } catch (e) {
        problems.push(`${rel}: ${describeError(e)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker));
  return { count: doc.artifacts.length, problems: problems.sort() };
}

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
