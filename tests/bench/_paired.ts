/**
 * Helpers of the paired benchmarks: run both sides alternately in one process (ABAB…), take
 * medians, print the ratio. The machine is shared and noisy, so every comparison is paired and
 * repeated; quote medians and ratios, not single runs.
 * @module
 */

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Runs `fn` and returns its wall time in ms with its value. */
export async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now();
  const value = await fn();
  return [performance.now() - t, value];
}

/** Peak RSS (VmHWM) of this process in bytes. */
export function vmHwmBytes(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
  return Number(m?.[1] ?? 0) * 1024;
}

/** Runs the sides alternately `rounds` times (after one warm-up round); ms per side. */
export async function alternate(
  rounds: number,
  sides: Record<string, () => Promise<number | void>>,
): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (let round = -1; round < rounds; round++) {
    // Rotate the order each round so neither side always runs first.
    const names = Object.keys(sides);
    const order = names.map((_, i) => names[(i + Math.max(round, 0)) % names.length]!);
    for (const name of order) {
      const t = performance.now();
      const reported = await sides[name]!();
      const ms = typeof reported === "number" ? reported : performance.now() - t;
      if (round >= 0) (out[name] ??= []).push(ms);
    }
  }
  return out;
}

/** `1.234 s` or `12.3 ms`. */
export function fmtMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(3)} s` : `${ms.toFixed(1)} ms`;
}

/** One result line: median, runs, and the ratio against a baseline median. */
export function row(label: string, runs: number[], baseline?: number[]): string {
  const m = median(runs);
  const ratio = baseline ? `  ratio ${(m / median(baseline)).toFixed(3)}×` : "  (baseline)";
  return `${label.padEnd(44)} median ${fmtMs(m).padStart(10)}${ratio}  runs ${
    runs.map(fmtMs).join(", ")
  }`;
}
