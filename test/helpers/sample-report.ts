/**
 * Hand-built reports for renderer and CLI tests: a small two-parent model (embedding,
 * three layers of attention / mlp / norm, head) whose numbers are chosen so every
 * sentence and table cell can be written down exactly.
 *
 * Elements: embedding and head 2,048,000 each, q_proj 4,096, up_proj 16,384, norm 64;
 * 11 tensors, 4,157,632 elements in all.
 */
import type { Component, ModelVerdict, Report, TensorKind, TensorReport, VerdictKind } from '../../src/report-schema.js';
import { TENSOR_KINDS, verdictSentence } from '../../src/report/verdict-sentence.js';

interface TensorSpec {
  name: string;
  shape: number[];
  component: Component;
  layer: number | null;
  /** Weight of B (parent 1); A gets 1 - this. null: the parents are identical here. */
  weightB: number | null;
  noiseRatio: number;
}

const SPECS: TensorSpec[] = [
  { name: 'model.embed_tokens.weight', shape: [32000, 64], component: 'embedding', layer: null, weightB: 0.6001, noiseRatio: 0.98 },
  ...[0, 1, 2].flatMap((layer): TensorSpec[] => [
    {
      name: `model.layers.${layer}.self_attn.q_proj.weight`,
      shape: [64, 64],
      component: 'attention',
      layer,
      weightB: 0.6,
      noiseRatio: 1 + 0.01 * layer,
    },
    {
      name: `model.layers.${layer}.mlp.up_proj.weight`,
      shape: [256, 64],
      component: 'mlp',
      layer,
      weightB: layer === 2 ? 0.61 : 0.6,
      noiseRatio: 0.99 + 0.1 * layer,
    },
    {
      name: `model.layers.${layer}.input_layernorm.weight`,
      shape: [64],
      component: 'norm',
      layer,
      weightB: null,
      noiseRatio: 0.5,
    },
  ]),
  { name: 'lm_head.weight', shape: [32000, 64], component: 'head', layer: null, weightB: 0.5999, noiseRatio: 1.2 },
];

export const SAMPLE_ELEMENTS = 4_157_632;

function tensorFromSpec(spec: TensorSpec): TensorReport {
  const elements = spec.shape.reduce((product, size) => product * size, 1);
  const identifiable = spec.weightB !== null;
  const floor = elements * 2 ** -20;
  const rss = spec.noiseRatio ** 2 * floor;
  const informative = identifiable ? Math.round(elements * 0.4) : 0;
  return {
    name: spec.name,
    shape: spec.shape,
    dtype: 'BF16',
    parentDtypes: ['BF16', 'BF16'],
    component: spec.component,
    layer: spec.layer,
    elements,
    nonFinite: 0,
    kind: 'blend',
    parent: null,
    reason: null,
    weights: spec.weightB === null ? [null, null] : [1 - spec.weightB, spec.weightB],
    weightsStdErr: identifiable ? [0.0002, 0.0002] : [null, null],
    weightMethod: identifiable ? 'exact-hit-profile' : 'least-squares',
    noiseRatio: spec.noiseRatio,
    z: -0.25,
    explained: identifiable ? 0.999 : null,
    relativeResidual: 0.0021,
    alternatives: identifiable ? [5900, 3812] : [0.5, 0.5],
    freeFit: {
      weights: identifiable ? [0.4, 0.6] : [null, null],
      sum: identifiable ? 1 : null,
      noiseRatio: spec.noiseRatio,
    },
    leastSquares: {
      weights: identifiable ? [0.29, 0.71] : [null, null],
      stdErr: identifiable ? [0.0001, 0.0001] : [null, null],
      rss: rss * 0.9,
      noiseRatio: spec.noiseRatio * 0.95,
      z: -3,
    },
    equalShare: identifiable ? [0.31, 0.52] : [1, 1],
    informative,
    profile: identifiable ? { peak: spec.weightB ?? 0, plateau: 0.0005, hitShare: 0.999, chanceShare: 0.0004, informative } : null,
    reproducedShare: identifiable ? 0.9991 : null,
    identifiability: identifiable
      ? { identifiable: true, rank: 1, conditionNumber: 1, reason: null }
      : { identifiable: false, rank: 0, conditionNumber: Number.POSITIVE_INFINITY, reason: 'parents-identical' },
    floor,
    rss,
  };
}

function emptyCounts(): ModelVerdict['counts'] {
  const counts = {} as ModelVerdict['counts'];
  for (const kind of TENSOR_KINDS) counts[kind] = { tensors: 0, elements: 0 };
  return counts;
}

function countsOf(tensors: readonly TensorReport[]): ModelVerdict['counts'] {
  const counts = emptyCounts();
  for (const tensor of tensors) {
    counts[tensor.kind].tensors += 1;
    counts[tensor.kind].elements += tensor.elements;
  }
  return counts;
}

/** The untouched 0.4·A + 0.6·B blend: every tensor a blend, residual ~1σ. */
export function sampleReport(): Report {
  const tensors = SPECS.map(tensorFromSpec);
  const verdict: Omit<ModelVerdict, 'summary'> = {
    kind: 'blend',
    weights: [0.4, 0.6],
    parent: null,
    reason: null,
    counts: countsOf(tensors),
    weightStats: [
      { mean: 0.40002, median: 0.4, spread: 0.00031, stdErr: 0.00012 },
      { mean: 0.59998, median: 0.6, spread: 0.00031, stdErr: 0.00012 },
    ],
    noiseRatio: { median: 1, p90: 1.19, max: 1.2 },
    alternatives: [5900, 3812],
    reproducedShare: 0.9991,
  };
  return withSummary({
    schemaVersion: 2,
    tool: { name: 'provcheck', version: '0.1.0' },
    createdAt: '2025-01-01T00:00:00.000Z',
    command: ['provcheck', 'suspect', 'merged', '--parents', 'tune-a', 'tune-b'],
    suspect: input('suspect', 'merged', 16_631_000, 12),
    parents: [input('A', 'tune-a', 16_631_000, 11), input('B', 'tune-b', 16_631_000, 12)],
    reference: 0,
    options: {
      include: [],
      exclude: [],
      thresholds: {
        blendMaxNoise: 2,
        minWeight: 0.02,
        unrelatedResidual: 0.5,
        modifiedMinWeight: 0.25,
        informativeUlps: 4,
        agreement: 0.95,
      },
    },
    verdict,
    tensors,
    unmatched: { suspectOnly: ['model.extra_head.weight'], parentOnly: [{ parent: 1, names: ['model.rotary.inv_freq'] }] },
    mismatched: [],
    filtered: 0,
  });
}

function input(label: string, source: string, bytes: number, tensors: number): Report['suspect'] {
  return {
    label,
    source,
    layout: 'folder-single',
    files: [{ path: 'model.safetensors', bytes }],
    tensors,
    bytes,
  };
}

function withSummary(report: Omit<Report, 'verdict'> & { verdict: Omit<ModelVerdict, 'summary'> }): Report {
  return { ...report, verdict: { ...report.verdict, summary: verdictSentence(report) } };
}

function retag(report: Report, kindOf: (tensor: TensorReport) => { kind: TensorKind; parent: number | null }): TensorReport[] {
  return report.tensors.map((tensor) => ({ ...tensor, ...kindOf(tensor) }));
}

/** A report whose model verdict is `kind`, with tensors and numbers that fit it. */
export function reportOfKind(kind: VerdictKind): Report {
  const base = sampleReport();
  const { summary: _summary, ...blendVerdict } = base.verdict;
  const draft = (
    tensors: TensorReport[],
    verdict: Partial<Omit<ModelVerdict, 'summary' | 'counts'>>,
  ): Report => withSummary({ ...base, tensors, verdict: { ...blendVerdict, counts: countsOf(tensors), ...verdict } });
  switch (kind) {
    case 'blend':
      return base;
    case 'identical':
      return draft(
        retag(base, () => ({ kind: 'identical', parent: 1 })),
        { kind, weights: [0, 1], parent: 1, noiseRatio: { median: 0, p90: 0, max: 0 }, alternatives: [5900, 0], reproducedShare: 1 },
      );
    case 'derived':
      return draft(
        retag(base, () => ({ kind: 'derived', parent: 0 })),
        {
          kind,
          weights: [0.84, 0.16],
          parent: 0,
          noiseRatio: { median: 5.9, p90: 12, max: 15 },
          alternatives: [6.2, 3800],
          reproducedShare: 0.06,
        },
      );
    case 'modified-blend':
      return draft(
        retag(base, () => ({ kind: 'modified-blend', parent: null })),
        { kind, noiseRatio: { median: 8.4, p90: 17, max: 21 }, reproducedShare: 0.046 },
      );
    case 'unrelated':
      return draft(
        retag(base, () => ({ kind: 'unrelated', parent: null })),
        { kind, weights: null, noiseRatio: { median: 600, p90: 640, max: 702 }, alternatives: [650, 712.5], reproducedShare: null },
      );
    case 'mixed':
      // The embedding (49.3% of elements) is A's, untouched; everything else is the blend.
      return draft(
        retag(base, (tensor) =>
          tensor.component === 'embedding' ? { kind: 'identical', parent: 0 } : { kind: 'blend', parent: null },
        ),
        { kind, weights: null, reason: null },
      );
    case 'inconclusive':
      return draft(
        retag(base, () => ({ kind: 'inconclusive', parent: null })),
        {
          kind,
          weights: null,
          noiseRatio: null,
          reproducedShare: null,
          reason: 'the parents are bit-identical in every compared tensor.',
        },
      );
  }
}
