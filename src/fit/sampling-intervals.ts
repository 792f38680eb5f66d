/**
 * Confidence intervals for a sampled tensor: a bootstrap over blocks.
 *
 * Why the bootstrap, and over blocks: every statistic of a tensor is a function of
 * additive sums (moments.ts), so the sums of a resample are the sums of its blocks, and
 * a replicate costs one refit, not one rescan. Resampling whole blocks, not elements,
 * keeps whatever is correlated inside a block (a row's scale, a low-rank update) in the
 * variance. And it needs no formula per statistic: the profile's peak, the fallback
 * from the profile to least squares, noiseRatio's square root of a ratio, the verdict
 * itself are all simply recomputed, where a delta-method interval would need a
 * derivative of each (and the peak has none).
 *
 * The blocks are first dealt into at most SAMPLE_GROUPS groups, in sampling order (the
 * order is random, so every group is itself a random sample of blocks); groups, not
 * blocks, are resampled. That bounds the memory a tensor holds (a group's moments are
 * ~33 KB, mostly the exact-hit profile) and the cost of a replicate, whatever the
 * number of blocks read.
 *
 * The interval is the percentile interval of the replicates. It ignores the finite
 * population correction, so it is conservative when a large share of a tensor is read.
 */
import { addFitSums, clearFitSums, emptyMoments, PROFILE_BIN, type TensorMoments } from '../engine/moments.js';
import { seededUniform } from '../engine/sample-plan.js';
import { ProfileSum } from './exact-hit-profile.js';
import { fitTensor, type TensorFit } from './tensor-fit.js';

/** Groups a tensor's sampled blocks are dealt into (see above). */
export const SAMPLE_GROUPS = 16;
/**
 * Replicates per tensor. A replicate costs a refit (~0.03–0.05 ms on this machine, once
 * the profile is summarized from its groups' bounds: ProfileSum), and a 400B-parameter
 * model has ~2,900 sampled tensors: 100 keeps the bootstrap near 15 s; 2–3 replicates
 * beyond each end of a 95% interval is coarse, and test/engine/sample-coverage.test.ts
 * checks the coverage that results.
 */
export const BOOTSTRAP_REPLICATES = 100;

/** A closed interval [low, high]. */
export type Interval = [number, number];

export interface FitIntervals {
  /** Per parent (--parents order); null where the point estimate has no weight. */
  weights: (Interval | null)[];
  noiseRatio: Interval;
}

/**
 * Calls `visit` with the fit of each of `replicates` resamples (with replacement) of
 * `groups`. The resamples depend only on `seed`, so a report is reproducible.
 */
export function bootstrapFits(
  groups: readonly TensorMoments[],
  replicates: number,
  seed: number,
  visit: (fit: TensorFit, replicate: number) => void,
): void {
  const n = groups.length;
  if (n === 0) return;
  const first = groups[0]!;
  const next = seededUniform(seed, 0x5eed);
  const counts = new Uint32Array(n);
  // One replicate's sums, zeroed and refilled each time; its exact-hit profile is the
  // groups' weighted by the draw, summarized without adding up every bin (ProfileSum).
  const parts = groups.map((g) => g.profile);
  const profile = first.profile && parts.every((p) => p !== null) ? new ProfileSum(parts.map((p) => p!.hits), first.profile.lo, first.profile.width) : null;
  const total: TensorMoments = { ...emptyMoments(first.parents, first.reference, false), profile };
  for (let r = 0; r < replicates; r++) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[Math.floor(next() * n)]!++;
    clearFitSums(total);
    for (let g = 0; g < n; g++) if (counts[g]! > 0) addFitSums(total, groups[g]!, counts[g]!);
    profile?.weigh(counts);
    visit(fitTensor(total), r);
  }
}

/** The central `level` share of `values` (NaN ignored); [NaN, NaN] when none. */
export function percentileInterval(values: readonly number[], level: number): Interval {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return [Number.NaN, Number.NaN];
  const tail = (1 - level) / 2;
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))]!;
  return [at(tail), at(1 - tail)];
}

/**
 * Intervals at `level` from replicate fits, around the point fit `point`. A weight read
 * off the exact-hit profile is known only to a bin, so its interval is widened by half a
 * bin each way; the point estimate is always inside its interval.
 */
export function fitIntervals(point: TensorFit, replicateFits: readonly TensorFit[], level: number, groups: number): FitIntervals {
  // A bootstrap over n groups has (n − 1)/n of the variance it estimates; stretching the
  // interval about the estimate by sqrt(n/(n − 1)) undoes it (coverage fell to 92.5%
  // for 95% intervals over 16 groups without it).
  const stretch = groups > 1 ? Math.sqrt(groups / (groups - 1)) : 1;
  const widen = (centre: number, [low, high]: Interval): Interval => [
    Number.isNaN(low) ? centre : Math.min(centre, centre - stretch * (centre - low)),
    Number.isNaN(high) ? centre : Math.max(centre, centre + stretch * (high - centre)),
  ];
  const halfBin = point.weightMethod === 'exact-hit-profile' ? PROFILE_BIN / 2 : 0;
  const weights = point.weights.map((w, j): Interval | null => {
    if (w === null) return null;
    const values = replicateFits.map((fit) => fit.weights[j] ?? Number.NaN);
    const [low, high] = widen(w, percentileInterval(values, level));
    return [low - halfBin, high + halfBin];
  });
  const noiseRatio = widen(point.noiseRatio, percentileInterval(replicateFits.map((fit) => fit.noiseRatio), level));
  return { weights, noiseRatio };
}
