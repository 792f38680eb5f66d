import { emptyMoments, type TensorMoments } from '../../engine/moments.js';
import type { TensorSums } from '../../report-schema.js';

/** The report's copy of a tensor's sums (the exact-hit profile stays behind: 4,000 bins per tensor). */
export function sumsOfMoments(moments: TensorMoments): TensorSums {
  return {
    used: moments.used,
    gram: Array.from(moments.gram),
    floor: moments.floor,
    floorVar: moments.floorVar,
    parentsEqual: moments.parentsEqual,
    informative: { count: moments.informative.count, gram: Array.from(moments.informative.gram), floor: moments.informative.floor },
  };
}

/**
 * Moments rebuilt from a report's sums, for the readers that need only the Gram
 * matrices and counts (subset fits, SLERP). `equal` is not in the report and comes
 * back zero, the profile null (4,001 empty bins per tensor that nothing reads); null
 * when the sums do not fit `parents`.
 */
export function momentsOfSums(sums: TensorSums, parents: number, reference: number): TensorMoments | null {
  const size = (parents + 1) * (parents + 1);
  if (sums.gram.length !== size || sums.informative.gram.length !== size) return null;
  const moments = emptyMoments(parents, reference, false);
  moments.elements = sums.used;
  moments.used = sums.used;
  moments.gram.set(sums.gram);
  moments.floor = sums.floor;
  moments.floorVar = sums.floorVar;
  moments.parentsEqual = sums.parentsEqual;
  moments.informative.count = sums.informative.count;
  moments.informative.gram.set(sums.informative.gram);
  moments.informative.floor = sums.informative.floor;
  return moments;
}
