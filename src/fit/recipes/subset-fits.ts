import type { TensorMoments } from '../../engine/moments.js';
import { residualSumOfSquares, solveNormalEquations } from '../normal-equations.js';
import { MIN_INFORMATIVE_PER_WEIGHT } from '../tensor-fit.js';

/**
 * Blend fits of one tensor restricted to every non-empty subset of the candidate
 * parents, from its moments alone: the raw material of parent discovery ("given eight
 * candidates, which ones explain the suspect?").
 *
 * A subset S is fitted as s ≈ Σ_{j∈S} w_j p_j with Σ w_j = 1. In the moments' vectors
 * (r the reference, d_j = p_j − r, e = s − r) that is e ≈ Σ_{j∈S} w_j d_j (d_ref = 0):
 * when the reference is in S the others' coefficients are free (the reference takes the
 * rest); otherwise the first member p of S takes the rest, e − d_p ≈ Σ_{j≠p} w_j (d_j − d_p).
 * The Gram of those combinations follows from the moments' Gram, so no subset needs
 * another read. Weights come from the informative elements when there are enough (as in
 * fitTensor: least squares over all elements is biased when parents differ by few
 * rounding steps), and every residual is over all used elements.
 */
export interface SubsetFits {
  readonly parents: number;
  /** Bit j of a subset's index is parent j (--parents order); index 0 is unused. */
  readonly rss: Float64Array;
  /** Row-major (2^k) × k: the subset's weight per parent (0 outside the subset, NaN where not identifiable). */
  readonly weights: Float64Array;
  readonly floor: number;
  readonly used: number;
}

/** Above this many candidates the 2^k subsets stop being cheap; discovery is for 4–8 candidates. */
export const MAX_DISCOVERY_PARENTS = 12;

/** One vector of the moments' basis combined linearly: Σ coefficient·basis[index]. */
type Combination = { index: number; coefficient: number }[];

function combinedGram(gram: Float64Array, stride: number, vectors: readonly Combination[]): Float64Array {
  const m = vectors.length;
  const out = new Float64Array(m * m);
  for (let a = 0; a < m; a++) {
    for (let b = a; b < m; b++) {
      let sum = 0;
      for (const x of vectors[a]!) for (const y of vectors[b]!) sum += x.coefficient * y.coefficient * gram[x.index * stride + y.index]!;
      out[a * m + b] = sum;
      out[b * m + a] = sum;
    }
  }
  return out;
}

export function subsetFits(moments: TensorMoments): SubsetFits {
  const k = moments.parents;
  if (k > MAX_DISCOVERY_PARENTS) throw new Error(`subsetFits: ${k} parents; at most ${MAX_DISCOVERY_PARENTS}`);
  const stride = k + 1;
  const reference = moments.reference;
  // Basis index of each parent's difference vector; the reference's is the zero vector.
  const basisOf = new Array<number>(k).fill(-1);
  for (let j = 0, q = 1; j < k; j++) if (j !== reference) basisOf[j] = q++;
  const target = k;
  const subsets = 1 << k;
  const rss = new Float64Array(subsets);
  const weights = new Float64Array(subsets * k);
  const useInformative = (free: number): boolean => moments.informative.count >= MIN_INFORMATIVE_PER_WEIGHT * Math.max(1, free);

  for (let mask = 1; mask < subsets; mask++) {
    const members: number[] = [];
    for (let j = 0; j < k; j++) if (mask & (1 << j)) members.push(j);
    const pivot = members.includes(reference) ? reference : members[0]!;
    const free = members.filter((j) => j !== pivot);
    // Vectors: (d_j − d_pivot) for each free member, then the target e − d_pivot.
    const pivotTerms = (sign: number): Combination => (basisOf[pivot]! < 0 ? [] : [{ index: basisOf[pivot]!, coefficient: sign }]);
    const vectors: Combination[] = free.map((j) => [{ index: basisOf[j]!, coefficient: 1 }, ...pivotTerms(-1)].filter((t) => t.index >= 0));
    vectors.push([{ index: target, coefficient: 1 }, ...pivotTerms(-1)]);
    const m = vectors.length;
    const columns = free.map((_, i) => i);
    const allGram = combinedGram(moments.gram, stride, vectors);
    const estimatingGram = useInformative(free.length) ? combinedGram(moments.informative.gram, stride, vectors) : allGram;
    const solution = solveNormalEquations(estimatingGram, m, columns, m - 1);
    const c = solution.coefficients;
    rss[mask] = residualSumOfSquares(allGram, m, columns, m - 1, c);
    const row = mask * k;
    let rest = 1;
    let restKnown = true;
    for (let i = 0; i < free.length; i++) {
      const unit = new Float64Array(free.length);
      unit[i] = 1;
      const known = solution.identifiable(unit);
      weights[row + free[i]!] = known ? c[i]! : NaN;
      rest -= c[i]!;
      restKnown &&= known;
    }
    weights[row + pivot] = restKnown ? rest : NaN;
  }
  return { parents: k, rss, weights, floor: moments.floor, used: moments.used };
}
