import { COMPONENTS, type Component, type Report, type TensorKind, type TensorReport } from '../report-schema.js';
import { TENSOR_KINDS } from './verdict-sentence.js';

/** One layer's tensors in summary: what the per-layer tables and charts show. */
export interface LayerSummary {
  readonly layer: number;
  readonly tensors: number;
  readonly elements: number;
  /** Tensors per kind, most elements first. */
  readonly kinds: readonly { kind: TensorKind; tensors: number }[];
  /** Per parent: element-weighted mean weight over the layer's identifiable tensors; null if none. */
  readonly weights: readonly (number | null)[];
  /**
   * Per parent: the layer's weight ± 2 standard errors of that element-weighted mean
   * (from the tensors' own standard errors). A 64-element norm vector has a weight
   * uncertain by ±0.1 and would swamp a min–max band; weighting by elements, as the
   * mean does, keeps the band about the estimate the line shows.
   */
  readonly bands: readonly ({ low: number; high: number } | null)[];
  readonly medianNoiseRatio: number;
  readonly maxNoiseRatio: number;
}

/** The tensors that carry a layer number, by layer, layers in ascending order. */
export function tensorsByLayer(report: Report): Map<number, TensorReport[]> {
  const byLayer = new Map<number, TensorReport[]>();
  for (const tensor of report.tensors) {
    if (tensor.layer === null) continue;
    const list = byLayer.get(tensor.layer) ?? [];
    list.push(tensor);
    byLayer.set(tensor.layer, list);
  }
  return new Map([...byLayer].sort(([a], [b]) => a - b));
}

/** Layers in order, from the tensors that carry a layer number. */
export function layerSummaries(report: Report): LayerSummary[] {
  const parents = report.parents.length;
  return [...tensorsByLayer(report)].map(([layer, tensors]) => {
    const weights: (number | null)[] = [];
    const bands: ({ low: number; high: number } | null)[] = [];
    for (let parent = 0; parent < parents; parent++) {
      let weighted = 0;
      let elements = 0;
      let variance = 0;
      for (const tensor of tensors) {
        const weight = tensor.weights[parent];
        if (weight === null || weight === undefined || !Number.isFinite(weight)) continue;
        const stdErr = tensor.weightsStdErr[parent];
        weighted += weight * tensor.elements;
        elements += tensor.elements;
        if (stdErr !== null && stdErr !== undefined && Number.isFinite(stdErr)) variance += (tensor.elements * stdErr) ** 2;
      }
      const mean = weighted / elements;
      const margin = (2 * Math.sqrt(variance)) / elements;
      weights.push(elements > 0 ? mean : null);
      bands.push(elements > 0 ? { low: mean - margin, high: mean + margin } : null);
    }
    const ratios = tensors.map((tensor) => tensor.noiseRatio);
    return {
      layer,
      tensors: tensors.length,
      elements: tensors.reduce((sum, tensor) => sum + tensor.elements, 0),
      kinds: kindsOf(tensors),
      weights,
      bands,
      medianNoiseRatio: median(ratios),
      maxNoiseRatio: ratios.reduce((max, ratio) => (ratio > max ? ratio : max), Number.NEGATIVE_INFINITY),
    };
  });
}

/** Tensors per kind, most elements first (ties in schema order). */
export function kindsOf(tensors: readonly TensorReport[]): { kind: TensorKind; tensors: number }[] {
  return TENSOR_KINDS.map((kind) => {
    const ofKind = tensors.filter((tensor) => tensor.kind === kind);
    return { kind, tensors: ofKind.length, elements: ofKind.reduce((sum, tensor) => sum + tensor.elements, 0) };
  })
    .filter((entry) => entry.tensors > 0)
    .sort((a, b) => b.elements - a.elements)
    .map(({ kind, tensors: count }) => ({ kind, tensors: count }));
}

/** Median noiseRatio per (row, component): rows are layers, then one row for tensors outside the layer stack. */
export interface NoiseGrid {
  readonly rows: readonly { label: string; layer: number | null }[];
  readonly components: readonly Component[];
  /** cells[row][component]: median noiseRatio of those tensors, null where there are none. */
  readonly cells: readonly (readonly (number | null)[])[];
}

export function noiseGrid(report: Report): NoiseGrid {
  const components = COMPONENTS.filter((component) => report.tensors.some((tensor) => tensor.component === component));
  const layers = [...new Set(report.tensors.map((tensor) => tensor.layer).filter((layer): layer is number => layer !== null))].sort(
    (a, b) => a - b,
  );
  const rows: { label: string; layer: number | null }[] = layers.map((layer) => ({ label: String(layer), layer }));
  if (report.tensors.some((tensor) => tensor.layer === null)) rows.push({ label: 'no layer', layer: null });
  const cells = rows.map((row) =>
    components.map((component) => {
      const ratios = report.tensors
        .filter((tensor) => tensor.layer === row.layer && tensor.component === component)
        .map((tensor) => tensor.noiseRatio);
      return ratios.length === 0 ? null : median(ratios);
    }),
  );
  return { rows, components, cells };
}

export function median(values: readonly number[]): number {
  const sorted = values.filter((value) => !Number.isNaN(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] ?? Number.NaN) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** The tensors most worth a look: those whose kind differs from the verdict, then the highest residuals. */
export function tensorsWorthALook(report: Report, count: number): { tensor: TensorReport; differs: boolean }[] {
  const { verdict } = report;
  const differs = (tensor: TensorReport): boolean => {
    if (verdict.kind === 'mixed' || verdict.kind === 'inconclusive') return false;
    if (tensor.kind !== verdict.kind) return true;
    return verdict.parent !== null && tensor.parent !== null && tensor.parent !== verdict.parent;
  };
  const residual = (tensor: TensorReport): number => (Number.isNaN(tensor.noiseRatio) ? Number.NEGATIVE_INFINITY : tensor.noiseRatio);
  return [...report.tensors]
    .sort((a, b) => Number(differs(b)) - Number(differs(a)) || descending(residual(a), residual(b)))
    .slice(0, count)
    .map((tensor) => ({ tensor, differs: differs(tensor) }));
}

/** Larger first, without the NaN that Infinity − Infinity would give a comparator. */
function descending(a: number, b: number): number {
  return a === b ? 0 : a > b ? -1 : 1;
}
