import { describe, expect, it } from 'vitest';
import { VERDICT_KINDS, type Report } from '../../src/report-schema.js';
import { blendFormulaOf, VERDICT_WORDS, verdictSentence } from '../../src/report/verdict-sentence.js';
import { reportOfKind, sampleReport } from '../helpers/sample-report.js';

describe('verdictSentence', () => {
  it('has words for every verdict kind', () => {
    expect(Object.keys(VERDICT_WORDS).sort()).toEqual([...VERDICT_KINDS].sort());
  });

  it.each([
    ['identical', 'suspect is bit-identical to B in all 11 tensors.'],
    [
      'blend',
      'suspect = 0.600·B + 0.400·A in every one of 11 tensors; median residual 1.00σ of bf16 rounding noise; ' +
        '>99.9% of informative elements reproduced bit for bit; B alone would leave 3,810σ.',
    ],
    [
      'modified-blend',
      'suspect is mostly 0.600·B + 0.400·A with real change on top in all 11 tensors; median residual 8.40σ of ' +
        'bf16 rounding noise, where an untouched blend leaves ~1σ; 4.6% of informative elements reproduced bit ' +
        'for bit; B alone would leave 3,810σ.',
    ],
    [
      'derived',
      "suspect is a modification of A in all 11 tensors; A alone leaves 6.20σ of bf16 rounding noise, far above a blend's " +
        '~1σ; the best blend, 0.840·A + 0.160·B, still leaves 5.90σ.',
    ],
    [
      'unrelated',
      'the parents do not explain suspect in all 11 tensors: the best blend leaves a median 600σ of bf16 rounding ' +
        'noise and the closest parent, A, alone 650σ.',
    ],
    [
      'mixed',
      "suspect's tensors disagree: blend in 10 tensors (50.7% of elements), identical to A in 1 (49.3%); " +
        'no kind reaches the 95.0% agreement threshold.',
    ],
    [
      'inconclusive',
      'inconclusive for suspect: the parents are bit-identical in every compared tensor (11 tensors compared).',
    ],
  ] as const)('%s', (kind, sentence) => {
    const report = reportOfKind(kind);
    expect(verdictSentence(report)).toBe(sentence);
  });

  it('names the tensors outside the verdict and their share', () => {
    const base = sampleReport();
    const tensors = base.tensors.map((tensor) =>
      tensor.name === 'model.layers.0.mlp.up_proj.weight' ? { ...tensor, kind: 'derived' as const, parent: 1 } : tensor,
    );
    const report: Report = {
      ...base,
      tensors,
      verdict: {
        ...base.verdict,
        counts: {
          ...base.verdict.counts,
          blend: { tensors: 10, elements: 4_157_632 - 16_384 },
          derived: { tensors: 1, elements: 16_384 },
        },
      },
    };
    expect(verdictSentence(report)).toBe(
      'suspect = 0.600·B + 0.400·A in 10 of 11 tensors (99.6% of elements); median residual 1.00σ of bf16 ' +
        'rounding noise; >99.9% of informative elements reproduced bit for bit; B alone would leave 3,810σ; ' +
        'the other 1: 1 derived from B.',
    );
  });

  it('names the rounding noise after the grid the tensors were judged on, not their storage', () => {
    const report = reportOfKind('blend');
    // Most elements stored F32 on the bf16 grid (a bf16 merge saved in float32), one tensor F32 through and through.
    report.tensors.forEach((t, i) => Object.assign(t, i === 0 ? { dtype: 'F32' } : { dtype: 'F32', grid: 'BF16' }));
    expect(verdictSentence(report)).toContain('median residual 1.00σ of bf16 rounding noise');
    report.tensors.forEach((t) => Object.assign(t, { dtype: 'F32', grid: undefined }));
    expect(verdictSentence(report)).toContain('median residual 1.00σ of f32 rounding noise');
  });

  it('says "above" rather than "far above" for a derived residual close to a blend', () => {
    const report = reportOfKind('derived');
    report.verdict.alternatives = [2.7, 3800];
    expect(verdictSentence(report)).toContain("A alone leaves 2.70σ of bf16 rounding noise, above a blend's ~1σ");
  });

  it('falls back to a generic reason when an inconclusive verdict has none', () => {
    const report = reportOfKind('inconclusive');
    report.verdict.reason = null;
    expect(verdictSentence(report)).toBe('inconclusive for suspect: no tensor gave enough evidence (11 tensors compared).');
  });
});

describe('blendFormulaOf', () => {
  it('puts the heaviest parent first and writes negative weights with a minus', () => {
    expect(blendFormulaOf([0.4, 0.6], ['A', 'B'])).toBe('0.600·B + 0.400·A');
    expect(blendFormulaOf([-0.1, 1.1], ['A', 'B'])).toBe('1.100·B - 0.100·A');
    expect(blendFormulaOf([-1, -0.5], ['A', 'B'])).toBe('-0.500·B - 1.000·A');
    expect(blendFormulaOf([0.2, 0.3, 0.5], ['A', 'B', 'C'])).toBe('0.500·C + 0.300·B + 0.200·A');
  });
});
