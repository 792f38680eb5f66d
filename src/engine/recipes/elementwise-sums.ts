import type { ElementwiseSumsRecord } from '../../report-schema.js';
import { sameBits } from './merge-arithmetic.js';

/**
 * Additive per-tensor sums that reveal element-wise merges (TIES, DARE, breadcrumbs,
 * DELLA), which a weighted sum cannot describe: they drop most of each parent's change
 * from the base element by element, rescale what survives, and resolve sign conflicts
 * by election. Defined relative to the base (the reference, --base): r = base,
 * d_j = p_j − r for each task parent j ≠ reference, e = s − r. Over finite elements:
 *
 * - changed: some d_j ≠ 0;            changedKeptBase: … and s == r (bit for bit).
 * - allMoved: every d_j ≠ 0;          allMovedKeptBase: … and s == r. Under DARE with
 *   density p and m task parents (independent masks) this share is (1 − p)^m; a
 *   weighted sum lands on the base only by rounding.
 * - large: max_j |d_j| ≥ T·ulp(s) (T = informativeUlps, as in TensorMoments), the
 *   elements where rounding cannot mimic a merge's choices. Among them:
 *   conflicts: two task deltas of opposite signs, each ≥ T·ulp(s); conflictsAtParent:
 *   … and s equals one of the task parents bit for bit (TIES keeps only the elected
 *   sign, so with one survivor s = base + d_j = p_j); agreements / agreementsAtParent:
 *   the same with all large deltas of one sign (the control: a blend of agreeing deltas
 *   lands between them).
 * - moved: large and s ≠ r; movedGram: the Gram of [d_1 … d_{m}, e] (task parents in
 *   --parents order, then e) over moved elements, and largeGram over all large ones.
 *   DARE divides survivors by p: e regressed on d_j over moved elements gives about
 *   λ_j/p, over all large elements λ_j.
 */
/**
 * The sums in memory: the report's record (src/report-schema.ts, where every field is
 * described) with its two Gram matrices as typed arrays.
 */
export interface ElementwiseSums extends Omit<ElementwiseSumsRecord, 'parents' | 'reference' | 'movedGram' | 'largeGram'> {
  readonly parents: number;
  readonly reference: number;
  /** m+1 square (m = parents − 1), row-major. */
  readonly movedGram: Float64Array;
  readonly largeGram: Float64Array;
}

export function emptyElementwiseSums(parents: number, reference: number): ElementwiseSums {
  const m = parents;
  return {
    parents,
    reference,
    finite: 0,
    changed: 0,
    changedKeptBase: 0,
    allMoved: 0,
    allMovedKeptBase: 0,
    large: 0,
    largeKeptBase: 0,
    conflicts: 0,
    conflictsAtParent: 0,
    agreements: 0,
    agreementsAtParent: 0,
    moved: 0,
    movedGram: new Float64Array(m * m),
    largeGram: new Float64Array(m * m),
  };
}

/** Back to the empty sums, keeping the arrays (a scanner reuses its moments). */
export function clearElementwiseSums(sums: ElementwiseSums): void {
  sums.finite = 0;
  sums.changed = 0;
  sums.changedKeptBase = 0;
  sums.allMoved = 0;
  sums.allMovedKeptBase = 0;
  sums.large = 0;
  sums.largeKeptBase = 0;
  sums.conflicts = 0;
  sums.conflictsAtParent = 0;
  sums.agreements = 0;
  sums.agreementsAtParent = 0;
  sums.moved = 0;
  sums.movedGram.fill(0);
  sums.largeGram.fill(0);
}

export function addElementwiseSums(into: ElementwiseSums, part: ElementwiseSums): void {
  if (into.parents !== part.parents || into.reference !== part.reference) throw new Error('addElementwiseSums: sums of different parent sets');
  into.finite += part.finite;
  into.changed += part.changed;
  into.changedKeptBase += part.changedKeptBase;
  into.allMoved += part.allMoved;
  into.allMovedKeptBase += part.allMovedKeptBase;
  into.large += part.large;
  into.largeKeptBase += part.largeKeptBase;
  into.conflicts += part.conflicts;
  into.conflictsAtParent += part.conflictsAtParent;
  into.agreements += part.agreements;
  into.agreementsAtParent += part.agreementsAtParent;
  into.moved += part.moved;
  for (let i = 0; i < into.movedGram.length; i++) {
    into.movedGram[i]! += part.movedGram[i]!;
    into.largeGram[i]! += part.largeGram[i]!;
  }
}

/**
 * Adds one decoded chunk (values and the suspect's rounding cells, as decodeWithCell
 * writes them). `vector` is scratch of length `parents` (the task deltas,
 * then e). Plain sums: the chunk totals are small, and a caller splitting a large
 * tensor adds per-chunk sums as the engine does.
 */
export function accumulateElementwise(
  suspect: Float64Array,
  above: Float64Array,
  below: Float64Array,
  parents: readonly Float64Array[],
  count: number,
  informativeUlps: number,
  vector: Float64Array,
  sums: ElementwiseSums,
): void {
  const k = parents.length;
  const m = k;
  const reference = sums.reference;
  const base = parents[reference]!;
  for (let i = 0; i < count; i++) {
    const s = suspect[i]!;
    const r = base[i]!;
    if (!Number.isFinite(s) || !Number.isFinite(r)) continue;
    let finite = true;
    let anyMoved = false;
    let allMoved = true;
    let largest = 0;
    for (let j = 0, q = 0; j < k; j++) {
      if (j === reference) continue;
      const p = parents[j]![i]!;
      if (!Number.isFinite(p)) finite = false;
      const d = p - r;
      vector[q++] = d;
      if (d !== 0) anyMoved = true;
      else allMoved = false;
      const size = d < 0 ? -d : d;
      if (size > largest) largest = size;
    }
    if (!finite) continue;
    sums.finite++;
    const e = s - r;
    vector[m - 1] = e;
    const atBase = sameBits(s, r);
    if (anyMoved) {
      sums.changed++;
      if (atBase) sums.changedKeptBase++;
      if (allMoved) {
        sums.allMoved++;
        if (atBase) sums.allMovedKeptBase++;
      }
    }
    // The suspect's step at s: the larger side of its rounding cell (dtype.ts), as the engine's informative test.
    const up = above[i]!;
    const down = below[i]!;
    const threshold = informativeUlps * (up > down ? up : down);
    if (largest === 0 || largest < threshold) continue;
    sums.large++;
    addOuter(sums.largeGram, vector, m);
    if (atBase) sums.largeKeptBase++;
    else {
      sums.moved++;
      addOuter(sums.movedGram, vector, m);
    }
    let positive = 0;
    let negative = 0;
    let atParent = false;
    for (let j = 0, q = 0; j < k; j++) {
      if (j === reference) continue;
      const d = vector[q++]!;
      if (d >= threshold) positive++;
      else if (-d >= threshold) negative++;
      if (d !== 0 && sameBits(s, parents[j]![i]!)) atParent = true;
    }
    if (positive > 0 && negative > 0) {
      sums.conflicts++;
      if (atParent) sums.conflictsAtParent++;
    } else if (positive + negative >= 2) {
      sums.agreements++;
      if (atParent) sums.agreementsAtParent++;
    }
  }
}

function addOuter(gram: Float64Array, v: Float64Array, m: number): void {
  for (let a = 0; a < m; a++) {
    const va = v[a]!;
    for (let b = 0; b < m; b++) gram[a * m + b]! += va * v[b]!;
  }
}
