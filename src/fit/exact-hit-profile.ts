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
  const profile = moments.profile;
  // A bootstrap replicate's profile is a sum of its groups' (ProfileSum): summarized
  // from the few bins that decide it, with the same result as adding up every bin.
  const summary = profile instanceof ProfileSum ? profile.summarize(moments.informative.count) : summarizeProfile(moments);
  if (summary === null || profile === null) return null;
  const bins = profile instanceof ProfileSum ? profile.bins : profile.hits.length;
  const hitAt = profile instanceof ProfileSum ? (b: number): number => profile.at(b) : (b: number): number => profile.hits[b]!;
  const atPeak = summary.hitShare * summary.informative;
  // At a parent's weight (a bin edge) the larger neighbour, so the test stays conservative.
  const atWeight = (w: number): number => {
    const position = (w - profile.lo) / profile.width - 0.5;
    const below = Math.min(bins - 1, Math.max(0, Math.floor(position)));
    const above = Math.min(bins - 1, Math.max(0, Math.ceil(position)));
    return Math.max(hitAt(below), hitAt(above));
  };
  const hitsAt = (w: number): number | null => {
    const bin = Math.round((w - profile.lo) / profile.width - 0.5);
    return bin >= 0 && bin < bins ? hitAt(bin) : null;
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

  // Hits are counts, so never below 0, and most bins of a tensor's profile are 0 (of
  // the bench trios' 4,001, ~800 are not: intervals gather around the weight). The
  // passes below run over [first, end), from the first bin that is not 0 to the last;
  // the zeros outside enter by their number.
  // A scan's profile says which bins may hold hits (TensorMoments.profile): the walks
  // start there. With none in it (an empty range, or only zeros) first passes its end,
  // and end starts from first: no hit anywhere, as for a profile of zeros.
  let first = profile.first ?? 0;
  while (first < bins && hits[first] === 0) first++;
  let end = Math.max(first, profile.end ?? bins);
  while (end > first && hits[end - 1] === 0) end--;
  // Only if none is below 0 are the zeros outside among the smallest: a profile with a
  // negative value (never a scan's; a weighted sum's test can make one) is taken whole.
  for (let b = first; b < end; b++) {
    if (hits[b]! < 0) {
      first = 0;
      end = bins;
      break;
    }
  }

  // The plateau: the longest run of bins at the maximum (the first such run on ties).
  // Its middle is the weight most consistent with the elements: an exact blend's
  // intervals all contain the true weight, and their intersection is that run. One
  // pass: a new maximum starts over. With no hit anywhere, the run is every bin.
  let most = first === end ? 0 : -Infinity;
  let bestStart = 0;
  let bestLength = first === end ? bins : 0;
  for (let b = first; b < end; ) {
    const h = hits[b]!;
    if (h < most) {
      b++;
      continue;
    }
    if (h > most) {
      most = h;
      bestLength = 0;
    }
    const start = b;
    while (b < end && hits[b] === most) b++;
    if (b - start > bestLength) {
      bestStart = start;
      bestLength = b - start;
    }
  }
  const centre = (b: number): number => profile.lo + (b + 0.5) * profile.width;
  const peak = (centre(bestStart) + centre(bestStart + bestLength - 1)) / 2;

  // The median of the far bins (the fit runs once per tensor and per expert slice).
  const { first: near, end: nearEnd } = nearRun(profile.lo, profile.width, bins, peak);
  const chance = farMedian(hits, first, end, near, nearEnd);

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

let farScratch = new Float64Array(0);

/**
 * The bins whose centres lie within CHANCE_DISTANCE of `peak`, [first, end): one run,
 * as centres grow with b, grown from the bin nearest the peak (the peak, a plateau's
 * middle, is within half a bin of a centre, so that bin is near).
 */
function nearRun(lo: number, width: number, bins: number, peak: number): { first: number; end: number } {
  const near = (b: number): boolean => !(Math.abs(lo + (b + 0.5) * width - peak) > CHANCE_DISTANCE);
  const peakBin = Math.min(bins - 1, Math.max(0, Math.round((peak - lo) / width - 0.5)));
  let first = peakBin;
  while (first > 0 && near(first - 1)) first--;
  let end = peakBin + 1;
  while (end < bins && near(end)) end++;
  return { first, end };
}

/**
 * The median of the hits outside the near bins [near, nearEnd), every hit outside
 * [first, end) being 0: the far bins inside are copied into a reused buffer and
 * selected among, the zeros counted. Zeros sort first (no hit is below 0), so the k-th
 * smallest far hit is 0 for k below their number and else the (k − zeros)-th of the
 * copied ones.
 */
function farMedian(hits: Float64Array, first: number, end: number, near: number, nearEnd: number): number {
  const n = near + hits.length - nearEnd;
  if (n === 0) return 0;
  if (farScratch.length < hits.length) farScratch = new Float64Array(hits.length);
  let copied = 0;
  if (first < Math.min(end, near)) {
    farScratch.set(hits.subarray(first, Math.min(end, near)), 0);
    copied = Math.min(end, near) - first;
  }
  const from = Math.max(first, nearEnd);
  if (from < end) {
    farScratch.set(hits.subarray(from, end), copied);
    copied += end - from;
  }
  const zeros = n - copied;
  const work = farScratch.subarray(0, copied);
  // Selection, not a sort: O(n) where a sort is O(n log n).
  const mid = n >> 1;
  const upper = mid < zeros ? 0 : selectInPlace(work, mid - zeros);
  if (n % 2 === 1) return upper;
  let lower = mid - 1 < zeros ? 0 : -Infinity;
  // After selecting position mid − zeros, the copied hits before it are the smaller ones.
  for (let i = 0; i < mid - zeros; i++) if (work[i]! > lower) lower = work[i]!;
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

/** Bins per block of the bounds a ProfileSum keeps: 126 blocks of the 4,001 bins. */
const SUM_BLOCK_BINS = 32;

/**
 * An exact-hit profile that is a weighted sum Σ_g c_g · parts[g] of other profiles
 * (a bootstrap replicate: groups of blocks resampled with replacement, c_g the times
 * group g is drawn; fit/sampling-intervals.ts), summarized without adding up every bin.
 *
 * Why: adding ~10 parts over 4,001 bins, then the max, the plateau and the median of
 * the far bins, was nearly all of a replicate's refit, ×100 replicates × ~2,900
 * tensors. But a summary depends on few bins: the maximum lies where the parts are
 * high, and the chance level (a median) is decided by the bins whose value is near it.
 * So each part keeps its smallest and largest hits per block of SUM_BLOCK_BINS bins;
 * a weighting bounds every bin of a block from both sides for the cost of one bin,
 * and only the blocks those bounds cannot settle are added up bin by bin.
 *
 * The result is bit for bit `summarizeProfile` of the added-up profile (test/fit/
 * sampling-intervals.test.ts checks it): a bin is always summed over the parts in
 * their order, exactly as adding the parts one after another into a zeroed profile
 * does, and a bound is the same sum over per-block extremes, which rounding keeps on
 * the right side of every bin (rounding is monotone).
 */
export class ProfileSum {
  readonly bins: number;
  private readonly blocks: number;
  /** Each part's smallest and largest hits per block, at [part · blocks + block]. */
  private readonly partLow: Float64Array;
  private readonly partHigh: Float64Array;
  private readonly weights: Float64Array;
  /** This weighting's bounds per block, and the exact bins of the blocks added up. */
  private readonly low: Float64Array;
  private readonly high: Float64Array;
  private readonly values: Float64Array;
  private readonly known: Uint8Array;
  private dense: Float64Array | null = null;
  /** Scratch of the median: each block's far bins (count, bounds), and weighted values to rank. */
  private readonly farLow: Float64Array;
  private readonly farHigh: Float64Array;
  private readonly farCount: Int32Array;
  private readonly entryValue: Float64Array;
  private readonly entryWeight: Float64Array;

  constructor(
    private readonly parts: readonly Float64Array[],
    readonly lo: number,
    readonly width: number,
  ) {
    this.bins = parts[0]?.length ?? 0;
    this.blocks = Math.ceil(this.bins / SUM_BLOCK_BINS);
    this.partLow = new Float64Array(parts.length * this.blocks);
    this.partHigh = new Float64Array(parts.length * this.blocks);
    for (const [g, part] of parts.entries()) {
      if (part.length !== this.bins) throw new RangeError('ProfileSum: parts of different lengths');
      for (let block = 0; block < this.blocks; block++) {
        let least = Infinity;
        let most = -Infinity;
        for (let b = block * SUM_BLOCK_BINS; b < Math.min(this.bins, (block + 1) * SUM_BLOCK_BINS); b++) {
          const v = part[b]!;
          if (v < least) least = v;
          if (v > most) most = v;
        }
        this.partLow[g * this.blocks + block] = least;
        this.partHigh[g * this.blocks + block] = most;
      }
    }
    this.weights = new Float64Array(parts.length);
    this.low = new Float64Array(this.blocks);
    this.high = new Float64Array(this.blocks);
    this.values = new Float64Array(this.bins);
    this.known = new Uint8Array(this.blocks);
    this.farLow = new Float64Array(this.blocks);
    this.farHigh = new Float64Array(this.blocks);
    this.farCount = new Int32Array(this.blocks);
    this.entryValue = new Float64Array(Math.max(this.bins, this.blocks));
    this.entryWeight = new Float64Array(Math.max(this.bins, this.blocks));
  }

  /** Sets the weights c_g (≥ 0; a part of weight 0 is left out, as an undrawn group). */
  weigh(weights: ArrayLike<number>): void {
    const parts = this.parts.length;
    for (let g = 0; g < parts; g++) this.weights[g] = weights[g]!;
    this.dense = null;
    this.known.fill(0);
    for (let block = 0; block < this.blocks; block++) {
      let low = 0;
      let high = 0;
      for (let g = 0; g < parts; g++) {
        const c = this.weights[g]!;
        if (c === 0) continue;
        low += c * this.partLow[g * this.blocks + block]!;
        high += c * this.partHigh[g * this.blocks + block]!;
      }
      this.low[block] = low;
      this.high[block] = high;
    }
  }

  /** Every bin (added up on first use). */
  get hits(): Float64Array {
    if (this.dense === null) {
      for (let block = 0; block < this.blocks; block++) this.addUp(block);
      this.dense = this.values;
    }
    return this.dense;
  }

  /** Bin `b` of the sum. */
  at(b: number): number {
    if (this.known[Math.floor(b / SUM_BLOCK_BINS)] === 1) return this.values[b]!;
    let sum = 0;
    for (let g = 0; g < this.parts.length; g++) {
      const c = this.weights[g]!;
      if (c !== 0) sum += c * this.parts[g]![b]!;
    }
    return sum;
  }

  /** summarizeProfile of the sum, for `informative` informative elements. */
  summarize(informative: number): ExactHitProfile | null {
    const bins = this.bins;
    if (informative <= 0 || bins === 0) return null;
    const { low, high, values, known } = this;

    // The maximum: add up the block with the highest floor, then every block whose
    // ceiling reaches the maximum found so far (a block below it holds no maximal bin).
    let first = 0;
    for (let block = 1; block < this.blocks; block++) if (low[block]! > low[first]!) first = block;
    let most = this.addUp(first);
    for (let block = 0; block < this.blocks; block++) {
      if (known[block] === 1 || high[block]! >= most) most = Math.max(most, this.addUp(block));
    }

    // The plateau, as summarizeProfile finds it; blocks not added up are below the maximum.
    let bestStart = 0;
    let bestLength = 0;
    for (let b = 0; b < bins; ) {
      if (known[Math.floor(b / SUM_BLOCK_BINS)] === 0) {
        b = (Math.floor(b / SUM_BLOCK_BINS) + 1) * SUM_BLOCK_BINS;
        continue;
      }
      if (values[b] !== most) {
        b++;
        continue;
      }
      const start = b;
      while (b < bins && known[Math.floor(b / SUM_BLOCK_BINS)] === 1 && values[b] === most) b++;
      if (b - start > bestLength) {
        bestStart = start;
        bestLength = b - start;
      }
    }
    const centre = (b: number): number => this.lo + (b + 0.5) * this.width;
    const peak = (centre(bestStart) + centre(bestStart + bestLength - 1)) / 2;

    return {
      peak,
      plateau: bestLength * this.width,
      hitShare: most / informative,
      chanceShare: this.farMedian(peak) / informative,
      informative,
    };
  }

  /** The median of the bins farther than CHANCE_DISTANCE from `peak` (summarizeProfile's chance level). */
  private farMedian(peak: number): number {
    const bins = this.bins;
    const { first: nearFirst, end } = nearRun(this.lo, this.width, bins, peak);
    const nearLast = end - 1;
    const count = bins - (nearLast - nearFirst + 1);
    if (count === 0) return 0;
    const upperRank = count >> 1;

    // Blocks the near run cuts are added up, so that the far bins of a block not added
    // up are all of it. Then each block's far bins: how many, and bounds (exact extremes
    // where added up).
    for (let block = Math.floor(nearFirst / SUM_BLOCK_BINS); block <= Math.floor(nearLast / SUM_BLOCK_BINS); block++) this.addUp(block);
    const { values, known, farLow, farHigh, farCount } = this;
    for (let block = 0; block < this.blocks; block++) {
      const from = block * SUM_BLOCK_BINS;
      const to = Math.min(bins, from + SUM_BLOCK_BINS);
      if (known[block] === 0) {
        farCount[block] = to - from;
        farLow[block] = this.low[block]!;
        farHigh[block] = this.high[block]!;
        continue;
      }
      let n = 0;
      let least = Infinity;
      let most = -Infinity;
      for (let b = from; b < to; b++) {
        if (b >= nearFirst && b <= nearLast) continue;
        const v = values[b]!;
        n++;
        if (v < least) least = v;
        if (v > most) most = v;
      }
      farCount[block] = n;
      farLow[block] = least;
      farHigh[block] = most;
    }

    // The median's lower rank is at least that rank among the blocks' floors, its upper
    // at most that rank among their ceilings: only bins between the two can be it.
    const { entryValue, entryWeight } = this;
    const blockEntries = (bound: Float64Array): number => {
      let n = 0;
      for (let block = 0; block < this.blocks; block++) {
        if (farCount[block] === 0) continue;
        entryValue[n] = bound[block]!;
        entryWeight[n++] = farCount[block]!;
      }
      return n;
    };
    const lowerRank = count % 2 === 1 ? upperRank : upperRank - 1;
    const floor = weightedRank(entryValue, entryWeight, blockEntries(farLow), lowerRank);
    const ceiling = weightedRank(entryValue, entryWeight, blockEntries(farHigh), upperRank);
    let below = 0;
    let open = 0;
    for (let block = 0; block < this.blocks; block++) {
      const n = farCount[block]!;
      if (n === 0) continue;
      if (farHigh[block]! < floor) {
        below += n;
        continue;
      }
      if (farLow[block]! > ceiling) continue;
      if (farLow[block] === farHigh[block]) {
        // Every far bin of the block has that value (most blocks, where hits are rare).
        entryValue[open] = farLow[block]!;
        entryWeight[open++] = n;
        continue;
      }
      this.addUp(block);
      const from = block * SUM_BLOCK_BINS;
      const to = Math.min(bins, from + SUM_BLOCK_BINS);
      for (let b = from; b < to; b++) {
        if (b >= nearFirst && b <= nearLast) continue;
        const v = values[b]!;
        if (v < floor) below++;
        else if (v <= ceiling) {
          entryValue[open] = v;
          entryWeight[open++] = 1;
        }
      }
    }
    const upper = weightedRank(entryValue, entryWeight, open, upperRank - below);
    if (count % 2 === 1) return upper;
    return (weightedRank(entryValue, entryWeight, open, upperRank - 1 - below) + upper) / 2;
  }

  /** Adds up the bins of `block` (once per weighting); returns their maximum. */
  private addUp(block: number): number {
    const from = block * SUM_BLOCK_BINS;
    const to = Math.min(this.bins, from + SUM_BLOCK_BINS);
    const values = this.values;
    if (this.known[block] === 0) {
      for (let b = from; b < to; b++) values[b] = 0;
      for (let g = 0; g < this.parts.length; g++) {
        const c = this.weights[g]!;
        if (c === 0) continue;
        const part = this.parts[g]!;
        for (let b = from; b < to; b++) values[b]! += c * part[b]!;
      }
      this.known[block] = 1;
    }
    let most = -Infinity;
    for (let b = from; b < to; b++) if (values[b]! > most) most = values[b]!;
    return most;
  }
}

/**
 * The `rank`-th smallest (from 0) of the multiset holding values[i] weights[i] times,
 * i < n (reorders both): quickselect with a three-way partition, so that runs of equal
 * values (the bins where hits are rare are mostly 0) cost one step.
 */
function weightedRank(values: Float64Array, weights: Float64Array, n: number, rank: number): number {
  let left = 0;
  let right = n;
  for (;;) {
    const pivot = values[left + ((right - left) >> 1)]!;
    let less = left;
    let at = left;
    let greater = right;
    let lessWeight = 0;
    let equalWeight = 0;
    while (at < greater) {
      const v = values[at]!;
      if (v < pivot) {
        swapEntries(values, weights, less, at);
        lessWeight += weights[less]!;
        less++;
        at++;
      } else if (v > pivot) {
        greater--;
        swapEntries(values, weights, at, greater);
      } else {
        equalWeight += weights[at]!;
        at++;
      }
    }
    if (rank < lessWeight) right = less;
    else if (rank < lessWeight + equalWeight) return pivot;
    else {
      rank -= lessWeight + equalWeight;
      left = greater;
    }
  }
}

function swapEntries(values: Float64Array, weights: Float64Array, i: number, j: number): void {
  const v = values[i]!;
  values[i] = values[j]!;
  values[j] = v;
  const w = weights[i]!;
  weights[i] = weights[j]!;
  weights[j] = w;
}
