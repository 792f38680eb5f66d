import { describe, expect, it } from 'vitest';
import { readingTextSection } from '../../src/report/text-reading-section.js';
import { textStyle } from '../../src/cli/color.js';
import type { Report, SliceReport } from '../../src/report-schema.js';
import { sampleReport } from '../helpers/sample-report.js';

const plain = textStyle(false);

function slice(expert: number, kind: SliceReport['kind'], noiseRatio: number): SliceReport {
  return { name: `model.layers.40.mlp.experts.${expert}.gate_proj.weight`, expert, elements: 100, kind, parent: null, weights: [0.4, 0.6], noiseRatio, reproducedShare: null };
}

describe('the reading section of the text report', () => {
  it('is empty for same-name plain tensors', () => {
    expect(readingTextSection(sampleReport(), plain)).toEqual([]);
  });

  it('names the expert that differs from its tensor, the renames and the grid', () => {
    const report: Report = sampleReport();
    const tensor = { ...report.tensors[0]!, name: 'model.layers.40.mlp.experts.gate_up_proj', layer: 40, kind: 'blend' as const, dtype: 'F32', grid: 'BF16' };
    tensor.slices = [slice(16, 'blend', 1.0), slice(17, 'modified-blend', 3.2)];
    report.tensors = [tensor];
    report.alignment = {
      renames: [{ input: -1, rule: 'model.language_model. → model.', tensors: 20 }],
      mapRules: [],
      resized: [],
      tied: [],
      inputs: [],
      groups: { tensors: 1, units: 2 },
    };
    const text = readingTextSection(report, plain).join('\n').replace(/\n\s+/g, ' ');
    expect(text).toContain('suspect names: model.language_model. → model. (20 tensors)');
    expect(text).toContain('suspect stored F32 on the BF16 grid: 1 tensors judged on that grid');
    expect(text).toContain('experts compared one by one: 1 tensors, 2 parts; 1 differ from the rest of their tensor:');
    expect(text).toContain('expert 17 of layer 40 (model.layers.40.mlp.experts.17.gate_proj.weight): modified-blend, 3.20σ (the rest: blend; tensor: blend)');
    expect(text).not.toContain('expert 16');
  });

  it('lists the odd experts out, farthest from a blend first, against the kind of most of the tensor', () => {
    const report: Report = sampleReport();
    const tensor = { ...report.tensors[0]!, name: 'model.layers.40.mlp.experts.gate_up_proj', layer: 40, kind: 'unrelated' as const };
    // Most elements blend; the tensor as a whole unrelated (two experts copied from elsewhere).
    tensor.slices = [slice(1, 'blend', 1), slice(2, 'unrelated', 40), slice(3, 'blend', 1), slice(4, 'unrelated', 900), slice(5, 'blend', 1)];
    report.tensors = [tensor];
    const text = readingTextSection(report, plain).join('\n').replace(/\n\s+/g, ' ');
    expect(text).toContain(
      '2 differ from the rest of their tensor: expert 4 of layer 40 (model.layers.40.mlp.experts.4.gate_proj.weight): unrelated, 900σ (the rest: blend; tensor: unrelated) ' +
        'expert 2 of layer 40',
    );
    // No kind holds more than half the elements: the tensor's own kind is the rest, and every expert of another kind is listed.
    report.tensors = [{ ...tensor, kind: 'modified-blend', slices: [slice(1, 'blend', 1), slice(2, 'identical', 0), slice(3, 'blend', 1.1), slice(4, 'identical', 0)] }];
    const mixed = readingTextSection(report, plain).join('\n').replace(/\n\s+/g, ' ');
    expect(mixed).toContain('4 differ from the rest of their tensor: expert 3 of layer 40 (model.layers.40.mlp.experts.3.gate_proj.weight): blend, 1.10σ (the rest: modified-blend;');
  });
});
