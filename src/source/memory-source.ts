import type { ByteSource } from './byte-source.js';
import { checkedRange } from './read-range.js';

/** Bytes held in memory, for tests and for small files already read. */
export class MemorySource implements ByteSource {
  readonly size: number;

  constructor(
    private readonly bytes: Uint8Array,
    readonly name: string = 'memory',
  ) {
    this.size = bytes.byteLength;
  }

  read(start: number, end: number, into?: Uint8Array): Promise<Uint8Array> {
    try {
      const length = checkedRange(this, start, end, into);
      // Always a copy, as from a file: a caller that reuses or edits the buffer must not
      // change what the next read returns.
      const target = into ? into.subarray(0, length) : new Uint8Array(length);
      target.set(this.bytes.subarray(start, end));
      return Promise.resolve(target);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
