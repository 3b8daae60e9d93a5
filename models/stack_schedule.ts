/**
 * Deploys the stacks of one environment `concurrency` at a time in an order that respects their
 * dependencies: a stack starts once every configured stack it depends on has succeeded; stacks
 * become ready in configured order; after the first failure nothing new starts, the running ones
 * finish, and the first error is rethrown. With `concurrency: 1` this is exactly the configured
 * order, one after another (the configuration order already respects the dependencies). Does no
 * I/O itself: the work is the caller's `run`.
 * @module
 */

/** Options of {@linkcode runInDependencyOrder}. */
export interface ScheduleOptions<T> {
  /** Stacks running at once (≥ 1). */
  concurrency: number;
  /** Name of an item (unique). */
  key: (item: T) => string;
  /** Names this item waits for (names outside the list are ignored). */
  dependsOn: (item: T) => Iterable<string>;
}

/**
 * Runs `run(item, index)` for the items as described in the module doc; resolves when every
 * started item has ended. Rejects with the first item's error after the running ones ended.
 */
export async function runInDependencyOrder<T>(
  items: readonly T[],
  run: (item: T, index: number) => Promise<void>,
  options: ScheduleOptions<T>,
): Promise<void> {
  const names = items.map(options.key);
  const known = new Set(names);
  const deps = items.map((item) => [...options.dependsOn(item)].filter((d) => known.has(d)));
  const done = new Set<string>();
  const started = new Set<number>();
  const limit = Math.max(1, Math.floor(options.concurrency));
  let failure: { error: unknown } | undefined;
  let running = 0;
  return await new Promise<void>((resolve, reject) => {
    const pump = () => {
      if (!failure) {
        for (let i = 0; i < items.length && running < limit; i++) {
          if (started.has(i) || !deps[i]!.every((d) => done.has(d))) continue;
          started.add(i);
          running++;
          run(items[i]!, i).then(
            () => done.add(names[i]!),
            (error) => failure ??= { error },
          ).finally(() => {
            running--;
            pump();
          });
        }
      }
      if (running === 0) {
        if (failure) reject(failure.error);
        else if (started.size < items.length) {
          reject(
            new Error(`stacks wait for each other: ${names.filter((_, i) => !started.has(i))}`),
          );
        } else resolve();
      }
    };
    pump();
  });
}
