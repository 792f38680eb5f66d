import { solveNormalEquations } from '../normal-equations.js';
import type { ElementwiseSums } from '../../engine/recipes/elementwise-sums.js';

export interface ElementwiseReading {
  /** Task parents (every parent but the base), --parents order. */
  taskParents: number[];
  /** changedKeptBase / changed: share of elements some parent changed that the suspect leaves at the base. */
  keptBaseShare: number | null;
  /** The same where every task parent changed the element. */
  allMovedKeptBaseShare: number | null;
  /** 1 − allMovedKeptBaseShare^(1/m): the density that drops every task delta that often (DARE, independent masks). */
  densityFromKeptBase: number | null;
  /** (allMoved / finite)^(1/m): the typical share of a task vector's entries that are not zero. */
  nonzeroShare: number | null;
  /** largeKeptBase / large: the same share where some delta is large; near 0 for any weighted sum. */
  largeKeptBaseShare: number | null;
  /**
   * Density from the residual variance of the scales over large elements: randomly
   * dropping deltas with probability 1 − p (and rescaling by 1/p or not — that only
   * moves the scale) leaves rss ≈ (1/p − 1)·Σ λ_j²‖d_j‖², so p ≈ explained/(explained + rss).
   */
  densityFromVariance: number | null;
  /** Per task parent: least-squares scale of its delta over all large elements (task-arithmetic λ). */
  scales: (number | null)[];
  /**
   * Per task parent: scale over moved elements ÷ scale over all large ones. With one
   * task parent this is 1/density (survivors carry the whole change); with m parents
   * and independent drops, 1/(1 − (1 − p)^m).
   */
  rescale: (number | null)[];
  /** conflictsAtParent / conflicts: sign conflicts resolved to exactly one parent (TIES). */
  conflictAtParentShare: number | null;
  /** agreementsAtParent / agreements: the control where deltas agree. */
  agreementAtParentShare: number | null;
}

function share(part: number, whole: number): number | null {
  return whole > 0 ? part / whole : null;
}

function scalesOver(gram: Float64Array, m: number): (number | null)[] {
  const columns = Array.from({ length: m - 1 }, (_, q) => q);
  const solution = solveNormalEquations(gram, m, columns, m - 1);
  return columns.map((q) => {
    const unit = new Float64Array(m - 1);
    unit[q] = 1;
    return solution.identifiable(unit) ? solution.coefficients[q]! : null;
  });
}

/** What the element-wise sums say, as plain numbers; `classifyElementwise` turns them into a method. */
export function readElementwise(sums: ElementwiseSums): ElementwiseReading {
  const k = sums.parents;
  const m = k;
  const taskParents = Array.from({ length: k }, (_, j) => j).filter((j) => j !== sums.reference);
  const allMovedShare = share(sums.allMovedKeptBase, sums.allMoved);
  const scales = scalesOver(sums.largeGram, m);
  const movedScales = scalesOver(sums.movedGram, m);
  const rescale = scales.map((s, q) => {
    const moved = movedScales[q];
    return s === null || moved === null || moved === undefined || Math.abs(s) < 1e-12 ? null : moved / s;
  });
  return {
    taskParents,
    keptBaseShare: share(sums.changedKeptBase, sums.changed),
    allMovedKeptBaseShare: allMovedShare,
    densityFromKeptBase: allMovedShare === null || taskParents.length === 0 ? null : 1 - allMovedShare ** (1 / taskParents.length),
    nonzeroShare: sums.finite > 0 && taskParents.length > 0 ? (sums.allMoved / sums.finite) ** (1 / taskParents.length) : null,
    largeKeptBaseShare: share(sums.largeKeptBase, sums.large),
    densityFromVariance: densityFromVariance(sums.largeGram, m, scales),
    scales,
    rescale,
    conflictAtParentShare: share(sums.conflictsAtParent, sums.conflicts),
    agreementAtParentShare: share(sums.agreementsAtParent, sums.agreements),
  };
}

function densityFromVariance(gram: Float64Array, m: number, scales: readonly (number | null)[]): number | null {
  if (scales.some((s) => s === null)) return null;
  let explained = 0;
  let cross = 0;
  for (let a = 0; a < m - 1; a++) {
    explained += scales[a]! * scales[a]! * gram[a * m + a]!;
    for (let b = 0; b < m - 1; b++) if (a !== b) cross += scales[a]! * scales[b]! * gram[a * m + b]!;
    cross -= 2 * scales[a]! * gram[a * m + m - 1]!;
  }
  const rss = Math.max(0, gram[(m - 1) * m + m - 1]! + explained + cross);
  return explained > 0 ? explained / (explained + rss) : null;
}

/**
 * Thresholds of classifyElementwise, from test/fit/recipes/elementwise.test.ts's
 * synthetic merges (three tensors of fine-tunes 2 and 8 bf16 steps from the base):
 * where some delta is ≥ 4 steps, weighted sums (linear, task arithmetic) and a
 * fine-tune leave 1–3% of elements at the base, TIES and breadcrumbs at density 0.5
 * 15–24%, DARE at 0.3 about 50%.
 */
export const ELEMENTWISE_MIN_LARGE_KEPT_BASE = 0.08;
/** Random drops leave the variance-implied density next to the count-implied one (0.27–0.32 vs 0.29–0.30); magnitude pruning drops only small deltas, so the variance says far more survived (0.79–0.84 vs 0.48–0.51). */
export const RANDOM_DROP_MAX_DENSITY_GAP = 0.12;
/** TIES resolves 69–73% of sign conflicts to exactly one parent against 42–43% of agreements; without sign election ≤ 1%. */
export const ELECTION_MIN_CONFLICT_AT_PARENT = 0.5;
export const ELECTION_MIN_MARGIN = 0.15;

export type ElementwiseMethod = 'ties' | 'dare' | 'magnitude-pruned' | 'element-wise';

/**
 * mergekit's methods that each reading cannot tell apart, by their mergekit names.
 * Measured on fixtures/recipes (docs/forensics.md): breadcrumbs_ties differs from TIES
 * only by also dropping the top γ (1%) of |Δ|; rescaled survivors hide dare_ties's
 * election; DELLA drops at random too, its keep probability only tilted ±ε by |Δ| rank
 * (della at density 0.5, ε 0.1 reads as DARE at 0.52 with the rescale DARE predicts).
 */
export const CONSISTENT_MERGEKIT_METHODS: Readonly<Record<Exclude<ElementwiseMethod, 'element-wise'>, readonly string[]>> = {
  ties: ['ties', 'breadcrumbs_ties'],
  dare: ['dare_linear', 'dare_ties', 'della', 'della_linear'],
  'magnitude-pruned': ['breadcrumbs'],
};

export interface ElementwiseFinding {
  method: ElementwiseMethod;
  /**
   * Density per task vector: the share of its entries kept. From the base-kept count;
   * for magnitude pruning times the non-zero share, since a top-k by |Δ| counts the
   * zero entries of a task vector (parents a few steps from the base leave many) while
   * a random drop treats every entry alike.
   */
  density: number;
  /** Whether sign conflicts are resolved to one parent (TIES's election, visible when survivors are not rescaled). */
  signElection: boolean;
  /** CONSISTENT_MERGEKIT_METHODS of `method`; empty for the unrecognised 'element-wise'. */
  consistentWith: readonly string[];
}

/**
 * Which element-wise merge the sums show, or null when the suspect is consistent with
 * a weighted sum (linear, SLERP, task arithmetic) or a fine-tune: few large deltas end
 * at the base. Random dropping (DARE, with or without sign election: rescaled survivors
 * hide the election) keeps as much variance as it keeps elements; magnitude pruning
 * (TIES, breadcrumbs) keeps the large deltas and so most of the variance; TIES alone
 * resolves conflicts to one parent.
 */
export function classifyElementwise(reading: ElementwiseReading): ElementwiseFinding | null {
  const { largeKeptBaseShare, densityFromKeptBase, densityFromVariance, conflictAtParentShare, agreementAtParentShare } = reading;
  if (largeKeptBaseShare === null || densityFromKeptBase === null || largeKeptBaseShare < ELEMENTWISE_MIN_LARGE_KEPT_BASE) return null;
  const signElection =
    conflictAtParentShare !== null &&
    conflictAtParentShare >= ELECTION_MIN_CONFLICT_AT_PARENT &&
    conflictAtParentShare - (agreementAtParentShare ?? 0) >= ELECTION_MIN_MARGIN;
  let method: ElementwiseMethod = 'element-wise';
  if (densityFromVariance !== null && Math.abs(densityFromVariance - densityFromKeptBase) <= RANDOM_DROP_MAX_DENSITY_GAP) method = 'dare';
  else if (densityFromVariance !== null && densityFromVariance > densityFromKeptBase) method = signElection ? 'ties' : 'magnitude-pruned';
  const magnitude = method === 'ties' || method === 'magnitude-pruned';
  const density = magnitude && reading.nonzeroShare !== null ? densityFromKeptBase * reading.nonzeroShare : densityFromKeptBase;
  return { method, density, signElection, consistentWith: method === 'element-wise' ? [] : CONSISTENT_MERGEKIT_METHODS[method] };
}

/**
 * What readElementwise's `rescale` should be for a method at a density with m task
 * parents: random drops that divide survivors by the density (DARE) move the fit where
 * the suspect moved by 1/(1 − (1 − p)^m) — 1/p with one task parent, less with more,
 * since an element moves when any one delta survives; magnitude pruning (TIES,
 * breadcrumbs) keeps deltas as they were, so 1.
 */
export function expectedRescale(method: ElementwiseMethod, density: number, taskParents: number): number {
  if (method !== 'dare' || !(density > 0) || taskParents < 1) return 1;
  return 1 / (1 - (1 - Math.min(1, density)) ** taskParents);
}
