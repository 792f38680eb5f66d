import { floatFormat, type FloatFormat } from '../format/dtype.js';
import type { AlignedTensor } from '../align/align-tensors.js';
import { plainStored, storedTensor, type LogicalTensor } from '../format/logical-tensor.js';
import type { TensorDescriptor } from '../format/model-layout.js';
import {
  accumulateManyParents,
  accumulateParentFloors,
  accumulateTwoParents,
  CompensatedMoments,
  emptyChunkSums,
  resetChunkSums,
  type ChunkSums,
  type DecodedChunk,
} from './accumulate-chunk.js';
import { codeArrayOf, codes16Kernel } from './accumulate-codes16.js';
import { clearMoments, emptyMoments, PROFILE_BIN, PROFILE_BINS, PROFILE_LO, type TensorMoments } from './moments.js';
import { cellsOnGrid } from './grid-cells.js';
import { accumulateElementwise } from './recipes/elementwise-sums.js';
import { recipePass, RecipePassScratch, type RecipePassRequest, type RecipePassResult } from './recipes/recipe-pass.js';

/** Grids a suspect stored wider may actually hold, coarsest first. */
export const SUSPECT_GRIDS = ['BF16', 'F16', 'F32'] as const;
export type SuspectGrid = (typeof SUSPECT_GRIDS)[number];

/**
 * What the engine scans: the suspect and the parents of one aligned unit, each read
 * through a logical tensor (any storage), element for element.
 */
export interface ScanTensor {
  readonly name: string;
  readonly suspect: LogicalTensor;
  /** In --parents order. */
  readonly parents: readonly LogicalTensor[];
  /**
   * The grid the suspect's values lie on when it is coarser than its storage (a bf16
   * merge saved as F32): its cells, not the storage's, are the rounding noise. Null or
   * absent: the storage's own cells.
   */
  readonly suspectGrid?: SuspectGrid | null;
}

/** Whole stored tensors matched by name (align-tensors.ts) are scanned as they are stored. */
export type ScanInput = ScanTensor | AlignedTensor;

export function asScanTensor(input: ScanInput): ScanTensor {
  if ('read' in input.suspect) return input as ScanTensor;
  const aligned = input as AlignedTensor;
  return { name: aligned.name, suspect: storedTensor(aligned.suspect), parents: aligned.parents.map((p) => storedTensor(p)) };
}

export interface ScanOptions {
  reference: number;
  informativeUlps: number;
  /**
   * Elements summed naively before the totals enter the compensated sums (≤ 2^16 keeps
   * the drift of the inner float64 sums negligible). The generic kernel also decodes
   * this many elements at a time: ≈ 8 bytes × (k + 3) × chunk × 2 slots of memory.
   */
  chunkElements: number;
  /**
   * Bytes read per input and call on the fused path: large positional reads
   * amortize the per-call cost of the thread pool behind fs reads.
   */
  readBytes?: number;
  /** Called with the input bytes consumed after each read block. */
  onBytes?: (bytes: number) => void;
  /**
   * Read the parents' rounding cells too and sum their ulp² (moments.parentFloor), for
   * `--floor all`. Takes the generic path.
   */
  parentCells?: boolean;
}

export const DEFAULT_CHUNK_ELEMENTS = 1 << 16;
/** Spare moments a scanner keeps for reuse: a worker's reply batch (worker-engine.ts). */
const MAX_SPARE_MOMENTS = 64;
/** 1 MiB per input and read: measured no faster at 4 or 8 MiB, and memory is 2 slots × (k+1) of it. */
export const DEFAULT_READ_BYTES = 1 << 20;

/** Reusable buffers for one read-ahead slot: raw bytes (fused path) or decoded values (generic path). */
interface Slot {
  readonly raw: Uint8Array[];
  /** What the last read returned for each input (a view of `raw`, normally). */
  readonly views: Uint8Array[];
  chunk: DecodedChunk | null;
}

/** Bit flags of SUSPECT_GRIDS. */
const GRID_BIT: Readonly<Record<SuspectGrid, number>> = { BF16: 1, F16: 2, F32: 4 };
const ALL_GRIDS = 7;

/** The element range [from, to) of a tensor; the whole tensor when omitted. */
export interface ElementRange {
  from: number;
  to: number;
}

/**
 * Streams one aligned tensor (or an element range of it) through the kernel, block by
 * block, reading the next block of every input while the current one is computed.
 * Memory is two slots of buffers, whatever the tensor's size.
 *
 * Two parents and a suspect that are whole stored tensors (or contiguous expert slices
 * of them) of one format, BF16 (the usual checkpoint), F16 or F32, take the fused kernel
 * over raw codes; anything else (scaled codes, mixed formats, a suspect on a coarser grid
 * than its storage, --floor all) is read through its logical tensor into float64 values
 * and cells first.
 */
export class TensorScanner {
  private readonly slots: [Slot, Slot];
  private readonly sums: ChunkSums;
  private readonly vector: Float64Array;
  private readonly elementwiseVector: Float64Array;
  /** The generic path's exact-hit difference array (the fused kernel keeps its own). */
  private readonly profileDiff = new Float64Array(PROFILE_BINS + 1);
  private readonly readBytes: number;

  constructor(
    private readonly parents: number,
    private readonly options: ScanOptions,
  ) {
    this.readBytes = Math.max(options.readBytes ?? DEFAULT_READ_BYTES, options.chunkElements * 8);
    this.slots = [this.makeSlot(), this.makeSlot()];
    this.sums = emptyChunkSums(parents);
    this.vector = new Float64Array(parents + 1);
    this.elementwiseVector = new Float64Array(parents);
  }

  private makeSlot(): Slot {
    // Raw buffers hold a fused block, or a generic chunk of the widest dtype (F64).
    return { raw: Array.from({ length: this.parents + 1 }, () => new Uint8Array(this.readBytes)), views: [], chunk: null };
  }

  private decodedChunk(slot: Slot): DecodedChunk {
    const n = this.options.chunkElements;
    const cells = this.options.parentCells === true;
    slot.chunk ??= {
      count: 0,
      suspect: new Float64Array(n),
      above: new Float64Array(n),
      below: new Float64Array(n),
      parents: Array.from({ length: this.parents }, () => new Float64Array(n)),
      parentAbove: cells ? Array.from({ length: this.parents }, () => new Float64Array(n)) : null,
      parentBelow: cells ? Array.from({ length: this.parents }, () => new Float64Array(n)) : null,
    };
    return slot.chunk;
  }

  /** The stored BF16, F16 or F32 tensors (or contiguous slices of them) of every input, one format, when the fused kernel can read them raw; else null. */
  private fusedInputs(tensor: ScanTensor): { descriptors: RawInput[]; formats: FloatFormat[] } | null {
    if (this.parents !== 2 || this.options.parentCells || tensor.suspectGrid) return null;
    const descriptors: RawInput[] = [];
    for (const input of [tensor.suspect, ...tensor.parents]) {
      const descriptor = plainStored(input) ?? plainSlice(input);
      if (!descriptor) return null;
      descriptors.push(descriptor);
    }
    const formats = descriptors.map((d) => floatFormat(d.dtype)!);
    const fused = formats[0]!.bytes === 2 || formats[0]!.dtype === 'F32';
    return fused && formats.every((f) => f === formats[0]) ? { descriptors, formats } : null;
  }

  async scan(input: ScanInput, range?: ElementRange): Promise<TensorMoments> {
    const tensor = asScanTensor(input);
    const { from, to } = range ?? { from: 0, to: tensor.suspect.elements };
    const spare = this.spare.pop();
    if (spare) clearMoments(spare);
    const moments = spare ?? emptyMoments(this.parents, this.options.reference);
    const accumulator = new CompensatedMoments(moments);
    moments.elements = to - from;
    const { reference, informativeUlps, chunkElements } = this.options;
    const fused = this.fusedInputs(tensor);
    // The bins that may hold hits, [touchedFirst, touchedEnd): the fused kernel adds to
    // the moments' hits itself and says which; the generic path fills this scanner's
    // difference array, any entry of it.
    let touchedFirst = fused ? PROFILE_BINS + 1 : 0;
    let touchedEnd = fused ? 0 : PROFILE_BINS + 1;
    try {
      if (fused) {
        const { formats, descriptors } = fused;
        const kernel = codes16Kernel();
        // Two parents: the moments have a profile (0 everywhere: new, or cleared).
        const hits = moments.profile!.hits;
        const kept = { base: 0, informative: 0, informativeDd: 0 };
        const codeBytes = formats[0]!.bytes as 2 | 4;
        await this.stream(descriptors, formats, from, to, Math.floor(this.readBytes / codeBytes), (slot, count) => {
          const codes = slot.views.map((view) => codeArrayOf(view, codeBytes));
          const suspectCodes = codes[0]!;
          const referenceCodes = codes[1 + reference]!;
          const otherCodes = codes[2 - reference]!;
          for (let first = 0; first < count; first += chunkElements) {
            const last = Math.min(first + chunkElements, count);
            resetChunkSums(this.sums);
            kernel.accumulate(suspectCodes, referenceCodes, otherCodes, first, last, formats[0]!, informativeUlps, reference, hits, this.sums);
            if (kernel.touchedFirst <= kernel.touchedLast) {
              touchedFirst = Math.min(touchedFirst, kernel.touchedFirst);
              touchedEnd = Math.max(touchedEnd, kernel.touchedLast + 1);
            }
            accumulator.addChunk(this.sums);
            kept.base += this.sums.keptBase;
            kept.informative += this.sums.keptBaseInformative;
            kept.informativeDd += this.sums.keptBaseInformativeDd;
          }
        });
        accumulator.finish();
        elementwiseOfTwoParents(moments, kept);
      } else {
        await this.scanGeneric(tensor, from, to, accumulator);
        accumulator.finish();
        if (moments.profile) {
          // Hits are the running sum of the differences (every interval's +1 has its −1);
          // the moments' hits are 0 before (new, or cleared).
          let running = 0;
          const hits = moments.profile.hits;
          for (let b = 0; b < PROFILE_BINS; b++) {
            running += this.profileDiff[b]!;
            hits[b] = running;
          }
        }
      }
      if (moments.profile) {
        const end = Math.min(touchedEnd, PROFILE_BINS);
        moments.profile.first = Math.min(touchedFirst, end);
        moments.profile.end = end;
      }
    } finally {
      // The generic path's difference array left as found, all 0, for the next scan (also
      // after a failed read).
      if (!fused) this.profileDiff.fill(0);
    }
    return moments;
  }

  private scanGeneric(tensor: ScanTensor, from: number, to: number, accumulator: CompensatedMoments): Promise<void> {
    const { reference, informativeUlps } = this.options;
    return this.streamLogical(tensor, from, to, (chunk) => {
      resetChunkSums(this.sums);
      accumulateParentFloors(chunk, reference, informativeUlps, this.sums);
      if (this.parents === 2) {
        accumulateTwoParents(chunk, reference, informativeUlps, PROFILE_LO, PROFILE_BIN, this.profileDiff, this.sums);
      } else {
        accumulateManyParents(chunk, reference, informativeUlps, this.vector, this.sums);
      }
      accumulator.addChunk(this.sums);
      accumulateElementwise(chunk.suspect, chunk.above, chunk.below, chunk.parents, chunk.count, informativeUlps, this.elementwiseVector, accumulator.moments.elementwise);
    });
  }

  /** The recipe pass (recipes/recipe-pass.ts) over elements [from, to), with this scanner's buffers. */
  recipes(input: ScanInput, request: RecipePassRequest, range: ElementRange): Promise<RecipePassResult> {
    const tensor = asScanTensor(input);
    this.recipeScratch ??= new RecipePassScratch(this.parents, this.options.chunkElements);
    // An F32 suspect's direct residual over its parents' stored codes, in WebAssembly.
    const fused = request.residual && request.weights !== null ? this.fusedInputs(tensor) : null;
    const rawF32 = fused?.formats[0]!.dtype === 'F32' ? fused.descriptors : null;
    return recipePass(tensor, request, range.from, range.to, this.recipeScratch, rawF32);
  }

  private recipeScratch: RecipePassScratch | null = null;
  /** Moments handed back with `recycle`, for `scan` to fill again. */
  private readonly spare: TensorMoments[] = [];

  /**
   * Hands back moments this scanner returned, once nothing else refers to them (a worker,
   * after posting a copy): scanning then allocates no 33 KB profile per piece, which
   * otherwise piles up as garbage outside the JS heap.
   */
  recycle(moments: TensorMoments): void {
    // Only moments `scan` could have made (a profile exactly when two parents), and each
    // once: two later scans must never fill one object.
    if (this.spare.length >= MAX_SPARE_MOMENTS || moments.parents !== this.parents || moments.reference !== this.options.reference) return;
    if ((moments.profile !== null) !== (this.parents === 2) || this.spare.includes(moments)) return;
    this.spare.push(moments);
  }
  private gridValues: Float64Array | null = null;

  /**
   * A second pass: how many informative elements (as `scan` defines them) the blend
   * Σ w_j p_j reproduces bit for bit, i.e. falls inside the suspect value's rounding cell.
   * Needed when no exact-hit profile exists (three or more parents) and no recipe pass
   * runs (--no-recipes): it is the recipe pass's own count, with nothing replayed.
   */
  async countReproduced(
    input: ScanInput,
    weights: readonly number[],
    range?: ElementRange,
  ): Promise<{ informative: number; reproduced: number }> {
    const tensor = asScanTensor(input);
    const { reference, informativeUlps } = this.options;
    const request = { reference, informativeUlps, weights, recipes: [], replayDtype: null, replayElements: 0, residual: true };
    const { informative, reproduced } = await this.recipes(tensor, request, range ?? { from: 0, to: tensor.suspect.elements });
    return { informative, reproduced };
  }

  /**
   * Reads elements [from, to) of every input in blocks of `blockElements`, in file order,
   * double-buffered: the next block's reads are in flight while `visit` computes.
   */
  private stream(
    inputs: readonly RawInput[],
    formats: FloatFormat[],
    from: number,
    to: number,
    blockElements: number,
    visit: (slot: Slot, count: number) => void,
  ): Promise<void> {
    const bytesPerElement = formats.reduce((sum, f) => sum + f.bytes, 0);
    const read = (slot: Slot, first: number, count: number): Promise<unknown> =>
      Promise.all(
        inputs.map((t, i) => {
          const bytes = formats[i]!.bytes;
          const start = t.start + first * bytes;
          return t.shard.source.read(start, start + count * bytes, slot.raw[i]).then((view) => {
            slot.views[i] = view;
          });
        }),
      );
    return this.doubleBuffered(from, to, blockElements, read, visit, bytesPerElement);
  }

  /**
   * Reads elements [from, to) of every input through its logical tensor, a chunk at a
   * time and double-buffered like `stream`: the suspect with its cells (re-derived on
   * its effective grid when it has one), the parents with theirs under `--floor all`.
   */
  private streamLogical(tensor: ScanTensor, from: number, to: number, visit: (chunk: DecodedChunk) => void): Promise<void> {
    const inputs = [tensor.suspect, ...tensor.parents];
    const bytesPerElement = inputs.reduce((sum, t) => sum + (t.elements > 0 ? t.storedBytes / t.elements : 0), 0);
    const grid = tensor.suspectGrid ? floatFormat(tensor.suspectGrid)! : null;
    const read = async (slot: Slot, first: number, count: number): Promise<void> => {
      const chunk = this.decodedChunk(slot);
      chunk.count = count;
      await Promise.all([
        tensor.suspect.read(first, count, chunk.suspect, chunk.above, chunk.below),
        ...tensor.parents.map((p, j) => p.read(first, count, chunk.parents[j]!, chunk.parentAbove?.[j], chunk.parentBelow?.[j])),
      ]);
      if (grid) cellsOnGrid(grid, chunk.suspect, count, chunk.above, chunk.below);
    };
    return this.doubleBuffered(from, to, this.options.chunkElements, read, (slot) => visit(slot.chunk!), bytesPerElement);
  }

  /**
   * Which of SUSPECT_GRIDS every finite suspect value in [from, to) lies on, as bit
   * flags (BF16 1, F16 2, F32 4); a pass over the suspect alone.
   */
  async suspectGrids(input: ScanInput, range?: ElementRange): Promise<number> {
    const tensor = asScanTensor(input);
    const { from, to } = range ?? { from: 0, to: tensor.suspect.elements };
    let flags = ALL_GRIDS;
    const values = (this.gridValues ??= new Float64Array(this.options.chunkElements));
    for (let first = from; first < to && flags !== 0; first += values.length) {
      const count = Math.min(values.length, to - first);
      await tensor.suspect.read(first, count, values);
      flags &= gridFlags(values, count);
    }
    return flags;
  }

  /**
   * Reads blocks of [from, to) in order, double-buffered: the next block's reads are in
   * flight while `visit` computes.
   */
  private async doubleBuffered(
    from: number,
    to: number,
    blockElements: number,
    read: (slot: Slot, first: number, count: number) => Promise<unknown>,
    visit: (slot: Slot, count: number) => void,
    bytesPerElement: number,
  ): Promise<void> {
    let first = from;
    let current = 0;
    let pending = first < to ? read(this.slots[0], first, Math.min(blockElements, to - first)) : null;
    while (pending) {
      const count = Math.min(blockElements, to - first);
      await pending;
      const next = first + count;
      pending = next < to ? read(this.slots[1 - current]!, next, Math.min(blockElements, to - next)) : null;
      try {
        visit(this.slots[current]!, count);
      } catch (error) {
        // The read-ahead must not become an unhandled rejection once we give up.
        pending?.catch(() => undefined);
        throw error;
      }
      this.options.onBytes?.(bytesPerElement * count);
      first = next;
      current = 1 - current;
    }
  }

}

/**
 * The element-wise sums (elementwise-sums.ts) of two parents in the fused kernel's format, from
 * the finished moments and the fused kernel's kept-base tallies: with one task parent
 * every changed element moved all parents, "large" is the moments' informative test,
 * the large Gram is the [d, e] block of the informative Gram, and the moved Gram differs
 * from it only in Σd² (e is 0 where the suspect kept the base's bits). No conflicts or
 * agreements exist with a single task delta.
 */
function elementwiseOfTwoParents(moments: TensorMoments, kept: { base: number; informative: number; informativeDd: number }): void {
  const sums = moments.elementwise;
  const g = moments.informative.gram;
  const changed = moments.used - moments.parentsEqual;
  sums.finite = moments.used;
  sums.changed = changed;
  sums.changedKeptBase = kept.base;
  sums.allMoved = changed;
  sums.allMovedKeptBase = kept.base;
  sums.large = moments.informative.count;
  sums.largeKeptBase = kept.informative;
  sums.moved = moments.informative.count - kept.informative;
  // [d, e] rows of the [r, d, e] Gram.
  const dd = g[4]!, de = g[5]!, ee = g[8]!;
  sums.largeGram.set([dd, de, de, ee]);
  sums.movedGram.set([dd - kept.informativeDd, de, de, ee]);
}

/** Bit flags of the grids (GRID_BIT) on which all finite values lie. */
export function gridFlags(values: Float64Array, count: number): number {
  let flags = ALL_GRIDS;
  const word = gridWord;
  const bits = gridBits;
  for (let i = 0; i < count; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) continue;
    word[0] = v;
    if (word[0] !== v) return 0;
    const b = bits[0]!;
    if ((b & 0xffff) !== 0) flags &= ~GRID_BIT.BF16;
    const magnitude = v < 0 ? -v : v;
    // F16: normal values keep 10 mantissa bits within F16's exponent range; below
    // 2⁻¹⁴ the grid is the subnormal step 2⁻²⁴.
    const f16 = magnitude <= 65504 && (magnitude >= 2 ** -14 ? (b & 0x1fff) === 0 : Number.isInteger(magnitude * 2 ** 24));
    if (!f16) flags &= ~GRID_BIT.F16;
    if ((flags & (GRID_BIT.BF16 | GRID_BIT.F16)) === 0) return flags;
  }
  return flags;
}

const gridWord = new Float32Array(1);
const gridBits = new Uint32Array(gridWord.buffer);

/** The coarsest grid in `flags` that is coarser than `stored`, or null. */
export function effectiveGrid(stored: string, flags: number): SuspectGrid | null {
  const storedFormat = floatFormat(stored);
  if (!storedFormat) return null;
  for (const grid of SUSPECT_GRIDS) {
    if ((flags & GRID_BIT[grid]) !== 0 && floatFormat(grid)!.mantissaBits < storedFormat.mantissaBits) return grid;
  }
  return null;
}

/**
 * What the fused kernel's reads need of a stored tensor or a contiguous run of one: its
 * codes' dtype, its file and where its first code is.
 */
type RawInput = Pick<TensorDescriptor, 'dtype' | 'shard' | 'start'>;

/**
 * One expert of a fused expert tensor stored plainly is a contiguous run of the stored
 * codes: as a raw input of its own (start moved to the slice), the fused kernel
 * can read it raw (three fields, not a copy of the descriptor: one per input and slice). Fused experts are most of a MoE checkpoint's bytes, so without this
 * they all took the generic decode-then-accumulate path.
 */
function plainSlice(input: LogicalTensor): RawInput | null {
  const recipe = input.recipe;
  if (recipe.kind !== 'slice') return null;
  const inner = recipe.inner;
  if (inner.kind !== 'stored' || inner.codes !== inner.leaf.dtype || inner.shape !== null) return null;
  const format = floatFormat(inner.codes);
  if (!format) return null;
  const leaf = inner.leaf;
  return { dtype: leaf.dtype, shard: leaf.shard, start: leaf.start + recipe.offset * format.bytes };
}
