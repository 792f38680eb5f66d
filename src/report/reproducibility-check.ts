import type { InputRecord, Report, TensorKind, VerdictKind } from '../report-schema.js';

/**
 * When two numbers "match": they differ by at most 1e-6 × max(1, |a|, |b|) — six
 * decimals for weights (the report prints three), six significant digits for residuals
 * in σ (it prints three). Far looser than the float64 rounding a different summation
 * order (threads, shards, another CPU) moves a sum by, far tighter than anything a
 * reader or a verdict could see. Whether every number is also bit-identical is reported
 * separately.
 */
export const MATCH_TOLERANCE = 1e-6;

export type ReproductionDifference =
  | { kind: 'verdict-kind'; original: VerdictKind; rerun: VerdictKind }
  | { kind: 'verdict-parent'; original: number | null; rerun: number | null }
  | { kind: 'tensor-missing'; name: string; missingFrom: 'original' | 'rerun' }
  | { kind: 'tensor-kind'; name: string; original: TensorKind; rerun: TensorKind }
  /** `where`: "verdict.weights[1]", "model.layers.0.mlp.up_proj.weight noiseRatio", … */
  | { kind: 'number'; where: string; original: number | null; rerun: number | null };

export type InputChange =
  | { kind: 'missing'; label: string; path: string }
  | { kind: 'added'; label: string; path: string }
  | { kind: 'size'; label: string; path: string; original: number; now: number }
  | { kind: 'content'; label: string; path: string }
  /** No hash to compare, same size, another modification time: maybe changed. */
  | { kind: 'modified'; label: string; path: string };

export interface ReproductionResult {
  /** Same verdict kind and parent, same tensors with the same kinds, every compared number within MATCH_TOLERANCE. */
  readonly matches: boolean;
  /** Every compared number bit-identical as well. */
  readonly identical: boolean;
  readonly differences: readonly ReproductionDifference[];
  readonly compared: { readonly tensors: number; readonly numbers: number };
  readonly inputChanges: readonly InputChange[];
  /** Files whose identity was checked, and how. */
  readonly filesChecked: { readonly bySha256: number; readonly bySizeAndTime: number };
}

export function numbersMatch(a: number | null, b: number | null): boolean {
  if (a === null || b === null) return a === b;
  if (Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b))) return true;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return false;
  return Math.abs(a - b) <= MATCH_TOLERANCE * Math.max(1, Math.abs(a), Math.abs(b));
}

function numbersIdentical(a: number | null, b: number | null): boolean {
  if (a === null || b === null) return a === b;
  return Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b)) || a === b;
}

/** Compares a re-run with the original report: the verdict, every tensor's kind, weights and noiseRatio. */
export function compareReports(original: Report, rerun: Report): ReproductionResult {
  const differences: ReproductionDifference[] = [];
  let numbers = 0;
  let identical = true;
  const compareNumber = (where: string, a: number | null | undefined, b: number | null | undefined): void => {
    const left = a ?? null;
    const right = b ?? null;
    numbers++;
    if (!numbersIdentical(left, right)) identical = false;
    if (!numbersMatch(left, right)) differences.push({ kind: 'number', where, original: left, rerun: right });
  };
  const compareList = (where: string, a: readonly (number | null)[] | null, b: readonly (number | null)[] | null): void => {
    const length = Math.max(a?.length ?? 0, b?.length ?? 0);
    for (let index = 0; index < length; index++) compareNumber(`${where}[${index}]`, a?.[index], b?.[index]);
  };

  if (original.verdict.kind !== rerun.verdict.kind) {
    differences.push({ kind: 'verdict-kind', original: original.verdict.kind, rerun: rerun.verdict.kind });
  }
  if (original.verdict.parent !== rerun.verdict.parent) {
    differences.push({ kind: 'verdict-parent', original: original.verdict.parent, rerun: rerun.verdict.parent });
  }
  compareList('verdict.weights', original.verdict.weights, rerun.verdict.weights);
  compareNumber('verdict.noiseRatio.median', original.verdict.noiseRatio?.median, rerun.verdict.noiseRatio?.median);
  compareList('verdict.alternatives', original.verdict.alternatives, rerun.verdict.alternatives);

  const rerunTensors = new Map(rerun.tensors.map((tensor) => [tensor.name, tensor]));
  const originalNames = new Set(original.tensors.map((tensor) => tensor.name));
  for (const tensor of original.tensors) {
    const again = rerunTensors.get(tensor.name);
    if (again === undefined) {
      differences.push({ kind: 'tensor-missing', name: tensor.name, missingFrom: 'rerun' });
      continue;
    }
    if (tensor.kind !== again.kind) differences.push({ kind: 'tensor-kind', name: tensor.name, original: tensor.kind, rerun: again.kind });
    compareList(`${tensor.name} weights`, tensor.weights, again.weights);
    compareNumber(`${tensor.name} noiseRatio`, tensor.noiseRatio, again.noiseRatio);
  }
  for (const tensor of rerun.tensors) {
    if (!originalNames.has(tensor.name)) differences.push({ kind: 'tensor-missing', name: tensor.name, missingFrom: 'original' });
  }

  const { changes, bySha256, bySizeAndTime } = compareInputs(original.reproducibility?.inputs ?? [], rerun.reproducibility?.inputs ?? []);
  return {
    matches: differences.length === 0,
    identical: differences.length === 0 && identical,
    differences,
    compared: { tensors: original.tensors.length, numbers },
    inputChanges: changes,
    filesChecked: { bySha256, bySizeAndTime },
  };
}

/**
 * Which recorded files are not as they were. A file with a recorded hash is judged by
 * it (a touched file with the same bytes is unchanged); without one, by size and then
 * modification time, which can only say "maybe changed".
 */
export function compareInputs(
  recorded: readonly InputRecord[],
  current: readonly InputRecord[],
): { changes: InputChange[]; bySha256: number; bySizeAndTime: number } {
  const changes: InputChange[] = [];
  let bySha256 = 0;
  let bySizeAndTime = 0;
  recorded.forEach((input, index) => {
    const now = current[index];
    const nowFiles = new Map((now?.files ?? []).map((file) => [file.path, file]));
    for (const file of input.files) {
      const again = nowFiles.get(file.path);
      if (again === undefined) {
        changes.push({ kind: 'missing', label: input.label, path: file.path });
        continue;
      }
      if (file.sha256 !== null && again.sha256 !== null) {
        bySha256++;
        if (file.sha256 !== again.sha256) changes.push({ kind: 'content', label: input.label, path: file.path });
        continue;
      }
      bySizeAndTime++;
      if (file.bytes !== again.bytes) {
        changes.push({ kind: 'size', label: input.label, path: file.path, original: file.bytes, now: again.bytes });
      } else if (file.modified !== null && again.modified !== null && file.modified !== again.modified) {
        changes.push({ kind: 'modified', label: input.label, path: file.path });
      }
    }
    const known = new Set(input.files.map((file) => file.path));
    for (const file of now?.files ?? []) {
      if (!known.has(file.path)) changes.push({ kind: 'added', label: input.label, path: file.path });
    }
  });
  return { changes, bySha256, bySizeAndTime };
}
