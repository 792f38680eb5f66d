import type { ByteSource } from '../source/byte-source.js';

/** One tensor as a safetensors header describes it, located in its shard. */
export interface TensorDescriptor {
  readonly name: string;
  /** The dtype string exactly as the header spells it ("BF16", "F32", "F8_E4M3", ...). */
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Product of the shape (1 for a scalar). */
  readonly elements: number;
  /** The shard that holds it. */
  readonly shard: ShardDescriptor;
  /** Absolute byte offset of the first element in the shard file (header included). */
  readonly start: number;
  readonly byteLength: number;
}

/** One safetensors file. */
export interface ShardDescriptor {
  /** Path relative to the model root (the file name for a single file). */
  readonly file: string;
  readonly source: ByteSource;
  readonly size: number;
  /** The 8-byte prefix plus the JSON header (with its padding): where data begins. */
  readonly dataStart: number;
  /** `__metadata__` of the header, string to string as the format requires. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Tensor names in on-disk order. */
  readonly tensorNames: readonly string[];
}

/** A model: one file or a folder of shards, with every tensor by name. */
export interface ModelLayout {
  /** What the user passed (the path as typed). */
  readonly input: string;
  /** The resolved root folder or file. */
  readonly root: string;
  /** How the tensors were found. */
  readonly kind: 'file' | 'folder-single' | 'folder-indexed' | 'folder-shards';
  /** The index file's name when kind is 'folder-indexed'. */
  readonly indexFile: string | null;
  readonly shards: readonly ShardDescriptor[];
  /** By name; the iteration order is shard order, then on-disk order within a shard. */
  readonly tensors: ReadonlyMap<string, TensorDescriptor>;
  /** Total bytes of all shard files. */
  readonly totalBytes: number;
  close(): Promise<void>;
}
