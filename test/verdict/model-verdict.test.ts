import { describe, expect, it } from 'vitest';
import { fitTensor } from '../../src/fit/tensor-fit.js';
import { FLOAT_FORMATS, roundTo } from '../../src/format/dtype.js';
import type { TensorReport } from '../../src/report-schema.js';
import { modelVerdict } from '../../src/verdict/model-verdict.js';
import { tensorVerdict } from '../../src/verdict/tensor-verdict.js';
import { DEFAULT_THRESHOLDS } from '../../src/verdict/thresholds.js';
import { referenceMoments } from '../helpers/reference-moments.js';
import { blendInFloat32, fineTuneDelta, fineTunes, random } from '../fit/synthetic.js';

const { BF16 } = FLOAT_FORMATS;
const T = DEFAULT_THRESHOLDS;
const ROWS = 32;
const COLS = 32;

/** A tensor report as the pipeline builds it: moments → fit → verdict. */
function tensor(name: string, suspect: Float64Array, parents: Float64Array[]): TensorReport {
  const fit = fitTensor(referenceMoments(suspect, parents, BF16, 0, T.informativeUlps));
  const verdict = tensorVerdict(fit, T);
  return {
    name,
    shape: [ROWS, COLS],
    dtype: 'BF16',
    parentDtypes: parents.map(() => 'BF16'),
    component: 'mlp',
    layer: null,
    ...fit,
    kind: verdict.kind,
    parent: verdict.parent,
    reason: verdict.reason,
  };
}

/** A "model": per layer, two parents that are fine-tunes of one base, 2 bf16 steps apart. */
function layerParents(layer: number): [Float64Array, Float64Array] {
  return fineTunes(BF16, ROWS, COLS, 2, 2, 100 + layer) as [Float64Array, Float64Array];
}

function blendLayer(layer: number, wa = 0.6): TensorReport {
  const [a, b] = layerParents(layer);
  return tensor(`layers.${layer}.blend`, blendInFloat32(BF16, [a, b], [wa, 1 - wa]), [a, b]);
}

function trainedLayer(layer: number, parent: 'A' | 'B' | 'blend', size: number): TensorReport {
  const [a, b] = layerParents(layer);
  const change = fineTuneDelta(ROWS, COLS, size * 0.02, random(200 + layer));
  const start = parent === 'A' ? a : parent === 'B' ? b : blendInFloat32(BF16, [a, b], [0.6, 0.4]);
  return tensor(`layers.${layer}.${parent}-trained`, start.map((x, i) => roundTo(BF16, x + change[i]!)), [a, b]);
}

function copyLayer(layer: number, parent: 'A' | 'B'): TensorReport {
  const [a, b] = layerParents(layer);
  return tensor(`layers.${layer}.copy-${parent}`, parent === 'A' ? a : b, [a, b]);
}

/** A tensor where both parents are the same (a frozen embedding): neutral. */
function frozenLayer(layer: number, changed: boolean): TensorReport {
  const [a] = layerParents(layer);
  const change = fineTuneDelta(ROWS, COLS, 0.01 * 0.02, random(300 + layer));
  const suspect = changed ? a.map((x, i) => roundTo(BF16, x + change[i]!)) : a;
  return tensor(`frozen.${layer}`, suspect, [a, a]);
}

const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i);

describe('modelVerdict', () => {
  it('all tensors blended → blend, with the weights and their spread', () => {
    const tensors = range(6).map((layer) => blendLayer(layer));
    const v = modelVerdict(tensors, 2, T);
    expect(v.kind).toBe('blend');
    expect(v.parent).toBeNull();
    expect(v.reason).toBeNull();
    expect(v.weights![0]).toBeCloseTo(0.6, 3);
    expect(v.weights![1]).toBeCloseTo(0.4, 3);
    expect(v.counts.blend).toEqual({ tensors: 6, elements: 6 * ROWS * COLS });
    expect(v.weightStats[0]!.spread).toBeLessThan(0.002);
    expect(v.weightStats[0]!.stdErr).toBeGreaterThan(0);
    expect(v.noiseRatio!.max).toBeLessThan(1.05);
    expect(v.alternatives[0]!).toBeGreaterThan(2);
    expect(v.reproducedShare!).toBeGreaterThan(0.95);
  });

  it('frozen tensors where the parents are identical and the suspect matches them are neutral', () => {
    const tensors = [...range(6).map((layer) => blendLayer(layer)), frozenLayer(6, false)];
    const v = modelVerdict(tensors, 2, T);
    expect(v.kind).toBe('blend');
    expect(v.counts.identical.tensors).toBe(1);
    expect(v.weights![0]).toBeCloseTo(0.6, 3);
    expect(v.noiseRatio!.max).toBeLessThan(1.05);
  });

  it('a frozen tensor the suspect changed is evidence: it votes as derived', () => {
    const tensors = [...range(6).map((layer) => blendLayer(layer)), frozenLayer(6, false), frozenLayer(7, true)];
    const v = modelVerdict(tensors, 2, T);
    expect(v.counts.derived.tensors).toBe(1);
    expect(v.counts.inconclusive.tensors).toBe(0);
    expect(v.kind).toBe('mixed');
    expect(v.weights![0]).toBeCloseTo(0.6, 3);
  });

  it('half copied from A, half blended → mixed, described by the larger group', () => {
    const tensors = [...range(3).map((layer) => blendLayer(layer)), ...range(2, 3).map((layer) => copyLayer(layer, 'A'))];
    const v = modelVerdict(tensors, 2, T);
    expect(v.kind).toBe('mixed');
    expect(v.parent).toBeNull();
    expect(v.weights![0]).toBeCloseTo(0.6, 3);
    expect(v.reason).toContain('blend');
    expect(v.counts.identical.tensors).toBe(2);
    expect(v.counts.blend.tensors).toBe(3);
  });

  it('layers copied from A and from B → mixed, not identical', () => {
    const tensors = [copyLayer(0, 'A'), copyLayer(1, 'B'), copyLayer(2, 'A')];
    const v = modelVerdict(tensors, 2, T);
    expect(v.kind).toBe('mixed');
    expect(v.weights).toEqual([1, 0]);
    expect(v.reason).toContain('identical A');
  });

  it('every tensor bit-identical to B → identical to B', () => {
    const v = modelVerdict(range(3).map((layer) => copyLayer(layer, 'B')), 2, T);
    expect(v.kind).toBe('identical');
    expect(v.parent).toBe(1);
    expect(v.weights).toEqual([0, 1]);
  });

  it('a fine-tune of A that left some tensors untouched → derived from A', () => {
    const tensors = [...range(4).map((layer) => trainedLayer(layer, 'A', 0.01)), copyLayer(4, 'A')];
    const v = modelVerdict(tensors, 2, T);
    expect(v.kind).toBe('derived');
    expect(v.parent).toBe(0);
    expect(v.weights).toEqual([1, 0]);
    expect(v.weightStats[0]!.mean).toBeGreaterThan(0.95);
    expect(v.noiseRatio!.median).toBeGreaterThan(4);
  });

  it('a merge trained afterwards, some tensors still at the floor → modified-blend', () => {
    const tensors = [...range(4).map((layer) => trainedLayer(layer, 'blend', 0.01)), blendLayer(4)];
    const v = modelVerdict(tensors, 2, T);
    expect(v.kind).toBe('modified-blend');
    expect(v.counts['modified-blend'].tensors).toBe(4);
    expect(v.weights![0]).toBeCloseTo(0.6, 1);
  });

  it('nothing explained → unrelated, without weights', () => {
    const tensors = range(3).map((layer) => {
      const [a, b] = layerParents(layer);
      const other = fineTunes(BF16, ROWS, COLS, 1, 2, 900 + layer)[0]!;
      return tensor(`layers.${layer}`, other, [a, b]);
    });
    const v = modelVerdict(tensors, 2, T);
    expect(v.kind).toBe('unrelated');
    expect(v.weights).toBeNull();
    expect(v.weightStats).toEqual([null, null]);
  });

  it('parents identical everywhere, suspect too → identical (nothing else can be seen)', () => {
    const v = modelVerdict([frozenLayer(0, false), frozenLayer(1, false)], 2, T);
    expect(v.kind).toBe('identical');
    expect(v.parent).toBe(0);
  });

  it('parents identical everywhere, suspect changed → derived from them', () => {
    const v = modelVerdict([frozenLayer(0, true)], 2, T);
    expect(v.kind).toBe('derived');
    expect(v.parent).toBe(0);
  });

  it('no tensor → inconclusive without NaN', () => {
    const v = modelVerdict([], 2, T);
    expect(v.kind).toBe('inconclusive');
    expect(v.noiseRatio).toBeNull();
    expect(v.reproducedShare).toBeNull();
    expect(v.alternatives).toEqual([]);
    expect(v.counts.blend).toEqual({ tensors: 0, elements: 0 });
  });
});

describe('modelVerdict: the weight summary in closed form', () => {
  // Three blend tensors of 100, 300 and 600 elements; B's weight 0.3, 0.4, 0.5 with
  // standard errors 0.01, 0.02, 0.01; noiseRatio 1.0, 1.2, 0.9.
  const base = blendLayer(0);
  const tensors = [
    { n: 100, w: 0.3, se: 0.01, ratio: 1.0 },
    { n: 300, w: 0.4, se: 0.02, ratio: 1.2 },
    { n: 600, w: 0.5, se: 0.01, ratio: 0.9 },
  ].map(({ n, w, se, ratio }, i): TensorReport => ({
    ...base,
    name: `t${i}`,
    elements: n,
    kind: 'blend',
    weights: [1 - w, w],
    weightsStdErr: [se, se],
    noiseRatio: ratio,
    alternatives: [10 * (i + 1), 20 * (i + 1)],
    reproducedShare: 0.5 + i / 10,
    informative: n / 2,
  }));
  const v = modelVerdict(tensors, 2, T);

  it('averages by elements', () => {
    const stats = v.weightStats[1]!;
    expect(stats.mean).toBeCloseTo(0.45, 14); // (30 + 120 + 300)/1000
    expect(stats.median).toBe(0.5); // cumulative 100, 400, 1000: half reached at 0.5
    expect(stats.spread).toBeCloseTo(Math.sqrt(0.0045), 14); // (100·0.15² + 300·0.05² + 600·0.05²)/1000
    expect(stats.stdErr).toBeCloseTo(Math.sqrt(1 + 36 + 36) / 1000, 14); // n·se = 1, 6, 6
    expect(v.weights![1]).toBeCloseTo(0.45, 14);
    expect(v.weights![0]).toBeCloseTo(0.55, 14);
  });

  it('summarizes noiseRatio per tensor, alternatives and reproduction by elements', () => {
    expect(v.noiseRatio).toEqual({ median: 1.0, p90: 1.2, max: 1.2 });
    expect(v.alternatives).toEqual([30, 60]);
    // (50·0.5 + 150·0.6 + 300·0.7) / 500
    expect(v.reproducedShare).toBeCloseTo(0.65, 14);
  });
});
