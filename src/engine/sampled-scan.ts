/**
 * Scans chosen blocks of a tensor (sample-plan.ts) and returns one set of moments per
 * block.
 *
 * The bytes of every input are fetched first, all at once: the blocks' byte ranges are
 * coalesced (blocks closer than `maxGap` become one range) and the ranges fetched
 * concurrently, then the scanner reads them from memory. Why not let the scanner read
 * the blocks itself: it reads one block of every input at a time, which leaves a
 * remote source one request in flight, and an HTTP source that sees two reads continue
 * each other (adjacent blocks, which random sampling produces now and then) opens a
 * read-ahead window of megabytes the sample never uses. Coalesced ranges never touch,
 * so the HTTP source never sees a sequential streak and reads exactly what is asked.
 */
import type { AlignedTensor } from '../align/align-tensors.js';
import { IoError } from '../errors.js';
import type { ShardDescriptor, TensorDescriptor } from '../format/model-layout.js';
import type { ByteSource } from '../source/byte-source.js';
import type { TensorMoments } from './moments.js';
import { blockRange, coalesceRanges, type ByteRange } from './sample-plan.js';
import { DEFAULT_CHUNK_ELEMENTS, effectiveGrid, TensorScanner, type SuspectGrid } from './scan-tensor.js';
import { storedTensor } from '../format/logical-tensor.js';

export interface SampledScanSettings {
  parents: number;
  reference: number;
  informativeUlps: number;
  blockElements: number;
  /** Blocks closer than this many bytes are fetched as one range. */
  maxGapBytes: number;
  /** Range requests in flight at once (over all tensors being fetched). */
  concurrency: number;
  /** Bytes fetched, as each range arrives. */
  onBytes?: (bytes: number) => void;
  /** Range requests made, as each is issued. */
  onRequest?: () => void;
}

/** 256 KiB: below it, one request for both blocks beats two round trips on the Hub. */
export const DEFAULT_MAX_GAP_BYTES = 256 * 1024;
/** The Hub serves tens of concurrent range requests per client without complaint. */
export const DEFAULT_CONCURRENCY = 16;

export class SampledScanner {
  private readonly scanner: TensorScanner;
  private tail: Promise<unknown> = Promise.resolve();
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly settings: SampledScanSettings) {
    this.scanner = new TensorScanner(settings.parents, {
      reference: settings.reference,
      informativeUlps: settings.informativeUlps,
      chunkElements: Math.min(DEFAULT_CHUNK_ELEMENTS, settings.blockElements),
    });
  }

  /**
   * Moments of each block in `blocks` (block indexes of `tensor`), in that order, with
   * the suspect on `grid`; 'detect' (for the first blocks of a tensor) finds the grid
   * as a full scan does (tensor-reports.ts), but on these blocks, and returns it.
   */
  async scanBlocks(
    tensor: AlignedTensor,
    blocks: readonly number[],
    grid: SuspectGrid | null | 'detect',
  ): Promise<{ moments: TensorMoments[]; grid: SuspectGrid | null }> {
    const view = await this.prefetch(tensor, blocks);
    const range = (block: number) => blockRange(block, tensor.suspect.elements, this.settings.blockElements);
    return this.serially(async () => {
      let used: SuspectGrid | null = grid === 'detect' ? null : grid;
      const dtype = tensor.suspect.dtype;
      if (grid === 'detect' && (dtype === 'F32' || dtype === 'F64')) {
        let flags = 7;
        for (const block of blocks) flags &= await this.scanner.suspectGrids(view, range(block));
        used = effectiveGrid(dtype, flags);
      }
      const input = { name: view.name, suspect: storedTensor(view.suspect), parents: view.parents.map((p) => storedTensor(p)), suspectGrid: used };
      const moments: TensorMoments[] = [];
      for (const block of blocks) moments.push(await this.scanner.scan(input, range(block)));
      return { moments, grid: used };
    });
  }

  /** Informative elements of `blocks` and how many the blend `weights` reproduces bit for bit. */
  async countReproduced(tensor: AlignedTensor, blocks: readonly number[], weights: readonly number[]): Promise<{ informative: number; reproduced: number }> {
    const view = await this.prefetch(tensor, blocks);
    return this.serially(async () => {
      const total = { informative: 0, reproduced: 0 };
      for (const block of blocks) {
        const part = await this.scanner.countReproduced(view, weights, blockRange(block, tensor.suspect.elements, this.settings.blockElements));
        total.informative += part.informative;
        total.reproduced += part.reproduced;
      }
      return total;
    });
  }

  /** One scanner owns one set of buffers: scans take turns, fetches overlap them. */
  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.tail.then(work);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** The tensor with every input's source replaced by the fetched bytes of `blocks`. */
  private async prefetch(tensor: AlignedTensor, blocks: readonly number[]): Promise<AlignedTensor> {
    const elements = tensor.suspect.elements;
    const fetchInput = async (t: TensorDescriptor): Promise<TensorDescriptor> => {
      const bytesPerElement = t.elements > 0 ? t.byteLength / t.elements : 0;
      const ranges: ByteRange[] = blocks.map((block) => {
        const { from, to } = blockRange(block, elements, this.settings.blockElements);
        return { start: t.start + from * bytesPerElement, end: t.start + to * bytesPerElement };
      });
      // A gap wider than a block would cost more bytes than the blocks themselves.
      const merged = coalesceRanges(ranges, Math.min(this.settings.maxGapBytes, this.settings.blockElements * bytesPerElement));
      const data = await Promise.all(merged.map((range) => this.limited(() => this.fetchRange(t.shard.source, range))));
      const source = new FetchedRanges(t.shard.source, merged, data);
      const shard: ShardDescriptor = { ...t.shard, source };
      return { ...t, shard };
    };
    const [suspect, ...parents] = await Promise.all([tensor.suspect, ...tensor.parents].map(fetchInput));
    return { ...tensor, suspect: suspect!, parents };
  }

  private async fetchRange(source: ByteSource, range: ByteRange): Promise<Uint8Array> {
    this.settings.onRequest?.();
    const bytes = await source.read(range.start, range.end);
    this.settings.onBytes?.(range.end - range.start);
    return bytes;
  }

  private async limited<T>(task: () => Promise<T>): Promise<T> {
    while (this.inFlight >= this.settings.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.inFlight++;
    try {
      return await task();
    } finally {
      this.inFlight--;
      this.waiting.shift()?.();
    }
  }
}

/** A byte source that holds only some ranges of another, already fetched. */
class FetchedRanges implements ByteSource {
  readonly name: string;
  readonly size: number;

  constructor(
    origin: ByteSource,
    private readonly ranges: readonly ByteRange[],
    private readonly data: readonly Uint8Array[],
  ) {
    this.name = origin.name;
    this.size = origin.size;
  }

  read(start: number, end: number, into?: Uint8Array): Promise<Uint8Array> {
    // Ranges are sorted and disjoint: the last one starting at or before `start`.
    let low = 0;
    let high = this.ranges.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (this.ranges[mid]!.start <= start) low = mid;
      else high = mid - 1;
    }
    const range = this.ranges[low];
    if (!range || range.start > start || range.end < end) {
      return Promise.reject(new IoError(this.name, `sampled read of bytes ${start}-${end} outside the fetched blocks`));
    }
    const bytes = this.data[low]!.subarray(start - range.start, end - range.start);
    if (!into) return Promise.resolve(bytes);
    const target = into.subarray(0, end - start);
    target.set(bytes);
    return Promise.resolve(target);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
