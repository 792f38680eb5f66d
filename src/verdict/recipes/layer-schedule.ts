import type { Component, TensorReport } from '../../report-schema.js';

/**
 * Layer-wise recipes: the weight of one parent across the transformer's layers, and the
 * simplest schedule that explains it. mergekit configs set a weight (or SLERP's t) per
 * layer either as a constant, as a gradient — a list of anchor values spread evenly
 * over the layers and interpolated linearly between them ([0, 1] is a ramp,
 * [0, 0.5, 1] the same ramp, [0.2, 0.8, 0.2] a tent) — or per layer range (a step),
 * often separately for attention and MLP tensors (`filter: self_attn`, `filter: mlp`).
 */
export const SCHEDULE_KINDS = ['constant', 'ramp', 'step', 'gradient-3'] as const;
export type ScheduleKind = (typeof SCHEDULE_KINDS)[number];

export interface LayerPoint {
  layer: number;
  /** Element-weighted mean of the tensors' weights in this layer (and component group). */
  weight: number;
  /** Its standard error from the tensors' own, sqrt(Σ n_t² se_t²)/Σ n_t (0 where no tensor has one). */
  stdErr: number;
  /** Element-weighted spread of the tensors' weights around it (0 for one tensor). */
  spread: number;
  tensors: number;
  elements: number;
}

export interface ScheduleFit {
  kind: ScheduleKind;
  /**
   * constant: [value]; ramp: [value at the first layer, value at the last];
   * step: [value before, value from, first layer of the second value];
   * gradient-3: [first, middle, last] anchors.
   */
  parameters: number[];
  /** Root mean square of the layer means around the schedule. */
  rmsResidual: number;
  /** Bayesian information criterion used to choose (lower is better). */
  criterion: number;
}

export interface LayerProfile {
  /** Parent whose weight this is (--parents order). */
  parent: number;
  /** 'all' or a component: attention and MLP tensors are often scheduled separately. */
  group: 'all' | Component;
  points: LayerPoint[];
  /** The chosen schedule; null with fewer than two layers. */
  schedule: ScheduleFit | null;
  /** Every schedule tried, best first. */
  fits: ScheduleFit[];
}

/**
 * Below this RMS a schedule's misfit is indistinguishable from estimation noise
 * (weights of one tensor are known to ~1e-3 at worst on the fixtures; statistics.md):
 * it bounds the residual variance used by the criterion, so a schedule with more
 * parameters cannot win by fitting the noise of exact data. Where the layer means are
 * less certain than that (small tensors: the fixtures' 64-element norms have standard
 * errors ~0.02), their median standard error is the bound instead.
 */
export const SCHEDULE_NOISE = 2e-3;

/**
 * Per-layer profile of `parent`'s weight over the tensors that have a layer index and
 * an identifiable weight, for all such tensors and for each component with tensors in
 * at least two layers.
 */
export function layerProfiles(tensors: readonly TensorReport[], parent: number): LayerProfile[] {
  const usable = tensors.filter((t) => t.layer !== null && t.weights[parent] !== null && t.weights[parent] !== undefined && t.identifiability.identifiable);
  const groups: ('all' | Component)[] = ['all', ...new Set(usable.map((t) => t.component))];
  const profiles: LayerProfile[] = [];
  for (const group of groups) {
    const members = group === 'all' ? usable : usable.filter((t) => t.component === group);
    const points = layerPoints(members, parent);
    if (group !== 'all' && points.length < 2) continue;
    const fits = fitSchedules(points);
    profiles.push({ parent, group, points, schedule: fits[0] ?? null, fits });
  }
  return profiles;
}

function layerPoints(tensors: readonly TensorReport[], parent: number): LayerPoint[] {
  const byLayer = new Map<number, TensorReport[]>();
  for (const t of tensors) {
    const list = byLayer.get(t.layer!) ?? [];
    list.push(t);
    byLayer.set(t.layer!, list);
  }
  return [...byLayer.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([layer, list]) => {
      const elements = list.reduce((s, t) => s + t.elements, 0);
      const weight = list.reduce((s, t) => s + t.elements * t.weights[parent]!, 0) / elements;
      const variance = list.reduce((s, t) => s + t.elements * (t.weights[parent]! - weight) ** 2, 0) / elements;
      const errorVariance = list.reduce((s, t) => s + (t.elements * (t.weightsStdErr[parent] ?? 0)) ** 2, 0);
      return { layer, weight, stdErr: Math.sqrt(errorVariance) / elements, spread: Math.sqrt(variance), tensors: list.length, elements };
    });
}

/** Least squares y ≈ Σ c_b basis_b(x) for a handful of basis functions (normal equations, Gaussian elimination). */
function leastSquares(xs: readonly number[], ys: readonly number[], basis: readonly ((x: number) => number)[]): { coefficients: number[]; rss: number } | null {
  const p = basis.length;
  const a = Array.from({ length: p }, () => new Array<number>(p + 1).fill(0));
  for (let i = 0; i < xs.length; i++) {
    const row = basis.map((f) => f(xs[i]!));
    for (let r = 0; r < p; r++) {
      for (let c = 0; c < p; c++) a[r]![c]! += row[r]! * row[c]!;
      a[r]![p]! += row[r]! * ys[i]!;
    }
  }
  for (let col = 0; col < p; col++) {
    let pivot = col;
    for (let r = col + 1; r < p; r++) if (Math.abs(a[r]![col]!) > Math.abs(a[pivot]![col]!)) pivot = r;
    if (Math.abs(a[pivot]![col]!) < 1e-12) return null;
    [a[col], a[pivot]] = [a[pivot]!, a[col]!];
    for (let r = 0; r < p; r++) {
      if (r === col) continue;
      const factor = a[r]![col]! / a[col]![col]!;
      for (let c = col; c <= p; c++) a[r]![c]! -= factor * a[col]![c]!;
    }
  }
  const coefficients = a.map((row, r) => row[p]! / row[r]!);
  let rss = 0;
  for (let i = 0; i < xs.length; i++) {
    const fitted = basis.reduce((s, f, b) => s + coefficients[b]! * f(xs[i]!), 0);
    rss += (ys[i]! - fitted) ** 2;
  }
  return { coefficients, rss };
}

/**
 * Fits every schedule to the layer means (each layer counts once: a schedule is per
 * layer, not per element) and orders them by BIC, n·ln(max(rss/n, noise²)) + p·ln(n),
 * noise the larger of SCHEDULE_NOISE and the layer means' median standard error; ties
 * go to fewer parameters. Layer positions are relative, x = (layer −
 * first)/(last − first), as mergekit spreads gradient anchors over the layer range.
 */
export function fitSchedules(points: readonly LayerPoint[]): ScheduleFit[] {
  const n = points.length;
  if (n < 2) return [];
  const first = points[0]!.layer;
  const last = points[n - 1]!.layer;
  const xs = points.map((p) => (p.layer - first) / (last - first));
  const ys = points.map((p) => p.weight);
  const fits: ScheduleFit[] = [];
  const errors = points.map((p) => p.stdErr).sort((a, b) => a - b);
  const noise = Math.max(SCHEDULE_NOISE, errors[errors.length >> 1] ?? 0);
  const add = (kind: ScheduleKind, parameters: number[], rss: number, p: number): void => {
    const variance = Math.max(rss / n, noise * noise);
    fits.push({ kind, parameters, rmsResidual: Math.sqrt(rss / n), criterion: n * Math.log(variance) + p * Math.log(n) });
  };
  const constant = leastSquares(xs, ys, [() => 1]);
  if (constant) add('constant', constant.coefficients, constant.rss, 1);
  const ramp = leastSquares(xs, ys, [(x) => 1 - x, (x) => x]);
  if (ramp && n >= 3) add('ramp', ramp.coefficients, ramp.rss, 2);
  if (n >= 4) {
    const tent = leastSquares(xs, ys, [(x) => Math.max(0, 1 - 2 * x), (x) => 1 - Math.abs(2 * x - 1), (x) => Math.max(0, 2 * x - 1)]);
    if (tent) add('gradient-3', tent.coefficients, tent.rss, 3);
  }
  if (n >= 3) {
    let best: { parameters: number[]; rss: number } | null = null;
    for (let split = 1; split < n; split++) {
      const before = ys.slice(0, split);
      const after = ys.slice(split);
      const mean = (v: number[]): number => v.reduce((s, y) => s + y, 0) / v.length;
      const a = mean(before);
      const b = mean(after);
      const rss = before.reduce((s, y) => s + (y - a) ** 2, 0) + after.reduce((s, y) => s + (y - b) ** 2, 0);
      if (!best || rss < best.rss) best = { parameters: [a, b, points[split]!.layer], rss };
    }
    if (best) add('step', best.parameters, best.rss, 3);
  }
  const order = (kind: ScheduleKind): number => SCHEDULE_KINDS.indexOf(kind);
  return fits.sort((x, y) => x.criterion - y.criterion || order(x.kind) - order(y.kind));
}
