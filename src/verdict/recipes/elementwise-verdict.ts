import { extended } from '../../object-shape.js';
import { addElementwiseSums, type ElementwiseSums } from '../../engine/recipes/elementwise-sums.js';
import { classifyElementwise, expectedRescale, readElementwise } from '../../fit/recipes/elementwise-reading.js';
import type { ElementwiseVerdict, Thresholds, TensorReport } from '../../report-schema.js';
import { modelReconstruction } from './model-reconstruction.js';

/**
 * Above this share of elements reproduced bit for bit by the best weighted sum, the
 * suspect is a weighted sum whatever the element-wise counts say. Measured with the
 * fixtures' parents as base, A, B (docs/forensics.md): a plain blend of three parents
 * over a base reads as magnitude pruning (rounding and cancelling deltas leave ~10% of
 * large changes at the base) but its best weighted sum reproduces 0.997 where the parents
 * differ (forensics.reconstruction.reproducedWhereParentsDifferShare, the command in
 * docs/forensics.md); TIES at density 0.5 and DARE at 0.3 are reproduced at 0.068 and 0.063
 * (fixtures/recipes/ties and dare, docs/forensics.md).
 */
export const ELEMENTWISE_MAX_WEIGHTED_SUM_REPRODUCED = 0.5;

/**
 * The element-wise sums of every tensor that carries them, added up; null when none do.
 * Records of another parent set or reference (a report merged from mismatched shards)
 * are left out.
 */
export function summedElementwise(tensors: readonly TensorReport[], parents: number, reference?: number): ElementwiseSums | null {
  let total: ElementwiseSums | null = null;
  for (const t of tensors) {
    const record = t.recipes?.elementwise;
    if (!record || record.parents !== parents) continue;
    if (reference !== undefined ? record.reference !== reference : total !== null && record.reference !== total.reference) continue;
    const sums: ElementwiseSums = extended(record, { movedGram: Float64Array.from(record.movedGram), largeGram: Float64Array.from(record.largeGram) });
    if (total === null) total = sums;
    else addElementwiseSums(total, sums);
  }
  return total;
}

/**
 * The element-wise merge the suspect is, when the evidence is clear; null otherwise.
 * Clear means all of:
 * - the sums name a method (ties, dare, magnitude-pruned; not the unrecognised
 *   'element-wise', which a copy of the base or a layer stack also produces);
 * - no weighted sum reproduces the suspect: the best replayed recipe reproduces at most
 *   ELEMENTWISE_MAX_WEIGHTED_SUM_REPRODUCED of the elements where the parents differ;
 * - at least two task parents carry a blend-fit weight of modifiedMinWeight or more
 *   (a merge of two or more models; one task vector at weight ~1 is a fine-tune of it,
 *   a copy of the base has none).
 * `weights`: the model's blend-fit weights per parent (null where unknown).
 */
export function elementwiseVerdict(
  tensors: readonly TensorReport[],
  parents: number,
  thresholds: Thresholds,
  weights: readonly (number | null)[],
): ElementwiseVerdict | null {
  const sums = summedElementwise(tensors, parents);
  if (sums === null) return null;
  const reading = readElementwise(sums);
  const finding = classifyElementwise(reading);
  if (finding === null || finding.method === 'element-wise' || !(finding.density > 0) || reading.largeKeptBaseShare === null) return null;

  const reconstruction = modelReconstruction(tensors);
  const weightedSumReproduced = reconstruction ? (reconstruction.reproducedWhereParentsDifferShare ?? reconstruction.reproducedShare) : null;
  if (weightedSumReproduced === null || weightedSumReproduced > ELEMENTWISE_MAX_WEIGHTED_SUM_REPRODUCED) return null;

  const merged = reading.taskParents.filter((j) => (weights[j] ?? 0) >= thresholds.modifiedMinWeight);
  if (merged.length < 2) return null;
  const mergedWeight = merged.reduce((total, j) => total + weights[j]!, 0);
  const relativeWeights = Array.from({ length: parents }, (_, j) => (merged.includes(j) ? weights[j]! / mergedWeight : null));
  const rescales = merged.flatMap((j) => {
    const r = reading.rescale[reading.taskParents.indexOf(j)];
    return r === null || r === undefined ? [] : [r];
  });
  return {
    method: finding.method,
    consistentWith: [...finding.consistentWith],
    base: sums.reference,
    merged,
    density: finding.density,
    relativeWeights,
    keptBaseShare: reading.largeKeptBaseShare,
    rescale: rescales.length === 0 ? null : rescales.reduce((a, b) => a + b, 0) / rescales.length,
    expectedRescale: expectedRescale(finding.method, finding.density, reading.taskParents.length),
    conflictAtParentShare: reading.conflictAtParentShare,
    agreementAtParentShare: reading.agreementAtParentShare,
    weightedSumReproduced,
  };
}
