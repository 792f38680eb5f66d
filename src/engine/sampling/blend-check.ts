/**
 * The second read of a sampled tensor, at its fitted blend weights: what a full scan's
 * second read (the recipe pass, partial/tensor-recipes.ts) contributes to the verdict,
 * on the same blocks the moments came from —
 * - the residual ‖e − Σ β_j d_j‖² summed element by element (each chunk plainly, the
 *   chunk totals with Neumaier compensation), which the verdict needs where the Gram
 *   formula cancels (a suspect on a 32- or 64-bit grid);
 * - the informative elements (TensorMoments' definition) and how many the blend
 *   reproduces bit for bit, where the fit has no exact-hit profile.
 * Kept here rather than calling the recipe pass so a sampled read does not replay ~30
 * candidate recipes per block: the forensics of a sample are not what its verdict needs.
 */
import { decodeWithCell, encode, floatFormat } from '../../format/dtype.js';
import type { ElementRange, ScanTensor } from '../scan-tensor.js';

export interface BlendCheck {
  /** Elements finite in every input. */
  used: number;
  /** The residual's running sum, and its Neumaier compensation (the total is their sum: `checkedResidual`). */
  rss: number;
  rssCompensation: number;
  informative: number;
  reproduced: number;
}

export function emptyBlendCheck(): BlendCheck {
  return { used: 0, rss: 0, rssCompensation: 0, informative: 0, reproduced: 0 };
}

/** Buffers of one chunk, reused across calls. */
export class BlendCheckScratch {
  readonly suspect: Float64Array;
  readonly above: Float64Array;
  readonly below: Float64Array;
  readonly parents: Float64Array[];

  constructor(
    parents: number,
    readonly chunkElements: number,
  ) {
    this.suspect = new Float64Array(chunkElements);
    this.above = new Float64Array(chunkElements);
    this.below = new Float64Array(chunkElements);
    this.parents = Array.from({ length: parents }, () => new Float64Array(chunkElements));
  }
}

/**
 * Adds to `into` the check of elements `range` of `tensor` at `weights` (per parent,
 * --parents order, summing to 1).
 */
export async function checkBlend(
  tensor: ScanTensor,
  weights: readonly number[],
  reference: number,
  informativeUlps: number,
  range: ElementRange,
  scratch: BlendCheckScratch,
  into: BlendCheck,
): Promise<void> {
  const k = tensor.parents.length;
  const { suspect, above, below, parents, chunkElements } = scratch;
  const grid = tensor.suspectGrid ? floatFormat(tensor.suspectGrid) : null;
  for (let first = range.from; first < range.to; first += chunkElements) {
    const count = Math.min(chunkElements, range.to - first);
    await Promise.all([tensor.suspect.read(first, count, suspect, above, below), ...tensor.parents.map((p, j) => p.read(first, count, parents[j]!))]);
    if (grid) {
      // The suspect's cells on its effective grid, as the scan used them.
      const codes = encode(grid, suspect.subarray(0, count));
      decodeWithCell(grid, codes, new Float64Array(count), above, below, count);
    }
    const base = parents[reference]!;
    let chunkRss = 0;
    for (let i = 0; i < count; i++) {
      const s = suspect[i]!;
      const r = base[i]!;
      if (!Number.isFinite(s) || !Number.isFinite(r)) continue;
      let change = 0;
      let largest = 0;
      let finite = true;
      for (let j = 0; j < k; j++) {
        if (j === reference) continue;
        const d = parents[j]![i]! - r;
        if (!Number.isFinite(d)) finite = false;
        const size = d < 0 ? -d : d;
        if (size > largest) largest = size;
        change += weights[j]! * d;
      }
      if (!finite) continue;
      into.used++;
      const residual = s - r - change;
      chunkRss += residual * residual;
      const up = above[i]!;
      const down = below[i]!;
      if (largest === 0 || largest < informativeUlps * (up > down ? up : down)) continue;
      into.informative++;
      if (residual <= down / 2 && residual >= -up / 2) into.reproduced++;
    }
    const total = into.rss + chunkRss;
    into.rssCompensation += Math.abs(into.rss) >= Math.abs(chunkRss) ? into.rss - total + chunkRss : chunkRss - total + into.rss;
    into.rss = total;
  }
}

/** The compensated residual of a finished check. */
export function checkedResidual(check: BlendCheck): number {
  return check.rss + check.rssCompensation;
}
