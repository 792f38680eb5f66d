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
 * thread, one per file, and their buffers are reused: 2.25 MiB in all.
 */
const SMALL_READ_BYTES = 64 * 1024;
const WINDOW_BYTES = 256 * 1024;
/** A small read starting at most this far after the previous one's end continues a run. */
const SEQUENTIAL_GAP_BYTES = 64 * 1024;
const MAX_WINDOWS = 8;
/** A file's first reads, continuing each other from its start, that are exact and asynchronous: a header's two. */
const HEAD_READS = 2;

interface FileWindow {
  start: number;
  /** The bytes read, a view of `buffer`. */
  bytes: Uint8Array;
  /** WINDOW_BYTES, handed to the next window once this one is dropped. */
  buffer: Uint8Array;
}

/** Most recently used last. */
const windows = new Map<LocalFileSource, FileWindow>();
/**
 * Buffers of dropped windows. Reusing them matters: a fresh 256 KiB buffer is zero-filled
 * and page-faulted in, and a run over a fused expert tensor's slices makes thousands
 * (~2,000 per worker on the 1 GB bench trio, each page fault a trip through the
 * hypervisor on a virtual machine), garbage that lingers outside the JS heap until a
 * collection. Windows are read and copied from synchronously, so a dropped window's
 * buffer has no reader left.
 */
const spareBuffers: Uint8Array[] = [];

function dropWindow(source: LocalFileSource): void {
  const window = windows.get(source);
  if (!window) return;
  windows.delete(source);
  // At most MAX_WINDOWS + 1 buffers in all: the windows and one spare.
  if (windows.size + spareBuffers.length <= MAX_WINDOWS) spareBuffers.push(window.buffer);
}

/** A local file read with positional reads: no shared cursor, so reads may overlap in time. */
export class LocalFileSource implements ByteSource {
  /** Where the last small read ended (-1: none yet), to tell runs of small reads from lone ones. */
  private lastSmallEnd = -1;
  /** Reads so far that continued the file from its start, and where they ended (see `read`). */
  private headReads = 0;
  private headEnd = 0;

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
    if (start === this.headEnd && this.headReads < HEAD_READS) {
      // A shard's header: its length prefix, then the JSON. Read exactly, on the thread
      // pool, so that the headers of the shards opened together (eight at a time, ~100
      // shards per model) are read from the disk together, not in turn as synchronous
      // reads would be (opening the 1 GB bench trio's 282 shards from a cold cache: 383-452
      // -> 160-167 ms, three runs alternating, 32493ca).
      this.headReads++;
      this.headEnd = end;
      this.lastSmallEnd = end;
      return this.readLater(start, end, target);
    }
    if (length > 0 && length <= SMALL_READ_BYTES) {
      // A window only pays when small reads come in file order; a lone read (a block
      // somewhere in a large tensor) is read exactly.
      const sequential = start >= this.lastSmallEnd && start - this.lastSmallEnd <= SEQUENTIAL_GAP_BYTES;
      this.lastSmallEnd = end;
      const window = this.windowOver(start, end, sequential);
      if (window) {
        target.set(window.bytes.subarray(start - window.start, end - window.start));
        return target;
      }
    }
    if (length <= WINDOW_BYTES) return this.readNow(start, end, target);
    return this.readLater(start, end, target);
  }

  /**
   * The window of the file holding [start, end): the current one when it does, else
   * (`readNew`) a new one read from `start` (tensors are read in file order, so the next
   * small read is usually just after this one). Null without one, or when the window
   * cannot be read (the exact read then reports the problem in its own terms).
   * Synchronous, like the caller's copy out of it: no other read can drop the window
   * in between and hand its buffer to another file.
   */
  private windowOver(start: number, end: number, readNew: boolean): FileWindow | null {
    const cached = windows.get(this);
    if (cached && cached.start <= start && end <= cached.start + cached.bytes.length) {
      windows.delete(this);
      windows.set(this, cached);
      return cached;
    }
    if (!readNew) return null;
    dropWindow(this);
    const buffer = spareBuffers.pop() ?? new Uint8Array(WINDOW_BYTES);
    let bytes: Uint8Array;
    try {
      bytes = this.readNow(start, Math.min(this.size, start + WINDOW_BYTES), buffer);
    } catch {
      if (windows.size + spareBuffers.length <= MAX_WINDOWS) spareBuffers.push(buffer);
      return null;
    }
    const window = { start, bytes, buffer };
    windows.set(this, window);
    if (windows.size > MAX_WINDOWS) dropWindow(windows.keys().next().value!);
    return window;
  }

  /**
   * A read of at most WINDOW_BYTES, synchronous: a page-cache hit costs less than the
   * thread pool's round trip (a replay reads 8 blocks of 2 KB per input and tensor; an
   * expert slice's first block is read before anything can overlap it). On the main
   * thread too: --threads 0 on the 1 GB bench trio was idle ~2.9 s of 13 (node
   * --cpu-prof) waiting for such round trips, and took 10.36 -> 9.67-9.69 s without
   * them. It blocks only this thread, not its reads in flight. Fills and returns
   * target[0, end - start).
   */
  private readNow(start: number, end: number, target: Uint8Array): Uint8Array {
    const fd = this.openHandle().fd;
    for (let filled = 0; filled < end - start; ) {
      let bytesRead: number;
      try {
        bytesRead = readSync(fd, target, filled, end - start - filled, start + filled);
      } catch (error) {
        throw this.failed(start, end, error);
      }
      filled = this.advanced(start, end, filled, bytesRead);
    }
    return target.subarray(0, end - start);
  }

  /** A larger read, on the thread pool, in calls of at most MAX_READ_CALL bytes. */
  private async readLater(start: number, end: number, target: Uint8Array): Promise<Uint8Array> {
    const handle = this.openHandle();
    for (let filled = 0; filled < end - start; ) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(target, filled, Math.min(end - start - filled, MAX_READ_CALL), start + filled));
      } catch (error) {
        throw this.failed(start, end, error);
      }
      filled = this.advanced(start, end, filled, bytesRead);
    }
    return target;
  }

  private openHandle(): FileHandle {
    if (!this.handle) throw new Error(`${this.name}: read after close`);
    return this.handle;
  }

  private failed(start: number, end: number, error: unknown): IoError {
    return new IoError(this.name, `read of bytes [${start}, ${end}) failed (${codeOf(error)})`, { cause: error });
  }

  /** Bytes filled after a call that read `bytesRead` more; none means the file shrank after it was opened. */
  private advanced(start: number, end: number, filled: number, bytesRead: number): number {
    if (bytesRead === 0) {
      throw new IoError(
        this.name,
        `file ended at byte ${start + filled} while reading bytes [${start}, ${end}) (it had ${this.size} bytes when opened)`,
      );
    }
    return filled + bytesRead;
  }

  async close(): Promise<void> {
    dropWindow(this);
    const handle = this.handle;
    this.handle = null;
    await handle?.close();
  }
}

function codeOf(error: unknown): string {
  if (error && typeof error === 'object' && 'code' in error && typeof error.code === 'string') return error.code;
  return error instanceof Error ? error.message : String(error);
}
