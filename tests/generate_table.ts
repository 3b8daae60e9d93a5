/**
 * The table of configurations the generator is tested on (shared by the tests and by
 * `tests/generate_fixtures.ts`, which writes their manifests for `validate-argo`).
 * @module
 */
import type { AphexConfig, RawAphexConfig } from "../models/config.ts";
import { parseConfigOrThrow } from "../models/config_parse.ts";

type RawEnvironment = RawAphexConfig["environments"][number];

/** A raw environment with `stacks` stacks; tests unless `tests: false`. */
export function rawEnvironment(
  name: string,
  options: {
    stacks?: number;
    tests?: boolean;
    approval?: boolean;
    hooks?: boolean;
    account?: string;
    wave?: string;
  } = {},
): RawEnvironment {
  const env: RawEnvironment = {
    name,
    region: "us-east-1",
    account: options.account ?? "111111111111",
    stacks: Array.from({ length: options.stacks ?? 2 }, (_, i) => ({
      name: `App${i}-${name}`,
      path: `infra/stack-${i}.ts`,
    })),
  };
  if (options.tests !== false) env.tests = { commands: ["npm run test:smoke"] };
  if (options.approval) env.approval = true;
  if (options.wave !== undefined) env.wave = options.wave;
  if (options.hooks) {
    env.hooks = { preDeploy: ["./scripts/pre.sh"], postDeploy: ["./scripts/post.sh"] };
  }
  return env;
}

/** A raw configuration with GitHub, webhook and the given environments. */
export function rawConfig(
  environments: RawEnvironment[],
  options: { pullRequests?: boolean; allowForks?: boolean; github?: boolean; name?: string } = {},
): RawAphexConfig {
  const pipeline: NonNullable<RawAphexConfig["pipeline"]> = {
    name: options.name ?? "shop",
    artifactBucket: "shop-artifacts",
    pullRequests: {
      enabled: options.pullRequests ?? false,
      allowForks: options.allowForks ?? false,
    },
  };
  if (options.github !== false) {
    pipeline.github = {
      owner: "example-org",
      repo: "shop",
      branch: "main",
      webhookSecret: { name: "github-webhook", key: "secret" },
    };
    pipeline.webhook = { url: "https://aphex.example.com" };
  }
  return {
    version: "1.0",
    pipeline,
    build: { commands: ["npm ci", "npm run build"] },
    environments,
  };
}

/** Parses a raw configuration through the real parser (so table configs are valid configs). */
export function parseRaw(raw: RawAphexConfig): AphexConfig {
  return parseConfigOrThrow(JSON.stringify(raw, null, 2), { file: "table.yaml" });
}

/** The table: name → configuration. */
export function configTable(): Record<string, AphexConfig> {
  const envs = (n: number, o: Parameters<typeof rawEnvironment>[1] = {}) =>
    Array.from({ length: n }, (_, i) => rawEnvironment(`env${i + 1}`, o));
  return {
    "one-env": parseRaw(rawConfig([rawEnvironment("dev")])),
    "three-envs-approval-hooks": parseRaw(rawConfig([
      rawEnvironment("dev"),
      rawEnvironment("staging", { hooks: true }),
      rawEnvironment("prod", { approval: true, hooks: true, account: "222222222222" }),
    ], { pullRequests: true })),
    "fifty-envs": parseRaw(rawConfig(envs(50, { stacks: 3 }), { pullRequests: true })),
    "no-tests": parseRaw(rawConfig(envs(3, { tests: false }))),
    "pull-requests-forks": parseRaw(
      rawConfig([rawEnvironment("dev")], { pullRequests: true, allowForks: true }),
    ),
    "no-github": parseRaw(
      rawConfig([rawEnvironment("dev", { approval: true })], { github: false }),
    ),
    // Past Argo's 200-task DAG cap (3,000 per-environment steps): the chain is split into parts.
    "thousand-envs-approvals-tests": parseRaw(
      rawConfig(envs(1000, { stacks: 10, approval: true }), { pullRequests: true }),
    ),
    // Waves (issue 15): 1,000 environments in 20 waves of 50 (each 150 tasks: approval, deploy,
    // test), plus a wave of 80 environments split into parallel parts (240 tasks > 200).
    "thousand-envs-waves-of-50": parseRaw(
      rawConfig(
        Array.from({ length: 1000 }, (_, i) =>
          rawEnvironment(`env${i + 1}`, {
            stacks: 10,
            approval: true,
            wave: `w${Math.floor(i / 50) + 1}`,
          })),
        { pullRequests: true },
      ),
    ),
    "waves-mixed-and-split": parseRaw(
      rawConfig([
        rawEnvironment("dev"),
        ...Array.from(
          // 120 environments × 2 chain tasks (deploy, test) > 200: the wave is split.
          { length: 120 },
          (_, i) => rawEnvironment(`region${i + 1}`, { approval: true, wave: "regions" }),
        ),
        rawEnvironment("prod", { approval: true, wave: "last" }),
      ]),
    ),
    "long-name": parseRaw(
      rawConfig([rawEnvironment("dev")], {
        pullRequests: true,
        name: "a-very-long-pipeline-name-1234",
      }),
    ),
  };
}
