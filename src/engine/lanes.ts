/**
 * `work` on every item, at most `lanes` at a time, started in the items' order: the
 * units of a tensor (a per-expert MoE layer has thousands) are scanned a window at a
 * time, not all at once, so that their pending tasks do not pile up and their reads stay
 * near file order. `done` sees each result as it arrives, and nothing here keeps it: a
 * unit's moments (33 KB) are dropped once `done` has added them. The first failure (of
 * `work` or `done`) rejects; items not yet started are then not started. `lanes` below
 * 1, or not finite, is 1.
 */
export async function eachInLanes<T, R>(
  items: readonly T[],
  lanes: number,
  work: (item: T, index: number) => Promise<R>,
  done: (result: R, index: number) => void,
): Promise<void> {
  let next = 0;
  let failed = false;
  const lane = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        done(await work(items[i]!, i), i);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const count = Number.isFinite(lanes) ? Math.max(1, Math.min(Math.floor(lanes), items.length)) : 1;
  await Promise.all(Array.from({ length: count }, lane));
}

/** `eachInLanes` keeping the results, in the items' order: for small results (counts, flags, a recipe pass's sums). */
export async function mapInLanes<T, R>(items: readonly T[], lanes: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  await eachInLanes(items, lanes, work, (result, i) => {
    results[i] = result;
  });
  return results;
}
