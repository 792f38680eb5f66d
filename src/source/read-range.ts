import type { ByteSource } from './byte-source.js';

/**
 * Checks a read request against a source and returns its length. A request outside the
 * source is the caller's bug (parsers validate offsets against `size` first), hence a
 * RangeError rather than an input or I/O error.
 */
export function checkedRange(source: ByteSource, start: number, end: number, into?: Uint8Array): number {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || start > end || end > source.size) {
    throw new RangeError(`${source.name}: read of bytes [${start}, ${end}) outside the source (${source.size} bytes)`);
  }
  const length = end - start;
  if (into && into.byteLength < length) {
    throw new RangeError(`${source.name}: buffer of ${into.byteLength} bytes cannot hold bytes [${start}, ${end})`);
  }
  return length;
}
