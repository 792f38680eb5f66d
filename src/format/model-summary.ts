/**
 * What `provcheck inspect` shows about a model: plain data from the layout alone, no I/O
 * and no wording (renderers live in src/report/).
 */
import type { ModelLayout } from './model-layout.js';

export interface FileSummary {
  /** Relative to the model root. */
  readonly file: string;
  readonly bytes: number;
  /** The JSON header with its padding, without the 8-byte length prefix. */
  readonly headerBytes: number;
  readonly tensorCount: number;
  readonly metadata: Readonly<Record<string, string>>;
}

export interface DTypeSummary {
  readonly dtype: string;
  readonly tensors: number;
  readonly elements: number;
  readonly bytes: number;
}

export interface TensorSummary {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly bytes: number;
  readonly file: string;
}

export interface ModelSummary {
  readonly input: string;
  readonly root: string;
  readonly kind: ModelLayout['kind'];
  readonly indexFile: string | null;
  readonly files: readonly FileSummary[];
  /** Largest share of bytes first; ties by dtype name. */
  readonly dtypes: readonly DTypeSummary[];
  readonly totals: {
    readonly tensors: number;
    readonly elements: number;
    /** Tensor payload bytes (what an index calls total_size). */
    readonly tensorBytes: number;
    /** Whole files, headers included. */
    readonly fileBytes: number;
  };
  /** Layout order: shard order, then on-disk order. */
  readonly tensors: readonly TensorSummary[];
}

export function summarizeModel(layout: ModelLayout): ModelSummary {
  const files = layout.shards.map(
    (shard): FileSummary => ({
      file: shard.file,
      bytes: shard.size,
      headerBytes: shard.dataStart - 8,
      tensorCount: shard.tensorNames.length,
      metadata: { ...shard.metadata },
    }),
  );
  const byDType = new Map<string, { tensors: number; elements: number; bytes: number }>();
  const tensors: TensorSummary[] = [];
  let elements = 0;
  let tensorBytes = 0;
  for (const tensor of layout.tensors.values()) {
    const totals = byDType.get(tensor.dtype) ?? { tensors: 0, elements: 0, bytes: 0 };
    totals.tensors += 1;
    totals.elements += tensor.elements;
    totals.bytes += tensor.byteLength;
    byDType.set(tensor.dtype, totals);
    elements += tensor.elements;
    tensorBytes += tensor.byteLength;
    tensors.push({
      name: tensor.name,
      dtype: tensor.dtype,
      shape: [...tensor.shape],
      bytes: tensor.byteLength,
      file: tensor.shard.file,
    });
  }
  const dtypes = [...byDType]
    .map(([dtype, totals]): DTypeSummary => ({ dtype, ...totals }))
    .sort((a, b) => b.bytes - a.bytes || (a.dtype < b.dtype ? -1 : a.dtype > b.dtype ? 1 : 0));
  return {
    input: layout.input,
    root: layout.root,
    kind: layout.kind,
    indexFile: layout.indexFile,
    files,
    dtypes,
    totals: { tensors: tensors.length, elements, tensorBytes, fileBytes: layout.totalBytes },
    tensors,
  };
}
