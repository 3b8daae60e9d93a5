/**
 * The semantic checks of a configuration that passed the schema: real AWS regions, unique
 * environment and stack names, waves, approval timeouts, commands, the artifacts directory, the
 * pipeline image, webhooks and pull requests, and (when the caller can look) that stack files
 * exist. Problems are returned by path, not yet located. No I/O happens in this module.
 * @module
 */
import type { Problem, Segment } from "./_config_problem.ts";
import { artifactsDirProblem } from "./_paths.ts";
import { approvalTimeoutProblem } from "./approval.ts";
import { AWS_REGIONS } from "./aws_regions.ts";
import type { RawAphexConfig } from "./config.ts";
import { commandProblem, imageProblem } from "./config_rules.ts";
import { closest } from "./suggest.ts";
import { waveProblems } from "./waves.ts";

/**
 * Every semantic problem of `raw`; stack paths are checked only when `pathExists` is given.
 */
export function semanticProblems(
  raw: RawAphexConfig,
  pathExists?: (relativePath: string) => boolean,
): Problem[] {
  const problems: Problem[] = [];
  const firstEnv = new Map<string, number>();
  raw.environments.forEach((env, i) => {
    if (!AWS_REGIONS.includes(env.region)) {
      const suggestion = closest(env.region, AWS_REGIONS);
      problems.push({
        path: ["environments", i, "region"],
        message: `"${env.region}" is not an AWS region` +
          (suggestion ? `; did you mean "${suggestion}"?` : " (e.g. us-east-1, eu-central-2)"),
      });
    }
    if (pathExists) {
      env.stacks.forEach((stack, j) => {
        if (!pathExists(stack.path)) {
          problems.push({
            path: ["environments", i, "stacks", j, "path"],
            message: `${stack.path}: no such file in the repository (paths are relative to the ` +
              "repository root)",
          });
        }
      });
    }
    const first = firstEnv.get(env.name);
    if (first === undefined) firstEnv.set(env.name, i);
    else {
      problems.push({
        path: ["environments", i, "name"],
        message: `duplicate environment name "${env.name}" (also environments[${first}].name)`,
      });
    }
    const firstStack = new Map<string, number>();
    env.stacks.forEach((stack, j) => {
      const other = firstStack.get(stack.name);
      if (other === undefined) firstStack.set(stack.name, j);
      else {
        problems.push({
          path: ["environments", i, "stacks", j, "name"],
          message:
            `duplicate stack name "${stack.name}" in environment "${env.name}" (also stacks[${other}].name)`,
        });
      }
    });
  });
  // Waves (models/waves.ts): each wave's environments are listed together.
  raw.environments.forEach((env, i) => {
    const problem = env.approvalTimeout === undefined
      ? undefined
      : approvalTimeoutProblem(env.approvalTimeout);
    if (problem) problems.push({ path: ["environments", i, "approvalTimeout"], message: problem });
  });
  for (const [i, message] of waveProblems(raw.environments)) {
    problems.push({ path: ["environments", i, "wave"], message });
  }
  problems.push(...commandProblems(raw));
  // Workspace boundary rule of build.artifacts (models/_paths.ts; enforced again at run time).
  const artifacts = raw.build?.artifacts;
  if (typeof artifacts === "string") {
    const problem = artifactsDirProblem(artifacts);
    if (problem) problems.push({ path: ["build", "artifacts"], message: problem });
  }
  const p = raw.pipeline;
  if (p?.image !== undefined) {
    const message = imageProblem(p.image);
    if (message !== undefined) problems.push({ path: ["pipeline", "image"], message });
  }
  const pipelineStackPath = p?.pipelineStack?.path;
  if (pathExists && pipelineStackPath && !pathExists(pipelineStackPath)) {
    problems.push({
      path: ["pipeline", "pipelineStack", "path"],
      message: `${pipelineStackPath}: no such file in the repository (paths are relative to the ` +
        "repository root)",
    });
  }
  if (p?.github && !p.webhook) {
    problems.push({
      path: ["pipeline", "webhook"],
      at: "parent",
      message:
        "is required when pipeline.github is set (the public URL GitHub delivers webhooks to)",
    });
  }
  if (p?.pullRequests?.enabled && !p.github) {
    problems.push({
      path: ["pipeline", "pullRequests", "enabled"],
      message: "needs pipeline.github (pull requests come from the GitHub repository)",
    });
  }
  return problems;
}

/** Every build, hook and test command, with its path in the configuration. */
function commandProblems(raw: RawAphexConfig): Problem[] {
  const lists: [Segment[], readonly string[] | undefined][] = [
    [["build", "commands"], raw.build.commands],
  ];
  raw.environments.forEach((env, i) => {
    lists.push([["environments", i, "hooks", "preDeploy"], env.hooks?.preDeploy]);
    lists.push([["environments", i, "hooks", "postDeploy"], env.hooks?.postDeploy]);
    lists.push([["environments", i, "tests", "commands"], env.tests?.commands]);
  });
  const problems: Problem[] = [];
  for (const [path, commands] of lists) {
    commands?.forEach((command, j) => {
      const message = commandProblem(command);
      if (message !== undefined) problems.push({ path: [...path, j], message });
    });
  }
  return problems;
}
