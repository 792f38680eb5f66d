import { describe, expect, it } from 'vitest';
import type { ElementwiseVerdict } from '../../src/report-schema.js';
import { elementwiseEvidence, elementwiseHeadline } from '../../src/report/forensics-words.js';

const dare: ElementwiseVerdict = {
  method: 'dare',
  base: 0,
  merged: [1, 2],
  density: 0.52,
  relativeWeights: [null, 0.48, 0.52],
  keptBaseShare: 0.249,
  rescale: 1.27,
  expectedRescale: 1.3,
  conflictAtParentShare: null,
  agreementAtParentShare: null,
  weightedSumReproduced: 0.06,
};

describe('element-wise verdict words', () => {
  it('name the method, and the mergekit methods the reading cannot tell apart', () => {
    expect(elementwiseHeadline(dare, ['A', 'B', 'C'])).toBe('DARE merge of B and C on base A (density ≈ 0.52, weights B:C ≈ 0.48:0.52)');
    const evidence = elementwiseEvidence({ ...dare, consistentWith: ['dare_linear', 'dare_ties', 'della', 'della_linear'] });
    expect(evidence.at(-1)).toBe("as consistent with mergekit's dare_linear, dare_ties, della or della_linear");
    expect(evidence[0]).toBe('24.9% of large changes left bit for bit at the base');
  });

  it('say nothing of relatives when the reading names one method or none', () => {
    for (const consistentWith of [undefined, ['breadcrumbs']]) {
      const evidence = elementwiseEvidence({ ...dare, ...(consistentWith ? { consistentWith } : {}) });
      expect(evidence.some((clause) => clause.includes('consistent with'))).toBe(false);
    }
  });
});
