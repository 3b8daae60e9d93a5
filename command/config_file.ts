/**
 * Reading `aphex-config.yaml` from disk (the only config I/O): size-checked before reading, parse
 * errors located with the path the user gave.
 * @module
 */
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { AphexConfig } from "../models/config.ts";
import { MAX_CONFIG_BYTES, parseConfig, type ParseConfigResult } from "../models/config_parse.ts";
import { parseConfigOrThrow } from "../models/config_parse.ts";
import { usageError } from "../models/errors.ts";
import type { OptionSpec } from "./contract.ts";

/** Default configuration file name. */
export const DEFAULT_CONFIG_FILE = "aphex-config.yaml";

/** The `--config FILE` option of commands that read the configuration from the current directory. */
export const CONFIG_OPTION: OptionSpec = {
  type: "string",
  description: "Configuration file",
  env: "APHEX_CONFIG",
  default: DEFAULT_CONFIG_FILE,
  valueName: "FILE",
};

/** Reads the configuration text; usage error (exit 2) if missing, unreadable or too large. */
export async function readConfigText(file: string, options: { cwd: string }): Promise<string> {
  const path = resolve(options.cwd, file);
  let size: number;
  try {
    size = (await Deno.stat(path)).size;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw usageError(`${file}: no such file (pass --config FILE or set APHEX_CONFIG)`);
    }
    throw usageError(`${file}: cannot read: ${e instanceof Error ? e.message : e}`);
  }
  if (size > MAX_CONFIG_BYTES) {
    throw usageError(`${file}: file is ${size} bytes; the limit is ${MAX_CONFIG_BYTES} bytes`);
  }
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    throw usageError(`${file}: cannot read: ${e instanceof Error ? e.message : e}`);
  }
}

/** Options of {@linkcode checkConfigFile} and {@linkcode loadConfigFile}. */
export interface ConfigFileOptions {
  /** Directory `file` is relative to. */
  cwd: string;
  /**
   * Also check that every `stacks[].path` (and `pipeline.pipelineStack.path`) exists, relative to
   * this repository root (`true`: the config file's directory). Commands that act on a checkout
   * (validate, preflight, synth, run --local) check; generate and the cluster-side readers do not
   * (the example configuration of Aphex's own repository names files of a user's repository).
   */
  checkPaths?: boolean | string;
}

/** Parse options for `file`: with `checkPaths`, a `pathExists` rooted at the repository. */
export function configParseOptions(
  file: string,
  options: ConfigFileOptions,
): { file: string; pathExists?: (path: string) => boolean } {
  if (!options.checkPaths) return { file };
  const root = options.checkPaths === true
    ? dirname(resolve(options.cwd, file))
    : resolve(options.cwd, options.checkPaths);
  return { file, pathExists: (path: string) => existsSync(resolve(root, path)) };
}

/** Reads and parses a configuration file, returning every issue instead of throwing. */
export async function checkConfigFile(
  file: string,
  options: ConfigFileOptions,
): Promise<ParseConfigResult> {
  const text = await readConfigText(file, options);
  return parseConfig(text, configParseOptions(file, options));
}

/** Reads and parses a configuration file; throws a usage error listing every issue. */
export async function loadConfigFile(
  file: string,
  options: ConfigFileOptions,
): Promise<AphexConfig> {
  const text = await readConfigText(file, options);
  return parseConfigOrThrow(text, configParseOptions(file, options));
}
