import { open, type FileHandle } from 'node:fs/promises';
import { IoError, MalformedInputError } from '../errors.js';
import type { ByteSource } from './byte-source.js';
import { checkedRange } from './read-range.js';

/**
 * Node refuses single reads longer than 2^31 - 1 bytes; stay well under it so one call
 * never fails on size alone (a whole 8 GiB expert tensor is read in several calls).
 */
const MAX_READ_CALL = 1 << 30;

/** A local file read with positional reads: no shared cursor, so reads may overlap in time. */
export class LocalFileSource implements ByteSource {
  private constructor(
    readonly name: string,
    readonly size: number,
    private handle: FileHandle | null,
  ) {}

  /** Opens `path` (following symlinks); `name` is what messages call it (default: the path). */
  static async open(path: string, name: string = path): Promise<LocalFileSource> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      throw new IoError(name, `cannot open for reading (${codeOf(error)})`, { cause: error });
    }
    try {
      const stats = await handle.stat();
      if (!stats.isFile()) throw new MalformedInputError(name, 'not a regular file');
      return new LocalFileSource(name, stats.size, handle);
    } catch (error) {
      await handle.close().catch(() => undefined);
      if (error instanceof MalformedInputError) throw error;
      throw new IoError(name, `cannot stat (${codeOf(error)})`, { cause: error });
    }
  }

  async read(start: number, end: number, into?: Uint8Array): Promise<Uint8Array> {
    const length = checkedRange(this, start, end, into);
    const handle = this.handle;
    if (!handle) throw new Error(`${this.name}: read after close`);
    const target = into ? into.subarray(0, length) : new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(target, filled, Math.min(length - filled, MAX_READ_CALL), start + filled));
      } catch (error) {
        throw new IoError(this.name, `read of bytes [${start}, ${end}) failed (${codeOf(error)})`, { cause: error });
      }
      if (bytesRead === 0) {
        // The file shrank after it was opened (truncated or being rewritten).
        throw new IoError(
          this.name,
          `file ended at byte ${start + filled} while reading bytes [${start}, ${end}) (it had ${this.size} bytes when opened)`,
        );
      }
      filled += bytesRead;
    }
    return target;
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    await handle?.close();
  }
}

function codeOf(error: unknown): string {
  if (error && typeof error === 'object' && 'code' in error && typeof error.code === 'string') return error.code;
  return error instanceof Error ? error.message : String(error);
}
