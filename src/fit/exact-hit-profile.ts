import type { TensorMoments } from '../engine/moments.js';
import type { ExactHitProfile } from '../report-schema.js';

/** Bins whose centre is farther than this from the peak measure what chance gives (statistics.md). */
export const CHANCE_DISTANCE = 0.05;

/**
 * The profile's peak is taken as the blend weight only when it is a clear,
 * merge-shaped peak; three tests, all on counts of informative elements:
 *
 * - above chance: hits at the peak exceed the binomial expectation at the chance rate
 *   by PEAK_MIN_Z standard deviations and are at least PEAK_MIN_RATIO times it. The
 *   peak is the largest of ~4,000 bins, so a single-bin 3σ test would fire on noise;
 *   6σ keeps a false peak below ~1e-5 per tensor even with every bin an independent
 *   try. When no far bin has a hit, the rate is taken as one hit (1/informative), so a
 *   handful of hits on a tiny tensor is not enough.
 * - a substantial share: at least PEAK_MIN_SHARE of the informative elements are
 *   reproduced at the peak. Training moves elements off the grid a merge put them on,
 *   and with millions of elements any residual structure is "significant": on trained
 *   models a fine-tune of one parent shows 6.0% at an arbitrary weight vs 4.5%
 *   elsewhere and a merge followed by real training 4.6% vs 3.7%, while untouched
 *   merges reach 60–100% and a merge plus five small training steps 45%
 *   (statistics.md). On the synthetic data of test/fit, a change of 1% of the norm
 *   after a merge (or after one parent) leaves 7–18%, 0.1% leaves 43–77%.
 * - standing out from the parents: hits at the peak exceed the hits at w = 0 and at
 *   w = 1 (the parents themselves) by PEAK_MIN_Z·sqrt(sum of both), a conservative
 *   McNemar-type test (the unknown overlap only shrinks the true variance). A
 *   fine-tune's elements scatter symmetrically around its parent, giving a broad,
 *   flat-topped bump whose highest bin wanders a few hundredths away from 0; that is
 *   not a weight.
 */
export const PEAK_MIN_Z = 6;
export const PEAK_MIN_RATIO = 2;
export const PEAK_MIN_SHARE = 0.25;

/**
 * A clear peak gives the weight outright when it reproduces at least this share of
 * the informative elements; below it, only when it reproduces significantly more
 * elements than the informative least-squares weight does (`beats`), and otherwise
 * that least-squares weight is reported. Why: in an untouched merge every element's
 * interval contains the true weight, so the peak is exact (±0.0003 on the synthetic
 * data of test/fit) while least squares on the informative elements is still pulled
 * ~0.005–0.01 by rounding that correlates with small differences. Once training has
 * moved elements (hit share 0.25–0.55), the peak becomes the top of a broad bump that
 * settles on resonant weights (0.46875 for a true 0.5, 1-step parents), off by up to
 * 0.08, while least squares, its rounding now drowned in real noise, is within 0.01.
 * Untouched merges reproduce ~1 (measured at bin centres, which are the round weights); merges in bf16
 * arithmetic ~0.6, where the peak mostly beats least squares (errors ≤ 0.0005 against
 * the bf16-rounded weights; ≤ 0.0034 from least squares where it does not).
 */
export const PROFILE_TRUSTED_SHARE = 0.75;

export interface ProfileReading {
  readonly summary: ExactHitProfile;
  /** The peak passes all three tests above. */
  readonly clear: boolean;
  /** Does the peak reproduce significantly more elements than weight w (same test as against the parents)? */
  beats(w: number): boolean;
  /**
   * Informative elements reproduced bit for bit by the weight at the bin centre nearest
   * w (within half a bin, 0.00025); null outside the profile's range.
   */
  hitsAt(w: number): number | null;
}

/** The profile summary and whether its peak is clear, or null when there is none (k ≠ 2) or no informative element. */
export function readProfile(moments: TensorMoments): ProfileReading | null {
  const summary = summarizeProfile(moments);
  const profile = moments.profile;
  if (summary === null || profile === null) return null;
  const hits = profile.hits;
  const atPeak = summary.hitShare * summary.informative;
  // At a parent's weight (a bin edge) the larger neighbour, so the test stays conservative.
  const atWeight = (w: number): number => {
    const position = (w - profile.lo) / profile.width - 0.5;
    const below = Math.min(hits.length - 1, Math.max(0, Math.floor(position)));
    const above = Math.min(hits.length - 1, Math.max(0, Math.ceil(position)));
    return Math.max(hits[below]!, hits[above]!);
  };
  const hitsAt = (w: number): number | null => {
    const bin = Math.round((w - profile.lo) / profile.width - 0.5);
    return bin >= 0 && bin < hits.length ? hits[bin]! : null;
  };
  const beats = (w: number): boolean => {
    const atOther = atWeight(w);
    return atPeak - atOther >= PEAK_MIN_Z * Math.sqrt(atPeak + atOther);
  };
  const clear = aboveChance(summary) && summary.hitShare >= PEAK_MIN_SHARE && beats(0) && beats(1);
  return { summary, clear, beats, hitsAt };
}

/** Summary of the exact-hit profile, or null when there is none (k ≠ 2) or no informative element. */
export function summarizeProfile(moments: TensorMoments): ExactHitProfile | null {
  const profile = moments.profile;
  const informative = moments.informative.count;
  if (!profile || informative <= 0) return null;
  const hits = profile.hits;
  const bins = hits.length;
  if (bins === 0) return null;

  let most = -Infinity;
  for (let b = 0; b < bins; b++) if (hits[b]! > most) most = hits[b]!;

  // The plateau: the longest run of bins at the maximum (the first such run on ties).
  // Its middle is the weight most consistent with the elements: an exact blend's
  // intervals all contain the true weight, and their intersection is that run.
  let bestStart = 0;
  let bestLength = 0;
  for (let b = 0; b < bins; ) {
    if (hits[b] !== most) {
      b++;
      continue;
    }
    const start = b;
    while (b < bins && hits[b] === most) b++;
    if (b - start > bestLength) {
      bestStart = start;
      bestLength = b - start;
    }
  }
  const centre = (b: number): number => profile.lo + (b + 0.5) * profile.width;
  const peak = (centre(bestStart) + centre(bestStart + bestLength - 1)) / 2;

  const far: number[] = [];
  for (let b = 0; b < bins; b++) if (Math.abs(centre(b) - peak) > CHANCE_DISTANCE) far.push(hits[b]!);
  const chance = median(far);

  return {
    peak,
    plateau: bestLength * profile.width,
    hitShare: most / informative,
    chanceShare: chance / informative,
    informative,
  };
}

/** The first test above, from the reported summary alone. */
export function aboveChance(profile: ExactHitProfile): boolean {
  const n = profile.informative;
  // Below two elements there is no variance to test against.
  if (n < 2) return false;
  const { hitShare, chanceShare } = profile;
  if (hitShare < PEAK_MIN_RATIO * chanceShare) return false;
  const rate = Math.min(Math.max(chanceShare, 1 / n), 1 - 1 / n);
  const z = (n * (hitShare - rate)) / Math.sqrt(n * rate * (1 - rate));
  return z >= PEAK_MIN_Z;
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  // Selection, not a sort: O(n) where a sort is O(n log n), and the fit is repeated
  // (the bootstrap of a sampled tensor refits it a hundred times).
  const work = Float64Array.from(values);
  const mid = work.length >> 1;
  const upper = selectInPlace(work, mid);
  if (work.length % 2 === 1) return upper;
  let lower = -Infinity;
  for (let i = 0; i < mid; i++) if (work[i]! > lower) lower = work[i]!;
  return (lower + upper) / 2;
}

/** Hoare's quickselect: rearranges `a` so that a[k] is the k-th smallest, smaller ones before it; returns a[k]. */
function selectInPlace(a: Float64Array, k: number): number {
  let left = 0;
  let right = a.length - 1;
  while (left < right) {
    const pivot = a[(left + right) >> 1]!;
    let i = left;
    let j = right;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const swap = a[i]!;
        a[i] = a[j]!;
        a[j] = swap;
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else break;
  }
  return a[k]!;
}
