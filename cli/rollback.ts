/**
 * `aphex rollback --env NAME [--to SHA]` (issue 14): redeploys the cloud assembly stored for a
 * commit (default: the environment's last good one, `envs/<env>/last-good.json`) without building
 * or synthesizing, through the same plan and gate as a deploy: `plan --stored-assembly` prepares
 * and describes its change sets, a risky plan needs `--approve`, then `deploy --from-plan`
 * executes exactly those change sets. With `--after-test-failure` (the pipeline's automatic
 * rollback, `rollback: {onTestFailure: true}`) the tests are re-run against the redeployed version
 * and the command exits 1 with "rolled back to <sha>", so the run fails and stops before later
 * environments.
 *
 * A rollback never deletes a stack: stacks that exist only in the newer version are not part of the
 * older assembly and are reported, not removed.
 * @module
 */
import {
  type Command,
  type CommandContext,
  type OptionValues,
  runMain,
  str,
} from "../command/contract.ts";
import {
  checkoutStage,
  loadStageConfig,
  resolveBucket,
  resolveStageInputs,
  selectEnvironment,
  type StageInputs,
} from "../command/stage_runtime.ts";
import { ExitCode, usageError } from "../models/errors.ts";
import { type EnvironmentPlan, formatPlanTable } from "../models/plan.ts";
import { type ArtifactStore, planKey, readText } from "../adapters/store/artifact_store.ts";
import { openArtifactStore } from "../adapters/store/artifacts.ts";
import { readLastGood } from "../adapters/store/assemblies.ts";
import { parseCdkCommand } from "../adapters/cdk/app.ts";
import { type PlanDeps, runPlan } from "../stages/plan.ts";
import { type DeployDeps, runDeploy } from "../stages/deploy.ts";
import { runTests } from "../stages/test.ts";
import { spec } from "./rollback_spec.ts";

/** Inputs of {@linkcode runRollback}. */
export interface RollbackInputs {
  /** Stage inputs (their `commitSha`: the commit being rolled back from, if known). */
  base: StageInputs;
  /** Environment. */
  environment: string;
  /** Commit to redeploy (default: the last good one). */
  to?: string;
  /** Whether a risky rollback plan may be executed. */
  approve: boolean;
  /** Automatic rollback after failed tests: re-run the tests, fail the run. */
  afterTestFailure: boolean;
}

/** What {@linkcode runRollback} did. */
export interface RollbackOutcome {
  /** 0 rolled back (manual), 1 failed or automatic rollback (the run failed). */
  exitCode: number;
  /** One sentence: what happened. */
  message: string;
  /** Commit redeployed. */
  targetSha?: string;
  /** The rollback's plan. */
  plan?: EnvironmentPlan;
  /** Stacks of the newer version absent from the redeployed one (left as they are). */
  onlyNewer: string[];
  /** Whether the re-run tests passed (automatic rollback). */
  testsPassed?: boolean;
}

async function newerStacks(
  store: ArtifactStore,
  inputs: RollbackInputs,
): Promise<string[] | undefined> {
  const key = planKey(inputs.base.commitSha, inputs.environment);
  if (await store.exists(key)) {
    return (JSON.parse(await readText(store, key)) as EnvironmentPlan).stacks.map((s) =>
      s.stackName
    );
  }
  try {
    const config = await loadStageConfig(inputs.base);
    return config.environments.find((e) => e.name === inputs.environment)?.stacks.map((s) =>
      s.name
    );
  } catch {
    return undefined;
  }
}

/** Runs a rollback (see the module documentation). */
export async function runRollback(
  inputs: RollbackInputs,
  deps: PlanDeps & DeployDeps & { store: ArtifactStore },
): Promise<RollbackOutcome> {
  const env = inputs.environment;
  if (inputs.afterTestFailure) {
    // The pipeline's rollback step: only when the failing commit's configuration asks for it.
    const config = await checkoutStage(inputs.base, deps);
    const target = selectEnvironment(config, env);
    if (!target.rollback?.onTestFailure) {
      return {
        exitCode: ExitCode.Failed,
        message: `tests of ${inputs.base.commitSha} failed in ${env}; automatic rollback is off ` +
          `(rollback.onTestFailure), the stacks are left as they are`,
        onlyNewer: [],
      };
    }
  }
  const lastGood = inputs.to ? undefined : await readLastGood(deps.store, env);
  const target = inputs.to ?? lastGood?.sha;
  if (!target) {
    return {
      exitCode: ExitCode.Failed,
      message: `no last good deployment of ${env} (first deploy?): nothing to roll back to; ` +
        `its stacks are left as they are`,
      onlyNewer: [],
    };
  }
  if (target === inputs.base.commitSha && inputs.afterTestFailure) {
    return {
      exitCode: ExitCode.Failed,
      message: `the last good deployment of ${env} is this commit ${target}: nothing to roll ` +
        `back to; its stacks are left as they are`,
      onlyNewer: [],
    };
  }
  const newer = await newerStacks(deps.store, inputs);
  deps.log(`[rollback] ${env}: redeploying the stored assembly of ${target}`);
  const planned = await runPlan(
    { ...inputs.base, commitSha: target, environment: env, storedAssembly: true },
    deps,
  );
  const onlyNewer = (newer ?? []).filter((s) =>
    !(planned.plan?.stacks ?? []).some((p) => p.stackName === s)
  );
  if (onlyNewer.length > 0) {
    deps.log(
      `[rollback] stack(s) only in the newer version, left as they are (not deleted): ${
        onlyNewer.join(", ")
      }`,
    );
  }
  const base = { targetSha: target, onlyNewer };
  if (planned.exitCode !== ExitCode.Ok || !planned.plan) {
    return {
      ...base,
      exitCode: ExitCode.Failed,
      message: `the rollback plan of ${env} to ${target} failed: ${planned.failure}`,
    };
  }
  if (planned.approve && !inputs.approve) {
    return {
      ...base,
      plan: planned.plan,
      exitCode: ExitCode.Failed,
      message: `the rollback of ${env} to ${target} needs approval (${planned.summary}); review ` +
        `the plan and rerun with --approve`,
    };
  }
  const deployed = await runDeploy(
    { ...inputs.base, commitSha: target, environment: env, fromPlan: true },
    deps,
  );
  if (deployed.exitCode !== ExitCode.Ok) {
    return {
      ...base,
      plan: planned.plan,
      exitCode: ExitCode.Failed,
      message: `the rollback of ${env} to ${target} failed: ${deployed.failure}`,
    };
  }
  if (!inputs.afterTestFailure) {
    return {
      ...base,
      plan: planned.plan,
      exitCode: ExitCode.Ok,
      message: `rolled back ${env} to ${target}`,
    };
  }
  const tested = await runTests({ ...inputs.base, commitSha: target, environment: env }, deps);
  const testsPassed = tested.exitCode === ExitCode.Ok;
  return {
    ...base,
    plan: planned.plan,
    testsPassed,
    // The run failed either way: its own commit did not pass its tests.
    exitCode: ExitCode.Failed,
    message: `tests of ${inputs.base.commitSha} failed in ${env}: rolled back to ${target}; ` +
      `the tests of ${target} ${testsPassed ? "pass again" : "fail too"}`,
  };
}

/** `aphex rollback`. */
export const command: Command = {
  spec,
  async run(values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
    const environment = str(values, "env");
    if (!environment) throw usageError("--env (or APHEX_ENV) is required");
    const to = str(values, "to");
    if (to !== undefined && !/^[0-9a-f]{40}$/.test(to)) {
      throw usageError("--to must be a full commit SHA (40 lowercase hex characters)");
    }
    const from = str(values, "commit-sha") ?? to ?? "0".repeat(40);
    const base = resolveStageInputs({ ...values, "commit-sha": from }, ctx);
    let config;
    try {
      config = await loadStageConfig(base);
    } catch {
      config = undefined; // a fresh pod: the bucket comes from APHEX_ARTIFACT_BUCKET
    }
    const bucket = resolveBucket(base, config);
    const store = await openArtifactStore({
      localRoot: base.storeDir,
      ...(bucket ? { bucket } : {}),
      aws: { env: ctx.env },
    });
    try {
      const outcome = await runRollback(
        {
          base,
          environment,
          ...(to ? { to } : {}),
          // Automatic rollback is approved by the configuration (rollback.onTestFailure).
          approve: values.approve === true || values["after-test-failure"] === true,
          afterTestFailure: values["after-test-failure"] === true,
        },
        {
          env: ctx.env,
          log: (line) => ctx.stderr(line + "\n"),
          store,
          cdkCommand: parseCdkCommand(str(values, "cdk-command")),
        },
      );
      if (outcome.plan) ctx.stderr(formatPlanTable(outcome.plan) + "\n");
      ctx.stderr(`[rollback] ${outcome.message}\n`);
      if (values.json === true) ctx.stdout(JSON.stringify(outcome) + "\n");
      else ctx.stdout(outcome.message + "\n");
      return outcome.exitCode;
    } finally {
      store.close();
    }
  },
};

if (import.meta.main) await runMain(command);
