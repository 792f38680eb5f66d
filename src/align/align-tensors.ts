import { floatFormat } from '../format/dtype.js';
import type { ModelLayout, TensorDescriptor } from '../format/model-layout.js';

/** One tensor name present, with equal shapes and decodable dtypes, in every input. */
export interface AlignedTensor {
  readonly name: string;
  readonly suspect: TensorDescriptor;
  /** In --parents order. */
  readonly parents: readonly TensorDescriptor[];
}

export interface Alignment {
  /** In the suspect's on-disk order, so each shard is read front to back. */
  readonly tensors: AlignedTensor[];
  /** Suspect tensors that some parent lacks. */
  readonly suspectOnly: string[];
  /** Per parent: its tensors that the suspect lacks. */
  readonly parentOnly: { parent: number; names: string[] }[];
  readonly mismatched: { name: string; reason: 'shape' | 'unsupported-dtype'; detail: string }[];
  /** Suspect tensors left out by --include/--exclude. */
  readonly filtered: number;
}

export interface NameFilter {
  include: readonly RegExp[];
  exclude: readonly RegExp[];
}

export function isSelected(name: string, filter: NameFilter): boolean {
  if (filter.include.length > 0 && !filter.include.some((re) => re.test(name))) return false;
  return !filter.exclude.some((re) => re.test(name));
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Matches tensors by name across the suspect and the parents. */
export function alignTensors(suspect: ModelLayout, parents: readonly ModelLayout[], filter: NameFilter): Alignment {
  const tensors: AlignedTensor[] = [];
  const suspectOnly: string[] = [];
  const mismatched: Alignment['mismatched'] = [];
  let filtered = 0;

  for (const [name, s] of suspect.tensors) {
    if (!isSelected(name, filter)) {
      filtered++;
      continue;
    }
    const matches = parents.map((p) => p.tensors.get(name));
    if (matches.some((t) => t === undefined)) {
      suspectOnly.push(name);
      continue;
    }
    const found = matches as TensorDescriptor[];
    const shapes = [s, ...found].map((t) => shapeText(t.shape));
    if (shapes.some((shape) => shape !== shapes[0])) {
      mismatched.push({ name, reason: 'shape', detail: `suspect ${shapes[0]}; parents ${shapes.slice(1).join(', ')}` });
      continue;
    }
    const undecodable = [s, ...found].find((t) => floatFormat(t.dtype) === null);
    if (undecodable) {
      mismatched.push({
        name,
        reason: 'unsupported-dtype',
        detail: `dtype ${undecodable.dtype} cannot be decoded yet (supported: F64, F32, F16, BF16)`,
      });
      continue;
    }
    tensors.push({ name, suspect: s, parents: found });
  }

  const parentOnly = parents.map((p, parent) => ({
    parent,
    names: [...p.tensors.keys()].filter((name) => isSelected(name, filter) && !suspect.tensors.has(name)),
  }));
  return { tensors, suspectOnly, parentOnly, mismatched, filtered };
}
