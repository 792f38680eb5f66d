import { addElementwiseSums, clearElementwiseSums, emptyElementwiseSums, type ElementwiseSums } from './recipes/elementwise-sums.js';

/**
 * The narrow waist: per-tensor sums from which every statistic is derived
 * (statistics.md). All fields are additive, so a tensor split into element ranges,
 * processed anywhere, gives the same moments once the parts are added (`addMoments`).
 *
 * Vectors, for k parents with reference index `reference` (the --base parent, or the
 * first): r = the reference's values, d_j = p_j - r for every other parent j in
 * --parents order, e = s - r. The Gram matrix is over the m = k + 1 vectors
 * [r, d_1 … d_{k-1}, e], row-major, symmetric.
 */
export interface TensorMoments {
  readonly parents: number;
  readonly reference: number;
  /** Elements seen (finite or not). */
  elements: number;
  /** Elements finite in the suspect and every parent: the ones all sums cover. */
  used: number;
  /** Elements excluded because a value was NaN or ±Infinity in some input. */
  nonFinite: number;
  /** (k+1)² dot products over the used elements. */
  readonly gram: Float64Array;
  /** Σ ulp(s_i)²/12: expected squared rounding error of an exact blend stored as s. */
  floor: number;
  /** Σ ulp(s_i)⁴/180: variance of that squared error. */
  floorVar: number;
  /**
   * Per parent (k, --parents order): Σ ulp(p_j,i)²/12 over used elements, the parents'
   * own rounding noise (`--floor all`; zeros when the scan did not read parent cells).
   */
  readonly parentFloor: Float64Array;
  /** Per parent (k, --parents order): #{i : s_i == p_j,i} over used elements. */
  readonly equal: Float64Array;
  /** #{i : all parents equal at i}: where no blend weight can be seen. */
  parentsEqual: number;
  /**
   * Informative elements: max_j |d_ij| ≥ threshold·ulp(s_i). There the suspect's
   * rounding is nearly independent of the parents, so least squares is unbiased.
   */
  informative: {
    count: number;
    readonly gram: Float64Array;
    floor: number;
    /** As `parentFloor`, over the informative elements. */
    readonly parentFloor: Float64Array;
  };
  /**
   * Exact-hit profile (two parents only, else null): for each informative element the
   * interval of w with round(r + w·d) == s (in the suspect's format) is added to a
   * histogram over w; hits[b] counts the informative elements reproduced exactly by the
   * weight at the centre of bin b. Bins: [lo + b·width, lo + (b+1)·width).
   * `[first, end)`, when given, holds every bin that is not 0 (a scan knows which bins
   * its intervals touched: ~800 of 4,001 on the bench trios), so that adding, clearing
   * and summarizing skip the rest; absent, any bin may hold hits. Code that writes hits
   * itself leaves it absent or whole, as `emptyMoments` and `clearMoments` do.
   */
  readonly profile: { readonly lo: number; readonly width: number; readonly hits: Float64Array; first?: number; end?: number } | null;
  /**
   * The element-wise evidence of TIES/DARE-style merges (elementwise-sums.ts), summed in
   * the same read: it needs no fitted weight, so it costs no second pass.
   */
  readonly elementwise: ElementwiseSums;
}

export const PROFILE_BIN = 0.0005;
/**
 * Bins are centred on the multiples of PROFILE_BIN from −0.5 to 1.5, so that round
 * weights (0.6, 0.5, 0.25 …) are bin centres: the hits of an exact blend at 0.6 are
 * counted at 0.6, not half a bin away, where elements whose interval is narrower than a
 * bin (parents tens of ulps apart) would be missed (a 0.5 blend read 77.5% instead of 100%).
 */
export const PROFILE_LO = -0.5 - PROFILE_BIN / 2;
export const PROFILE_BINS = 4001;
export const PROFILE_HI = PROFILE_LO + PROFILE_BINS * PROFILE_BIN;

/** `withProfile` false: no exact-hit profile even for two parents (moments rebuilt from a report's sums, which have none). */
export function emptyMoments(parents: number, reference: number, withProfile = true): TensorMoments {
  const m = parents + 1;
  return {
    parents,
    reference,
    elements: 0,
    used: 0,
    nonFinite: 0,
    gram: new Float64Array(m * m),
    floor: 0,
    floorVar: 0,
    parentFloor: new Float64Array(parents),
    equal: new Float64Array(parents),
    parentsEqual: 0,
    informative: { count: 0, gram: new Float64Array(m * m), floor: 0, parentFloor: new Float64Array(parents) },
    profile:
      parents === 2 && withProfile
        ? { lo: PROFILE_LO, width: PROFILE_BIN, hits: new Float64Array(PROFILE_BINS), first: 0, end: PROFILE_BINS }
        : null,
    elementwise: emptyElementwiseSums(parents, reference),
  };
}

/** Back to `emptyMoments`, keeping the arrays: a scanning thread reuses moments it has sent. */
export function clearMoments(moments: TensorMoments): void {
  clearFitSums(moments);
  moments.parentFloor.fill(0);
  moments.informative.parentFloor.fill(0);
  const profile = moments.profile;
  if (profile) {
    profile.hits.fill(0, profile.first ?? 0, profile.end ?? profile.hits.length);
    profile.first = 0;
    profile.end = profile.hits.length;
  }
  clearElementwiseSums(moments.elementwise);
}

/**
 * The sums the fit reads (fit/tensor-fit.ts) but the profile, zeroed: not the parents'
 * floors (read only under --floor all) nor the element-wise sums (read by forensics).
 * The bootstrap (fit/sampling-intervals.ts) resamples exactly these.
 */
export function clearFitSums(m: TensorMoments): void {
  m.elements = 0;
  m.used = 0;
  m.nonFinite = 0;
  m.gram.fill(0);
  m.floor = 0;
  m.floorVar = 0;
  m.equal.fill(0);
  m.parentsEqual = 0;
  m.informative.count = 0;
  m.informative.gram.fill(0);
  m.informative.floor = 0;
}

/** into += scale · part, over the sums `clearFitSums` names (scale 1 adds exactly). */
export function addFitSums(into: TensorMoments, part: TensorMoments, scale = 1): void {
  into.elements += scale * part.elements;
  into.used += scale * part.used;
  into.nonFinite += scale * part.nonFinite;
  addArray(into.gram, part.gram, scale);
  into.floor += scale * part.floor;
  into.floorVar += scale * part.floorVar;
  addArray(into.equal, part.equal, scale);
  into.parentsEqual += scale * part.parentsEqual;
  into.informative.count += scale * part.informative.count;
  addArray(into.informative.gram, part.informative.gram, scale);
  into.informative.floor += scale * part.informative.floor;
}

/** into += part. Both must describe the same parents and reference. */
export function addMoments(into: TensorMoments, part: TensorMoments): void {
  if (into.parents !== part.parents || into.reference !== part.reference) {
    throw new Error('addMoments: moments of different parent sets');
  }
  addFitSums(into, part);
  addArray(into.parentFloor, part.parentFloor);
  addArray(into.informative.parentFloor, part.informative.parentFloor);
  if (into.profile && part.profile) addProfile(into.profile, part.profile);
  addElementwiseSums(into.elementwise, part.elementwise);
}

/** into += part over part's bins that may hold hits, widening into's range to cover them. */
function addProfile(into: NonNullable<TensorMoments['profile']>, part: NonNullable<TensorMoments['profile']>): void {
  const first = part.first ?? 0;
  const end = part.end ?? part.hits.length;
  const hits = into.hits;
  const added = part.hits;
  for (let b = first; b < end; b++) hits[b]! += added[b]!;
  if (first < end) {
    into.first = Math.min(into.first ?? 0, first);
    into.end = Math.max(into.end ?? hits.length, end);
  }
}

function addArray(into: Float64Array, part: Float64Array, scale = 1): void {
  for (let i = 0; i < into.length; i++) into[i]! += scale * part[i]!;
}
