/**
 * Waves: consecutive environments with the same `wave` deploy in parallel, waves one after
 * another; an environment without `wave` is a wave of its own (named after it). A wave's
 * environments must be listed together. No I/O happens in this module.
 * @module
 */

/** One wave: its name and its environments in configuration order. */
export interface Wave {
  /** The `wave` value, or the environment's name for an environment without one. */
  name: string;
  /** Environment names. */
  environments: string[];
}

/** Groups environments (in order) into waves; see the module doc. */
export function environmentWaves(
  environments: ReadonlyArray<{ name: string; wave?: string | undefined }>,
): Wave[] {
  const waves: Wave[] = [];
  for (const env of environments) {
    const name = env.wave ?? env.name;
    const last = waves.at(-1);
    if (env.wave !== undefined && last?.name === name) last.environments.push(env.name);
    else waves.push({ name, environments: [env.name] });
  }
  return waves;
}

/** Whether any environment sets `wave` (otherwise the pipeline keeps its one-by-one chain). */
export function usesWaves(environments: ReadonlyArray<{ wave?: string | undefined }>): boolean {
  return environments.some((e) => e.wave !== undefined);
}

/**
 * Problems of the `wave` settings: a wave split by another environment, or a wave named like an
 * environment that is not in it (both would make two waves of one name). Returns
 * `[index, message]` pairs (index into `environments`).
 */
export function waveProblems(
  environments: ReadonlyArray<{ name: string; wave?: string | undefined }>,
): Array<[number, string]> {
  const problems: Array<[number, string]> = [];
  const seen = new Map<string, number>();
  let index = 0;
  for (const wave of environmentWaves(environments)) {
    const first = seen.get(wave.name);
    if (first !== undefined) {
      problems.push([
        index,
        `wave "${wave.name}" is split: its environments must be listed together (it also ` +
        `starts at environments[${first}]; an environment without a wave is a wave named ` +
        "after itself)",
      ]);
    } else seen.set(wave.name, index);
    index += wave.environments.length;
  }
  return problems;
}
