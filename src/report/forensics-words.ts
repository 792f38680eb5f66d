import type { ElementwiseVerdict, LayerStackingReport, StackingVerdict } from '../report-schema.js';
import { formatCount, formatShare, listWords } from './format-numbers.js';

/** Element-wise methods as a reader who ran mergekit would name them. */
export const ELEMENTWISE_METHOD_NAMES: Record<ElementwiseVerdict['method'], string> = {
  ties: 'TIES',
  dare: 'DARE',
  'magnitude-pruned': 'magnitude-pruning (breadcrumbs-like)',
};

function labelOf(labels: readonly string[], index: number): string {
  return labels[index] ?? `parent ${index + 1}`;
}

/** "TIES merge of B and C on base A (density ≈ 0.46, weights B:C ≈ 0.46:0.54)". */
export function elementwiseHeadline(e: ElementwiseVerdict, labels: readonly string[]): string {
  const merged = e.merged.map((j) => labelOf(labels, j));
  const ratio = e.merged.map((j) => (e.relativeWeights[j] ?? 0).toFixed(2)).join(':');
  return (
    `${ELEMENTWISE_METHOD_NAMES[e.method]} merge of ${listWords(merged)} on base ${labelOf(labels, e.base)} ` +
    `(density ≈ ${e.density.toFixed(2)}, weights ${merged.join(':')} ≈ ${ratio})`
  );
}

/** The numbers behind an element-wise verdict, each a short clause. */
export function elementwiseEvidence(e: ElementwiseVerdict): string[] {
  const clauses = [`${formatShare(e.keptBaseShare)} of large changes left bit for bit at the base`];
  if (e.rescale !== null) {
    const expected = `×${e.expectedRescale.toFixed(2)}`;
    clauses.push(
      e.method === 'dare'
        ? `survivors rescaled ×${e.rescale.toFixed(2)} (${expected} expected when each survivor is divided by the density)`
        : `survivors not rescaled (×${e.rescale.toFixed(2)}, ${expected} expected)`,
    );
  }
  if (e.conflictAtParentShare !== null) {
    const control = e.agreementAtParentShare === null ? '' : ` against ${formatShare(e.agreementAtParentShare)} of agreeing changes`;
    clauses.push(`${formatShare(e.conflictAtParentShare)} of sign conflicts resolved to one parent${control}`);
  }
  if (e.weightedSumReproduced !== null) {
    clauses.push(`no weighted sum reproduces it (best: ${formatShare(e.weightedSumReproduced)} bit for bit where the parents differ)`);
  }
  // The element-wise sums cannot tell close relatives apart (DELLA reads as DARE): say so.
  if (e.consistentWith !== undefined && e.consistentWith.length > 1) {
    const names = e.consistentWith;
    clauses.push(`as consistent with mergekit's ${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`);
  }
  return clauses;
}

/** "0–1 = A layers 0–1; 2–4 = B layers 1–3". */
export function layerMapWords(ranges: LayerStackingReport['ranges'], labels: readonly string[]): string {
  const span = (from: number, to: number): string => (from === to ? `${from}` : `${from}–${to}`);
  return ranges
    .map((range) => {
      const suspect = span(range.suspectFrom, range.suspectTo);
      if (range.parent === null || range.parentFrom === null || range.parentTo === null) return `${suspect} = no single source`;
      return `${suspect} = ${labelOf(labels, range.parent)} layers ${span(range.parentFrom, range.parentTo)}`;
    })
    .join('; ');
}

/** "a layer-stacked composition (passthrough) of A and B: suspect layers 0–1 = A layers 0–1; …; 58 of 58 tensors …". */
export function stackingHeadline(s: StackingVerdict, labels: readonly string[]): string {
  const parents = listWords(s.parents.map((j) => labelOf(labels, j)));
  const copies =
    s.withinCell > s.exact
      ? `${formatCount(s.exact)} of ${formatCount(s.tensors)} tensors bit for bit copies of a parent tensor, ${formatCount(s.withinCell - s.exact)} more within rounding`
      : `${formatCount(s.exact)} of ${formatCount(s.tensors)} tensors bit for bit copies of a parent tensor`;
  return `a layer-stacked composition (passthrough) of ${parents}: suspect layers ${layerMapWords(s.ranges, labels)}; ${copies}`;
}
