/**
 * The smallest value at which the cumulative weight reaches half the total (`values[i]`
 * weighs `weights[i]`; weights of 0 or less are left out); null when no weight is
 * positive. Parallel arrays of numbers, not an object per tensor: over 100,000 tensors
 * such objects (~0.1 KB each) were held by arrays too large for V8's young generation,
 * so promoted to the old one, whose garbage is not collected before the report is
 * written. Positions sort by value with the comparator an array of { value, weight } would
 * be sorted with (a stable sort), so ties keep their order and the sums add in it.
 */
export function weightedMedian(values: readonly number[], weights: readonly number[]): number | null {
  const order: number[] = [];
  for (let i = 0; i < values.length; i++) if (weights[i]! > 0) order.push(i);
  order.sort((a, b) => values[a]! - values[b]!);
  let total = 0;
  for (const i of order) total += weights[i]!;
  let cumulative = 0;
  for (const i of order) {
    cumulative += weights[i]!;
    if (cumulative >= total / 2) return values[i]!;
  }
  return null;
}
