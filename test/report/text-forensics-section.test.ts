import { describe, expect, it } from 'vitest';
import type { ForensicsReport } from '../../src/report-schema.js';
import { forensicsTextSection } from '../../src/report/text-forensics-section.js';
import { PLAIN_STYLE } from '../../src/report/text-style.js';
import { parseReportJson, renderJson } from '../../src/report/render-json.js';
import { sampleReport } from '../helpers/sample-report.js';

const forensics: ForensicsReport = {
  base: null,
  reconstruction: {
    recipe: { weights: [0.4, 0.6], arithmetic: 'torch-in-dtype', normalise: true, effectiveWeights: [0.400390625, 0.6015625], origin: 'decimal' },
    elements: 4_157_632,
    parentsDiffer: 2_000_000,
    reproduced: 4_157_000,
    reproducedShare: 4_157_000 / 4_157_632,
    reproducedWhereParentsDifferShare: 0.9997,
    consistent: [{ weights: [0.4, 0.6], arithmetic: 'format-steps', normalise: false, effectiveWeights: [0.400390625, 0.6015625], origin: 'decimal' }],
    runnersUp: [{ recipe: { weights: [0.4, 0.6], arithmetic: 'float32', normalise: false, effectiveWeights: [0.4000000059604645, 0.6000000238418579], origin: 'decimal' }, share: 0.61 }],
  },
  interpolation: {
    tensors: 8,
    angle: 0.0041,
    t: 0.6,
    coefficientSum: 1.00195,
    slerpSum: 1.000002,
    consistentTensors: { linear: 0, linearFormatWeights: 8, slerp: 0 },
    separableTensors: 0,
    consistent: ['linear-format-weights'],
  },
  taskArithmetic: null,
  elementwise: null,
  layerProfiles: [
    {
      parent: 1,
      group: 'all',
      points: [0, 1, 2].map((layer) => ({ layer, weight: 0.2 + 0.3 * layer, stdErr: 0.001, spread: 0, tensors: 2, elements: 100 })),
      schedule: { kind: 'ramp', parameters: [0.2, 0.8], rmsResidual: 0 },
    },
  ],
  parentDiscovery: {
    explaining: [0, 1],
    addNothing: [2],
    noiseRatioAll: 1.01,
    noiseRatioExplaining: 1.02,
    withoutEach: [{ parent: 0, noiseRatio: 5900 }, { parent: 1, noiseRatio: 3800 }],
    weights: [0.4, 0.6, null],
  },
  layerStacking: {
    ranges: [
      { suspectFrom: 0, suspectTo: 1, parent: 0, parentFrom: 0, parentTo: 1 },
      { suspectFrom: 2, suspectTo: 4, parent: 1, parentFrom: 1, parentTo: 3 },
    ],
    renamed: [],
  },
};

describe('the Recipe section', () => {
  const report = { ...sampleReport(), forensics };
  report.parents = [...report.parents, { ...report.parents[1]!, label: 'C' }];

  it('words each finding with its evidence', () => {
    expect(forensicsTextSection(report, PLAIN_STYLE).join('\n')).toMatchInlineSnapshot(`
      "Recipe
        reproduced bit for bit: >99.9% of 4,157,632 elements (>99.9% where the parents differ) by 0.4·A +
          0.6·B, computed in the suspect's dtype as mergekit/PyTorch do; weights used 0.400390625, 0.6015625
        equally consistent: 0.4·A + 0.6·B, rounded to the suspect's dtype at every step; weights used
          0.400390625, 0.6015625
        next best: 0.4·A + 0.6·B, computed in float32: 61.0%
        interpolation: linear with bf16-rounded weights; coefficients sum to 1.001950 (linear: 1; SLERP at
          t = 0.600: 1.000002; parents 0.0041 rad apart); 0 of 8 tensors separate the two
        weight of B over layers 0–2: ramp 0.200 → 0.800
        parents: A, B explain it at 1.02σ (without A: 5,900σ, without B: 3,800σ); C adds nothing (all
          candidates: 1.01σ)
        layer map: suspect layers 0–1 = A layers 0–1; 2–4 = B layers 1–3"
    `);
  });

  it('is absent from reports without forensics', () => {
    expect(forensicsTextSection(sampleReport(), PLAIN_STYLE)).toEqual([]);
  });

  it('round-trips through the JSON report', () => {
    expect(parseReportJson(renderJson(report)).forensics).toEqual(forensics);
  });
});

describe('the Recipe section for SLERP and task arithmetic', () => {
  const slerpRecipe = { weights: [0.7, 0.3], arithmetic: 'float32' as const, normalise: false, effectiveWeights: [0.7, 0.3], origin: 'decimal' as const, method: 'slerp' as const, t: 0.3 };
  const taskRecipe = {
    weights: [-0.2, 0.7, 0.5],
    arithmetic: 'torch-in-dtype' as const,
    normalise: false,
    effectiveWeights: [-0.19921875, 0.69921875, 0.5],
    origin: 'decimal' as const,
    method: 'task-arithmetic' as const,
    base: 0,
  };
  const report = {
    ...sampleReport(),
    forensics: { ...forensics, reconstruction: { ...forensics.reconstruction!, recipe: slerpRecipe, consistent: [taskRecipe], runnersUp: [] } },
  };
  report.parents = [...report.parents, { ...report.parents[1]!, label: 'C' }];

  it('names the method, t, the base and the task scales', () => {
    const text = forensicsTextSection(report, PLAIN_STYLE).join(' ').replace(/\s+/g, ' ');
    expect(text).toContain('by mergekit slerp(t = 0.3) from A to B, in numpy float32');
    expect(text).toContain("equally consistent: mergekit task arithmetic A + 0.7·(B − A) + 0.5·(C − A), computed in the suspect's dtype");
  });

  it('keeps method, t and base through the JSON report', () => {
    expect(parseReportJson(renderJson(report)).forensics!.reconstruction).toEqual(report.forensics.reconstruction);
  });
});
