import { readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { IoError, MalformedInputError } from '../errors.js';
import type { ByteSource } from './byte-source.js';
import { checkedRange } from './read-range.js';

/**
 * Node refuses single reads longer than 2^31 - 1 bytes; stay well under it so one call
 * never fails on size alone (a whole 8 GiB expert tensor is read in several calls).
 */
const MAX_READ_CALL = 1 << 30;

/**
 * Small reads (a per-expert MoE checkpoint has 100k+ tensors of a few KB, each read by
 * suspect and parents, twice) cost far more than their bytes: a system call each (small
 * reads are synchronous, below). Runs of them in file order are served from a window of
 * the file read in one call. Windows are kept for the MAX_WINDOWS files read last in this
 * thread, one per file: 2 MiB in all.
 */
const SMALL_READ_BYTES = 64 * 1024;
const WINDOW_BYTES = 256 * 1024;
/** A small read starting at most this far after the previous one's end continues a run. */
const SEQUENTIAL_GAP_BYTES = 64 * 1024;
const MAX_WINDOWS = 8;

interface FileWindow {
  start: number;
  bytes: Uint8Array;
}

/** Most recently used last. */
const windows = new Map<LocalFileSource, Promise<FileWindow>>();

/** A local file read with positional reads: no shared cursor, so reads may overlap in time. */
export class LocalFileSource implements ByteSource {
  /** Where the last small read ended (-1: none yet), to tell runs of small reads from lone ones. */
  private lastSmallEnd = -1;

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
    const target = into ? into.subarray(0, length) : new Uint8Array(length);
    if (length > 0 && length <= SMALL_READ_BYTES) {
      // A window only pays when small reads come in file order; a lone read (a block
      // somewhere in a large tensor) is read exactly.
      const sequential = start >= this.lastSmallEnd && start - this.lastSmallEnd <= SEQUENTIAL_GAP_BYTES;
      this.lastSmallEnd = end;
      const window = await this.windowOver(start, end, sequential);
      if (window) {
        target.set(window.bytes.subarray(start - window.start, end - window.start));
        return target;
      }
    }
    return this.readInto(start, end, target);
  }

  /**
   * A cached window of the file holding [start, end): the current one when it does, else
   * (`readNew`) a new one read from `start` (tensors are read in file order, so the next
   * small read is usually just after this one). Null without one, or when the window
   * cannot be read (the exact read then reports the problem in its own terms).
   */
  private async windowOver(start: number, end: number, readNew: boolean): Promise<FileWindow | null> {
    const cached = windows.get(this);
    if (cached) {
      const window = await cached.catch(() => null);
      if (window && window.start <= start && end <= window.start + window.bytes.length) {
        windows.delete(this);
        windows.set(this, cached);
        return window;
      }
    }
    if (!readNew) return null;
    const windowEnd = Math.min(this.size, start + WINDOW_BYTES);
    const reading = this.readInto(start, windowEnd, new Uint8Array(windowEnd - start)).then((bytes) => ({ start, bytes }));
    windows.delete(this);
    windows.set(this, reading);
    if (windows.size > MAX_WINDOWS) windows.delete(windows.keys().next().value!);
    return reading.catch(() => {
      if (windows.get(this) === reading) windows.delete(this);
      return null;
    });
  }

  private async readInto(start: number, end: number, target: Uint8Array): Promise<Uint8Array> {
    const length = end - start;
    const handle = this.handle;
    if (!handle) throw new Error(`${this.name}: read after close`);
    let filled = 0;
    while (filled < length) {
      let bytesRead: number;
      try {
        if (length <= WINDOW_BYTES) {
          // A small read: synchronous, as a page-cache hit costs less than the thread
          // pool's round trip (a replay reads 8 blocks of 2 KB per input and tensor; an
          // expert slice's first block is read before anything can overlap it). On the
          // main thread too: --threads 0 on the 1 GB bench trio was idle ~2.9 s of 13
          // (node --cpu-prof) waiting for such round trips, and took 10.36 -> 9.67-9.69 s
          // without them. It blocks only this thread, not its reads in flight.
          bytesRead = readSync(handle.fd, target, filled, length - filled, start + filled);
        } else {
          ({ bytesRead } = await handle.read(target, filled, Math.min(length - filled, MAX_READ_CALL), start + filled));
        }
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
    windows.delete(this);
    const handle = this.handle;
    this.handle = null;
    await handle?.close();
  }
}

function codeOf(error: unknown): string {
  if (error && typeof error === 'object' && 'code' in error && typeof error.code === 'string') return error.code;
  return error instanceof Error ? error.message : String(error);
}
