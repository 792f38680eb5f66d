/**
 * Scans chosen blocks of a tensor (sample-plan.ts) and returns one set of moments per
 * block. A tensor is an aligned group (align-models.ts): one unit, or one per expert of
 * a fused tensor, each input read through its logical reader (plain floats, codes times
 * scales, packed minifloats, an expert's slice, a vocabulary's common rows), so a block
 * is the same logical elements in suspect and parents however each is stored, and its
 * statistics are a full scan's over those elements.
 *
 * The bytes of every input are fetched first, all at once: the blocks' byte ranges are
 * coalesced (blocks closer than `maxGap` become one range) and the ranges fetched
 * concurrently, then the scanner reads them from memory. Why not let the scanner read
 * the blocks itself: it reads one block of every input at a time, which leaves a
 * remote source one request in flight, and an HTTP source that sees two reads continue
 * each other (adjacent blocks, which random sampling produces now and then) opens a
 * read-ahead window of megabytes the sample never uses. Coalesced ranges never touch,
 * so the HTTP source never sees a sequential streak and reads exactly what is asked.
 * Which bytes a logical read touches (codes, their scales, a global scale) is worked out
 * beforehand (sampling/read-ranges.ts); the readers are then rebuilt from their recipes
 * over the fetched bytes.
 */
import { extended } from '../object-shape.js';
import type { AlignedGroup } from '../align/align-models.js';
import { IoError } from '../errors.js';
import { buildTensor, mapRecipe, unscaledFloat, type LogicalTensor } from '../format/logical-tensor.js';
import type { ShardDescriptor, TensorDescriptor } from '../format/model-layout.js';
import type { ByteSource } from '../source/byte-source.js';
import type { TensorMoments } from './moments.js';
import { addRecipePassResults, emptyRecipePassResult, type RecipePassRequest, type RecipePassResult } from './recipes/recipe-pass.js';
import { coalesceRanges, type ByteRange, type UnitBlocks } from './sample-plan.js';
import { readRanges, type LeafRange } from './sampling/read-ranges.js';
import { DEFAULT_CHUNK_ELEMENTS, effectiveGrid, TensorScanner, type ScanTensor, type SuspectGrid } from './scan-tensor.js';

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

/** One block located: its unit and the element range within the unit. */
interface BlockAt {
  unit: number;
  from: number;
  to: number;
}

export class SampledScanner {
  private readonly scanner: TensorScanner;
  private tail: Promise<unknown> = Promise.resolve();
  /** Per tensor, the readers over its last fetch when that was small (see prefetch). */
  private readonly kept = new Map<AlignedGroup, { blocks: Set<number>; units: Map<number, ScanTensor> }>();
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly settings: SampledScanSettings) {
    const chunkElements = Math.min(DEFAULT_CHUNK_ELEMENTS, settings.blockElements);
    this.scanner = new TensorScanner(settings.parents, {
      reference: settings.reference,
      informativeUlps: settings.informativeUlps,
      chunkElements,
    });
  }

  /**
   * Moments of each block in `blocks` (tensor-wide block indexes of `plan`), in that
   * order, with the suspect on `grid`; 'detect' (for the first blocks of a tensor) finds
   * the grid as a full scan does (tensor-reports.ts), but on these blocks, and returns it.
   */
  async scanBlocks(
    group: AlignedGroup,
    plan: UnitBlocks,
    blocks: readonly number[],
    grid: SuspectGrid | null | 'detect',
  ): Promise<{ moments: TensorMoments[]; grid: SuspectGrid | null }> {
    const located = blocks.map((block) => plan.range(block));
    const units = await this.prefetch(group, located, blocks);
    return this.serially(async () => {
      let used: SuspectGrid | null = grid === 'detect' ? null : grid;
      if (grid === 'detect') {
        const stored = unscaledFloat(group.units[0]!.suspect.recipe);
        if ((stored === 'F32' || stored === 'F64') && group.units.every((u) => unscaledFloat(u.suspect.recipe) === stored)) {
          let flags = 7;
          for (const at of located) flags &= await this.scanner.suspectGrids(units.get(at.unit)!, at);
          used = effectiveGrid(stored, flags);
        }
      }
      const moments: TensorMoments[] = [];
      for (const at of located) moments.push(await this.scanner.scan(extended(units.get(at.unit)!, { suspectGrid: used }), at));
      return { moments, grid: used };
    });
  }

  /**
   * The second read over `blocks` (recipes/recipe-pass.ts), as a full scan's on its
   * tensors: with `request.residual` the direct residual and the reproduced share at
   * `request.weights` over every block, and the candidate recipes replayed on the first
   * `replayElements` elements of the blocks in the order given.
   */
  async secondRead(
    group: AlignedGroup,
    plan: UnitBlocks,
    blocks: readonly number[],
    grid: SuspectGrid | null,
    request: Omit<RecipePassRequest, 'replayElements'>,
    replayElements: number,
  ): Promise<RecipePassResult> {
    const located = blocks.map((block) => plan.range(block));
    // The blocks of the tensor's last fetch, still held when it was small; else fetched again.
    const kept = this.kept.get(group);
    const units = kept && blocks.every((block) => kept.blocks.has(block)) ? kept.units : await this.prefetch(group, located, blocks);
    this.kept.delete(group);
    return this.serially(async () => {
      const total = emptyRecipePassResult(request.recipes.length, request.residual && request.weights !== null);
      let replayLeft = Math.max(0, replayElements);
      for (const at of located) {
        const replay = Math.min(replayLeft, at.to - at.from);
        replayLeft -= replay;
        if (replay === 0 && !request.residual) continue;
        const part = await this.scanner.recipes(extended(units.get(at.unit)!, { suspectGrid: grid }), extended(request, { replayElements: replay }), at);
        addRecipePassResults(total, part);
      }
      return total;
    });
  }

  /**
   * The values of `blocks` (in the order given, at most `maxElements` of them) decoded to
   * float64: the suspect and each parent.
   */
  async decodeBlocks(
    group: AlignedGroup,
    plan: UnitBlocks,
    blocks: readonly number[],
    maxElements: number,
  ): Promise<{ suspect: Float64Array; parents: Float64Array[]; count: number }> {
    const located = blocks.map((block) => plan.range(block));
    const kept = this.kept.get(group);
    const units = kept && blocks.every((block) => kept.blocks.has(block)) ? kept.units : await this.prefetch(group, located, blocks);
    const suspect = new Float64Array(maxElements);
    const parents = Array.from({ length: this.settings.parents }, () => new Float64Array(maxElements));
    let count = 0;
    for (const at of located) {
      const n = Math.min(at.to - at.from, maxElements - count);
      if (n <= 0) break;
      const unit = units.get(at.unit)!;
      await unit.suspect.read(at.from, n, suspect.subarray(count));
      for (let j = 0; j < parents.length; j++) await unit.parents[j]!.read(at.from, n, parents[j]!.subarray(count));
      count += n;
    }
    return { suspect, parents, count };
  }

  /** One scanner owns one set of buffers: scans take turns, fetches overlap them. */
  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.tail.then(work);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /**
   * The units that `located` touches, each input rebuilt over the fetched bytes of those
   * blocks: every stored tensor a block's logical read touches (codes, scales) is
   * fetched in coalesced ranges, per file.
   */
  private async prefetch(group: AlignedGroup, located: readonly BlockAt[], blocks: readonly number[]): Promise<Map<number, ScanTensor>> {
    let fetchedBytes = 0;
    const wanted: LeafRange[] = [];
    for (const at of located) {
      const unit = group.units[at.unit]!;
      for (const input of [unit.suspect, ...unit.parents]) readRanges(input.recipe, at.from, at.to - at.from, wanted);
    }
    const bySource = new Map<ByteSource, ByteRange[]>();
    for (const { leaf, start, end } of wanted) {
      const list = bySource.get(leaf.shard.source);
      if (list) list.push({ start, end });
      else bySource.set(leaf.shard.source, [{ start, end }]);
    }
    const fetched = new Map<ByteSource, FetchedRanges>();
    await Promise.all(
      [...bySource].map(async ([source, ranges]) => {
        // A gap wider than the largest block range would cost more bytes than a block itself.
        const largest = ranges.reduce((most, r) => Math.max(most, r.end - r.start), 0);
        const merged = coalesceRanges(ranges, Math.min(this.settings.maxGapBytes, largest));
        const data = await Promise.all(merged.map((range) => this.limited(() => this.fetchRange(source, range))));
        fetchedBytes += data.reduce((sum, bytes) => sum + bytes.byteLength, 0);
        fetched.set(source, new FetchedRanges(source, merged, data));
      }),
    );
    const shards = new Map<ShardDescriptor, ShardDescriptor>();
    const overFetched = (leaf: TensorDescriptor): TensorDescriptor => {
      let shard = shards.get(leaf.shard);
      if (!shard) {
        const source: ShardDescriptor['source'] = fetched.get(leaf.shard.source)!;
        shard = extended(leaf.shard, { source });
        shards.set(leaf.shard, shard);
      }
      return extended(leaf, { shard });
    };
    const rebuilt = async (tensor: LogicalTensor): Promise<LogicalTensor> => buildTensor(await mapRecipe(tensor.recipe, overFetched));
    const units = new Map<number, ScanTensor>();
    for (const index of new Set(located.map((at) => at.unit))) {
      const unit = group.units[index]!;
      const [suspect, ...parents] = await Promise.all([unit.suspect, ...unit.parents].map(rebuilt));
      units.set(index, { name: unit.name, suspect: suspect!, parents });
    }
    // Kept for the second read of these blocks (secondRead), when small: the fixtures'
    // and most real tensors' samples are one batch, read again right after the fit.
    this.kept.delete(group);
    if (fetchedBytes <= MAX_KEPT_BYTES) {
      this.kept.set(group, { blocks: new Set(blocks), units });
      if (this.kept.size > MAX_KEPT_GROUPS) this.kept.delete(this.kept.keys().next().value!);
    }
    return units;
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

/** Fetches kept for a second read: at most this many bytes per tensor, for this many tensors (the window in flight). */
const MAX_KEPT_BYTES = 1 << 20;
const MAX_KEPT_GROUPS = 64;

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
