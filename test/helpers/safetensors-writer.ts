/**
 * Builds safetensors files for tests, fixtures and benchmarks: well-formed by default,
 * with knobs to produce specific malformations for the parser's tests.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface TensorBytes {
  name: string;
  dtype: string;
  shape: number[];
  data: Uint8Array;
}

export interface SerializeOptions {
  metadata?: Record<string, string>;
  /** Pad the JSON header with spaces to a multiple of this (8 as the reference writer does). */
  align?: number;
  /** Replace the header JSON text entirely (for malformed-file tests). */
  headerText?: string;
  /** Override the 8-byte length prefix (for malformed-file tests). */
  headerLength?: bigint;
  /** Override data_offsets per tensor name (for malformed-file tests). */
  offsets?: Record<string, [number, number]>;
  /** Extra bytes appended after the data (for malformed-file tests). */
  trailing?: Uint8Array;
}

/** The bytes of one safetensors file: 8-byte LE header length, JSON header, data. */
export function serializeSafetensors(tensors: TensorBytes[], options: SerializeOptions = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (options.metadata) header.__metadata__ = options.metadata;
  let offset = 0;
  for (const t of tensors) {
    const span = options.offsets?.[t.name] ?? [offset, offset + t.data.byteLength];
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: span };
    offset += t.data.byteLength;
  }
  let text = options.headerText ?? JSON.stringify(header);
  const align = options.align ?? 8;
  while (Buffer.byteLength(text) % align !== 0) text += ' ';
  const headerBytes = Buffer.from(text, 'utf8');
  const trailing = options.trailing ?? new Uint8Array(0);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset + trailing.byteLength);
  new DataView(out.buffer).setBigUint64(0, options.headerLength ?? BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.byteLength;
  for (const t of tensors) {
    out.set(t.data, at);
    at += t.data.byteLength;
  }
  out.set(trailing, at);
  return out;
}

export interface WriteModelOptions {
  /** Tensor names per shard, in order; default one file `model.safetensors`. */
  shards?: string[][];
  /** Write model.safetensors.index.json for sharded models (default true). */
  index?: boolean;
  metadata?: Record<string, string>;
}

/** Writes a model folder the way transformers' save_pretrained lays it out. */
export async function writeModel(dir: string, tensors: TensorBytes[], options: WriteModelOptions = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const groups = options.shards ?? [tensors.map((t) => t.name)];
  if (groups.length === 1) {
    await writeFile(join(dir, 'model.safetensors'), serializeSafetensors(tensors, { metadata: options.metadata ?? { format: 'pt' } }));
    return;
  }
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  for (const [i, names] of groups.entries()) {
    const file = `model-${String(i + 1).padStart(5, '0')}-of-${String(groups.length).padStart(5, '0')}.safetensors`;
    const shard = names.map((name) => {
      const t = byName.get(name);
      if (!t) throw new Error(`writeModel: no tensor ${name}`);
      weightMap[name] = file;
      totalSize += t.data.byteLength;
      return t;
    });
    await writeFile(join(dir, file), serializeSafetensors(shard, { metadata: options.metadata ?? { format: 'pt' } }));
  }
  if (options.index ?? true) {
    const index = { metadata: { total_size: totalSize }, weight_map: weightMap };
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify(index, null, 2) + '\n');
  }
}
