/**
 * Execution results of the build, test and deploy stages (spec: BuildResult, TestExecutionResult,
 * DeploymentResult), with JSON codecs (camelCase keys, exact round trip).
 * @module
 */
import {
  array,
  boolean,
  type Codec,
  integer,
  json,
  literal,
  number,
  object,
  record,
  string,
} from "./_codec.ts";

/** Result of the build stage. */
export interface BuildResult {
  /** Whether every build command succeeded. */
  success: boolean;
  /** Exit code of the last command run (the failing one on failure). */
  exitCode: number;
  /** Tail of standard output (bounded). */
  stdout: string;
  /** Tail of standard error (bounded). */
  stderr: string;
  /** Duration in seconds. */
  duration: number;
  /** Artifact paths relative to the artifacts directory. */
  artifacts: string[];
}

/** How test counts were obtained: parsed from a report, or one per command. */
export type CountSource = "junit" | "tap" | "summary" | "per-command";

/** Result of the post-deployment test stage. */
export interface TestExecutionResult {
  /** Whether every test command succeeded. */
  success: boolean;
  /** First non-zero exit code, or 0. */
  exitCode: number;
  /** Tail of standard output (bounded). */
  stdout: string;
  /** Tail of standard error (bounded). */
  stderr: string;
  /** Duration in seconds. */
  duration: number;
  /** Number of tests executed. */
  testCount: number;
  /** Number of tests passed. */
  passedCount: number;
  /** Number of tests failed. */
  failedCount: number;
  /** Where the counts come from (never invented). */
  countSource: CountSource;
}

/** Result of deploying one CDK stack. */
export interface DeploymentResult {
  /** Whether the stack deployed (or had no changes). */
  success: boolean;
  /** CloudFormation stack name. */
  stackName: string;
  /** Stack outputs, key → value. */
  stackOutputs: Record<string, string>;
  /** Duration in seconds. */
  duration: number;
  /** CloudFormation events of the operation (failures on failure). */
  cloudformationEvents: Record<string, unknown>[];
}

/** JSON codec of {@linkcode BuildResult}. */
export const BuildResultCodec: Codec<BuildResult> = object<BuildResult>({
  success: boolean,
  exitCode: integer,
  stdout: string,
  stderr: string,
  duration: number,
  artifacts: array(string),
});

/** JSON codec of {@linkcode TestExecutionResult}. */
export const TestExecutionResultCodec: Codec<TestExecutionResult> = object<TestExecutionResult>({
  success: boolean,
  exitCode: integer,
  stdout: string,
  stderr: string,
  duration: number,
  testCount: integer,
  passedCount: integer,
  failedCount: integer,
  countSource: literal("junit", "tap", "summary", "per-command"),
});

/** JSON codec of {@linkcode DeploymentResult}. */
export const DeploymentResultCodec: Codec<DeploymentResult> = object<DeploymentResult>({
  success: boolean,
  stackName: string,
  stackOutputs: record(string),
  duration: number,
  cloudformationEvents: array(record(json)),
});
