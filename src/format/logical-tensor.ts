/**
 * A logical tensor: the real-valued tensor a checkpoint means, whatever the storage —
 * a plain float tensor, codes times block scales, packed 4-bit codes, one expert's slice
 * of a fused tensor, or a transposed view. The engine reads every input of an aligned
 * tensor through this one interface, element range by element range, in the logical
 * row-major order, so inputs stored differently still pair element for element.
 *
 * `read` writes values and, when asked, the rounding cell of each value (dtype.ts's
 * convention): every real x that the storage would round to v lies in
 * [v − below/2, v + above/2]. For a scaled code the cell is the code's cell times the
 * scale (statistics.md: "the format's step times the scale").
 *
 * One reader serves one read at a time (its scratch comes from a pool shared by the
 * thread's readers, lent for the read): callers await a read before starting the next
 * on the same tensor (the engine's read-ahead works on different element ranges, one
 * read in flight per input). A second concurrent read is a programming error and throws.
 */
import { extended } from '../object-shape.js';
import { MalformedInputError } from '../errors.js';
import { decode, decodeWithCell, floatFormat, type FloatFormat } from './dtype.js';
import { decodeMinifloat, minifloatFormat, type MinifloatFormat } from './minifloat.js';
import type { TensorDescriptor } from './model-layout.js';

export interface LogicalTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly elements: number;
  /** How it is stored, for people: "BF16", "F8_E4M3 × F32 scale per 128×128 block", … */
  readonly encoding: string;
  /** Stored bytes one full read touches (weights and scales), for progress. */
  readonly storedBytes: number;
  /**
   * Writes elements [first, first + count) into out[0..count), and their rounding cells
   * into above/below when given.
   */
  read(first: number, count: number, out: Float64Array, above?: Float64Array, below?: Float64Array): Promise<void>;
  /** How to build this reader again (on a worker thread, from its own file handles). */
  readonly recipe: TensorRecipe<TensorDescriptor>;
}

/**
 * A reader as data: the stored tensors at its leaves (`Leaf`: a descriptor here, a file
 * path and offsets on the wire) and how they combine. `buildTensor` turns it back into a
 * reader, so a worker thread reads exactly what the main thread aligned.
 */
export type TensorRecipe<Leaf> =
  | { kind: 'stored'; leaf: Leaf; codes: string; shape: readonly number[] | null; name: string }
  | {
      kind: 'scaled';
      name: string;
      codes: TensorRecipe<Leaf>;
      scales: TensorRecipe<Leaf>;
      grid: ScaleGrid;
      global: { tensor: TensorRecipe<Leaf>; apply: 'multiply' | 'divide' } | null;
      encoding: string;
    }
  | { kind: 'slice'; inner: TensorRecipe<Leaf>; offset: number; shape: readonly number[]; name: string }
  | { kind: 'transposed'; inner: TensorRecipe<Leaf>; name: string; bandElements: number };

/**
 * The same recipe with every leaf replaced (descriptors to wire form and back), at once.
 * With `memo`, a node mapped before is not mapped again: an expert's slices of one
 * fused tensor then share the mapped stored tensor, which a message's structured clone
 * sends once.
 */
export function mapRecipeNow<A, B>(recipe: TensorRecipe<A>, leaf: (a: A) => B, memo?: WeakMap<TensorRecipe<A>, TensorRecipe<B>>): TensorRecipe<B> {
  const known = memo?.get(recipe);
  if (known) return known;
  let mapped: TensorRecipe<B>;
  switch (recipe.kind) {
    case 'stored':
      mapped = extended(recipe, { leaf: leaf(recipe.leaf) });
      break;
    case 'scaled':
      mapped = extended(recipe, {
        codes: mapRecipeNow(recipe.codes, leaf, memo),
        scales: mapRecipeNow(recipe.scales, leaf, memo),
        global: recipe.global ? { apply: recipe.global.apply, tensor: mapRecipeNow(recipe.global.tensor, leaf, memo) } : null,
      });
      break;
    case 'slice':
    case 'transposed':
      mapped = extended(recipe, { inner: mapRecipeNow(recipe.inner, leaf, memo) });
      break;
  }
  memo?.set(recipe, mapped);
  return mapped;
}

/** `mapRecipeNow` for a leaf mapping that may wait: each leaf mapped once, one after another, in `recipeLeaves` order. */
export async function mapRecipe<A, B>(recipe: TensorRecipe<A>, leaf: (a: A) => B | Promise<B>): Promise<TensorRecipe<B>> {
  const mapped = new Map<A, B>();
  for (const a of recipeLeaves(recipe)) if (!mapped.has(a)) mapped.set(a, await leaf(a));
  return mapRecipeNow(recipe, (a) => mapped.get(a)!);
}

/** The stored leaves of a recipe, in a fixed order. */
export function recipeLeaves<Leaf>(recipe: TensorRecipe<Leaf>): Leaf[] {
  switch (recipe.kind) {
    case 'stored':
      return [recipe.leaf];
    case 'scaled':
      return [...recipeLeaves(recipe.codes), ...recipeLeaves(recipe.scales), ...(recipe.global ? recipeLeaves(recipe.global.tensor) : [])];
    case 'slice':
    case 'transposed':
      return recipeLeaves(recipe.inner);
  }
}

/** A reader from its recipe. */
export function buildTensor(recipe: TensorRecipe<TensorDescriptor>): LogicalTensor {
  switch (recipe.kind) {
    case 'stored':
      return storedTensor(recipe.leaf, { codes: recipe.codes, ...(recipe.shape ? { shape: recipe.shape } : {}), name: recipe.name });
    case 'scaled':
      return scaledTensor({
        name: recipe.name,
        codes: buildTensor(recipe.codes),
        scales: buildTensor(recipe.scales),
        grid: recipe.grid,
        ...(recipe.global ? { global: { tensor: buildTensor(recipe.global.tensor), apply: recipe.global.apply } } : {}),
        encoding: recipe.encoding,
      });
    case 'slice':
      return sliceTensor(buildTensor(recipe.inner), recipe.offset, recipe.shape, recipe.name);
    case 'transposed':
      return transposedTensor(buildTensor(recipe.inner), recipe.name, recipe.bandElements);
  }
}

/**
 * The descriptor and dtype when a reader is one whole stored float tensor read as it is
 * (what the fused 16-bit kernel can read as raw codes); else null.
 */
export function plainStored(tensor: LogicalTensor): TensorDescriptor | null {
  const recipe = tensor.recipe;
  if (recipe.kind !== 'stored' || recipe.codes !== recipe.leaf.dtype || recipe.shape !== null) return null;
  return floatFormat(recipe.codes) ? recipe.leaf : null;
}

/** The dtype of the codes a reader decodes in the end ("F8_E4M3" for a scaled FP8 weight). */
export function codesDtype(recipe: TensorRecipe<unknown>): string {
  switch (recipe.kind) {
    case 'stored':
      return recipe.codes;
    case 'scaled':
      return codesDtype(recipe.codes);
    case 'slice':
    case 'transposed':
      return codesDtype(recipe.inner);
  }
}

/** Whether values reach the reader unscaled from a float dtype (so a coarser grid can be looked for). */
export function unscaledFloat(recipe: TensorRecipe<unknown>): string | null {
  switch (recipe.kind) {
    case 'stored':
      return floatFormat(recipe.codes) ? recipe.codes : null;
    case 'scaled':
      return null;
    case 'slice':
    case 'transposed':
      return unscaledFloat(recipe.inner);
  }
}

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function checkRange(tensor: LogicalTensor, first: number, count: number): void {
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(count) || first < 0 || count < 0 || first + count > tensor.elements) {
    throw new RangeError(`${tensor.name}: read of elements [${first}, ${first + count}) outside ${tensor.elements}`);
  }
}

/** Guards a reader against overlapping reads (one read's state at a time). */
abstract class ExclusiveReader {
  private busy = false;

  protected async exclusive(name: string, work: () => Promise<void>): Promise<void> {
    if (this.busy) throw new Error(`${name}: overlapping reads of one logical tensor`);
    this.busy = true;
    try {
      await work();
    } finally {
      this.busy = false;
    }
  }
}

/**
 * Scratch buffers lent to one read at a time and taken back once it has decoded, shared
 * by every reader of a thread. A reader holds none between reads: a buffer of its own
 * per reader (a chunk's bytes, 256 KiB for F32) stayed alive with the tensor's reader,
 * and the readers of a worker's tensors in flight and not yet collected held ~72 MB of
 * them per worker on an F32 trio (the 0.25 GB bench trio widened: 320 MB peak RSS).
 */
class ScratchPool<T extends Uint8Array<ArrayBuffer> | Float64Array<ArrayBuffer>> {
  /** Buffers kept between reads; more in use at once are made, and the smallest dropped when they come back. */
  private static readonly KEPT = 8;
  private readonly spare: T[] = [];

  constructor(private readonly make: (length: number) => T) {}

  /** A buffer of at least `length` elements, for one read. */
  borrow(length: number): T {
    let best = -1;
    for (let i = 0; i < this.spare.length; i++) {
      const size = this.spare[i]!.length;
      if (size >= length && (best < 0 || size < this.spare[best]!.length)) best = i;
    }
    if (best >= 0) return this.spare.splice(best, 1)[0]!;
    return this.make(Math.max(length, 1 << 12));
  }

  /** Back from a read that no longer uses it. */
  giveBack(buffer: T): void {
    this.spare.push(buffer);
    if (this.spare.length <= ScratchPool.KEPT) return;
    let smallest = 0;
    for (let i = 1; i < this.spare.length; i++) if (this.spare[i]!.length < this.spare[smallest]!.length) smallest = i;
    this.spare.splice(smallest, 1);
  }
}

const rawBytes = new ScratchPool((length) => new Uint8Array(length));
const scaleScratch = new ScratchPool((length) => new Float64Array(length));

/** The dtypes `storedTensor` decodes: the IEEE floats and the minifloats (F6 aside). */
export function isDecodableDType(dtype: string): boolean {
  if (floatFormat(dtype)) return true;
  const mini = minifloatFormat(dtype);
  return mini !== null && mini.bits !== 6;
}

/**
 * A stored tensor read as it is. `codes` reinterprets the bytes: U8 bytes as F8_E8M0
 * scales, or as packed F4 pairs (two elements per byte, so the logical shape's last
 * dimension is twice the stored one).
 */
export function storedTensor(descriptor: TensorDescriptor, options: { codes?: string; shape?: readonly number[]; name?: string } = {}): LogicalTensor {
  return new StoredTensor(descriptor, options.codes ?? descriptor.dtype, options.shape, options.name);
}

class StoredTensor extends ExclusiveReader implements LogicalTensor {
  readonly shape: readonly number[];
  readonly elements: number;
  readonly encoding: string;
  readonly storedBytes: number;
  readonly name: string;
  private readonly float: FloatFormat | null;
  private readonly mini: MinifloatFormat | null;
  readonly recipe: TensorRecipe<TensorDescriptor>;

  constructor(
    private readonly descriptor: TensorDescriptor,
    codes: string,
    shape: readonly number[] | undefined,
    name: string | undefined,
  ) {
    super();
    this.name = name ?? descriptor.name;
    this.float = floatFormat(codes);
    this.mini = this.float ? null : minifloatFormat(codes);
    const file = descriptor.shard.file;
    if (!this.float && (!this.mini || this.mini.bits === 6)) {
      throw new MalformedInputError(file, `tensor ${descriptor.name}: dtype ${codes} cannot be decoded`);
    }
    const bitsPerElement = this.float ? this.float.bytes * 8 : this.mini!.bits;
    const storedBits = descriptor.byteLength * 8;
    this.shape = shape ?? (codes === descriptor.dtype ? descriptor.shape : reinterpretedShape(descriptor, bitsPerElement));
    this.elements = product(this.shape);
    if (this.elements * bitsPerElement !== storedBits) {
      throw new MalformedInputError(
        file,
        `tensor ${descriptor.name}: ${descriptor.byteLength} bytes cannot hold [${this.shape.join(', ')}] ${codes} values`,
      );
    }
    this.encoding = codes === descriptor.dtype ? codes : `${codes} in ${descriptor.dtype}`;
    this.storedBytes = descriptor.byteLength;
    this.recipe = { kind: 'stored', leaf: descriptor, codes, shape: shape ?? null, name: this.name };
  }

  read(first: number, count: number, out: Float64Array, above?: Float64Array, below?: Float64Array): Promise<void> {
    checkRange(this, first, count);
    return this.exclusive(this.name, async () => {
      if (count === 0) return;
      const { descriptor } = this;
      if (this.float) {
        const bytes = this.float.bytes;
        const raw = rawBytes.borrow(count * bytes);
        try {
          const start = descriptor.start + first * bytes;
          const view = await descriptor.shard.source.read(start, start + count * bytes, raw);
          if (above && below) decodeWithCell(this.float, view, out, above, below, count);
          else decode(this.float, view, out, count);
        } finally {
          rawBytes.giveBack(raw);
        }
        return;
      }
      const mini = this.mini!;
      // F4 packs two codes per byte: read the bytes that hold the range, then skip a
      // leading high nibble when `first` is odd.
      const perByte = 8 / mini.bits;
      const firstByte = Math.floor(first / perByte);
      const endByte = Math.ceil((first + count) / perByte);
      const raw = rawBytes.borrow(endByte - firstByte);
      try {
        const start = descriptor.start + firstByte;
        const view = await descriptor.shard.source.read(start, descriptor.start + endByte, raw);
        decodeMinifloat(mini, view, first - firstByte * perByte, count, out, above, below);
      } finally {
        rawBytes.giveBack(raw);
      }
    });
  }
}

function reinterpretedShape(descriptor: TensorDescriptor, bitsPerElement: number): number[] {
  const shape = descriptor.shape.length > 0 ? [...descriptor.shape] : [1];
  const storedBits = (DTYPE_BYTES[descriptor.dtype] ?? 0) * 8;
  const last = shape.length - 1;
  shape[last] = (shape[last]! * storedBits) / bitsPerElement;
  return shape;
}

const DTYPE_BYTES: Readonly<Record<string, number>> = { U8: 1, I8: 1, U16: 2, I16: 2, U32: 4, I32: 4 };

/**
 * How scales tile a tensor [...batch, rows, cols]: one scale per blockRows × blockCols
 * block of each batch matrix, stored [...batch, ceil(rows/blockRows), ceil(cols/blockCols)]
 * (edge blocks ragged). Per-tensor: the whole matrix is one block (and the scale may be
 * shared by the whole batch); per-channel: 1 × cols; per-group: 1 × group.
 */
export interface ScaleGrid {
  readonly batch: number;
  readonly rows: number;
  readonly cols: number;
  readonly blockRows: number;
  readonly blockCols: number;
  /** True when one scale value serves every batch matrix (scale stored once). */
  readonly sharedAcrossBatch: boolean;
}

/** The scale row (over all batches, [batch·scaleRows + row/blockRows]) element `element` uses. */
export function scaleRowOf(grid: ScaleGrid, element: number): number {
  const matrix = grid.rows * grid.cols;
  const b = grid.sharedAcrossBatch ? 0 : Math.floor(element / matrix);
  return b * Math.ceil(grid.rows / grid.blockRows) + Math.floor((element % matrix) / grid.cols / grid.blockRows);
}

/** The scale rows that elements [first, first + count) use, count ≥ 1: what a scaled read needs of its scale tensor. */
export function scaleRowSpan(grid: ScaleGrid, first: number, count: number): { lowRow: number; highRow: number } {
  const matrix = grid.rows * grid.cols;
  const last = first + count - 1;
  // One scale shared by every batch matrix, and the range crossing a matrix: all its rows.
  if (grid.sharedAcrossBatch && Math.floor(first / matrix) !== Math.floor(last / matrix)) {
    return { lowRow: 0, highRow: Math.ceil(grid.rows / grid.blockRows) - 1 };
  }
  return { lowRow: scaleRowOf(grid, first), highRow: scaleRowOf(grid, last) };
}

export function scaleCount(grid: ScaleGrid): number {
  const perMatrix = Math.ceil(grid.rows / grid.blockRows) * Math.ceil(grid.cols / grid.blockCols);
  return grid.sharedAcrossBatch ? perMatrix : grid.batch * perMatrix;
}

/** A second, scalar factor applied to every scale (NVFP4's global scales). */
export interface GlobalScale {
  readonly tensor: LogicalTensor;
  /** compressed-tensors divides by weight_global_scale; ModelOpt multiplies by weight_scale_2. */
  readonly apply: 'multiply' | 'divide';
}

/**
 * values = codes × scale (× or ÷ a global scale). The product is formed in float64: the
 * frameworks form it in float32 (or bf16) and round, which moves a value by at most
 * 2⁻²⁴ of itself, far inside the code's cell, which is what the statistics use.
 */
export function scaledTensor(options: {
  name: string;
  codes: LogicalTensor;
  scales: LogicalTensor;
  grid: ScaleGrid;
  global?: GlobalScale;
  encoding: string;
}): LogicalTensor {
  return new ScaledTensor(options.name, options.codes, options.scales, options.grid, options.global ?? null, options.encoding);
}

class ScaledTensor extends ExclusiveReader implements LogicalTensor {
  readonly shape: readonly number[];
  readonly elements: number;
  readonly storedBytes: number;
  private readonly scaleCols: number;
  readonly recipe: TensorRecipe<TensorDescriptor>;
  private globalFactor: number | null = null;

  constructor(
    readonly name: string,
    private readonly codes: LogicalTensor,
    private readonly scales: LogicalTensor,
    private readonly grid: ScaleGrid,
    private readonly global: GlobalScale | null,
    readonly encoding: string,
  ) {
    super();
    this.shape = codes.shape;
    this.elements = codes.elements;
    if (grid.batch * grid.rows * grid.cols !== codes.elements) {
      throw new RangeError(`${name}: scale grid ${grid.batch}×${grid.rows}×${grid.cols} does not cover ${codes.elements} elements`);
    }
    if (scaleCount(grid) !== scales.elements) {
      throw new RangeError(`${name}: scale grid needs ${scaleCount(grid)} scales, ${scales.name} has ${scales.elements}`);
    }
    this.scaleCols = Math.ceil(grid.cols / grid.blockCols);
    this.storedBytes = codes.storedBytes + scales.storedBytes + (global ? global.tensor.storedBytes : 0);
    this.recipe = {
      kind: 'scaled',
      name,
      codes: codes.recipe,
      scales: scales.recipe,
      grid,
      global: global ? { tensor: global.tensor.recipe, apply: global.apply } : null,
      encoding,
    };
  }

  read(first: number, count: number, out: Float64Array, above?: Float64Array, below?: Float64Array): Promise<void> {
    checkRange(this, first, count);
    return this.exclusive(this.name, async () => {
      if (count === 0) return;
      const factor = await this.globalScale();
      await this.codes.read(first, count, out, above, below);
      const { rows, cols, blockCols } = this.grid;
      const { scaleCols } = this;
      const matrix = rows * cols;
      const { lowRow, highRow } = scaleRowSpan(this.grid, first, count);
      const scaleFirst = lowRow * scaleCols;
      const scaleCountNeeded = (highRow - lowRow + 1) * scaleCols;
      const scales = scaleScratch.borrow(scaleCountNeeded);
      try {
        await this.scales.read(scaleFirst, scaleCountNeeded, scales);
        if (factor !== 1) for (let i = 0; i < scaleCountNeeded; i++) scales[i] = scales[i]! * factor;

        // Walk the range one row piece at a time; within a row, one column block at a time,
        // so the scale lookup costs nothing per element.
        let i = 0;
        let element = first;
        while (i < count) {
          const inMatrix = element % matrix;
          const row = Math.floor(inMatrix / cols);
          const col = inMatrix - row * cols;
          const rowEnd = Math.min(count, i + (cols - col));
          const scaleRowBase = (scaleRowOf(this.grid, element) - lowRow) * scaleCols;
          let c = col;
          while (i < rowEnd) {
            const blockEnd = Math.min(rowEnd, i + (blockCols - (c % blockCols)));
            const s = scales[scaleRowBase + Math.floor(c / blockCols)]!;
            const magnitude = s < 0 ? -s : s;
            for (let j = i; j < blockEnd; j++) out[j] = out[j]! * s;
            if (above && below) {
              for (let j = i; j < blockEnd; j++) {
                const up = above[j]! * magnitude;
                const down = below[j]! * magnitude;
                // A negative scale mirrors the grid: the cell's sides swap.
                above[j] = s < 0 ? down : up;
                below[j] = s < 0 ? up : down;
              }
            }
            c += blockEnd - i;
            i = blockEnd;
          }
          element = first + i;
        }
      } finally {
        scaleScratch.giveBack(scales);
      }
    });
  }

  private async globalScale(): Promise<number> {
    if (this.globalFactor !== null) return this.globalFactor;
    if (!this.global) return (this.globalFactor = 1);
    const value = new Float64Array(1);
    await this.global.tensor.read(0, 1, value);
    const g = value[0]!;
    this.globalFactor = this.global.apply === 'multiply' ? g : 1 / g;
    // 1/g is inexact for most g; the engine only needs values to within their cells.
    return this.globalFactor;
  }
}

/** Elements [offset, offset + product(shape)) of `inner`, as a tensor of `shape` (one expert's slice). */
export function sliceTensor(inner: LogicalTensor, offset: number, shape: readonly number[], name: string): LogicalTensor {
  const elements = product(shape);
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + elements > inner.elements) {
    throw new RangeError(`${name}: slice [${offset}, ${offset + elements}) outside ${inner.name} (${inner.elements} elements)`);
  }
  return new SliceTensor(inner, offset, shape, name, elements);
}

/**
 * A class, not an object literal with a closure, and its recipe made on first use: the
 * alignment makes one slice per expert and input (47,520 for the 1 GB bench trio's
 * fused experts) on the main thread before any worker has a task, and each closure and recipe
 * was one more object for the young generation to copy.
 */
class SliceTensor implements LogicalTensor {
  readonly encoding: string;
  readonly storedBytes: number;
  private sliceRecipe: TensorRecipe<TensorDescriptor> | null = null;

  constructor(
    private readonly inner: LogicalTensor,
    private readonly offset: number,
    readonly shape: readonly number[],
    readonly name: string,
    readonly elements: number,
  ) {
    this.encoding = inner.encoding;
    this.storedBytes = Math.round(inner.storedBytes * (inner.elements > 0 ? elements / inner.elements : 0));
  }

  /** The same object on every use: recipe maps (`mapRecipeNow`'s memo) go by identity. */
  get recipe(): TensorRecipe<TensorDescriptor> {
    return (this.sliceRecipe ??= { kind: 'slice', inner: this.inner.recipe, offset: this.offset, shape: this.shape, name: this.name });
  }

  read(first: number, count: number, out: Float64Array, above?: Float64Array, below?: Float64Array): Promise<void> {
    if (!Number.isSafeInteger(first) || first < 0 || count < 0 || first + count > this.elements) {
      return Promise.reject(new RangeError(`${this.name}: read of elements [${first}, ${first + count}) outside ${this.elements}`));
    }
    return this.inner.read(this.offset + first, count, out, above, below);
  }
}

/** Default elements buffered by a transposed reader: 1M values (24 MB with both cell sides). */
export const DEFAULT_BAND_ELEMENTS = 1 << 20;

/**
 * `inner` [...batch, rows, cols] read as [...batch, cols, rows] (gpt-oss MXFP4 experts
 * against their BF16 release). Memory stays bounded: a band of whole logical rows (stored
 * columns) is assembled from contiguous reads of stored row blocks, so each band costs one
 * pass over its batch matrix — a matrix is read ceil(cols / bandRows) times in all, where
 * bandRows = bandElements / rows. Sequential reads reuse the band.
 */
export function transposedTensor(inner: LogicalTensor, name: string, bandElements = DEFAULT_BAND_ELEMENTS): LogicalTensor {
  return new TransposedTensor(inner, name, bandElements);
}

class TransposedTensor extends ExclusiveReader implements LogicalTensor {
  readonly shape: readonly number[];
  readonly elements: number;
  readonly encoding: string;
  readonly storedBytes: number;
  readonly recipe: TensorRecipe<TensorDescriptor>;
  private readonly rows: number;
  private readonly cols: number;
  private readonly bandRows: number;
  private readonly rowBlock: number;
  private band: { batch: number; firstCol: number; endCol: number } | null = null;
  private readonly bandValues: Float64Array;
  private readonly bandAbove: Float64Array;
  private readonly bandBelow: Float64Array;
  private readonly blockValues: Float64Array;
  private readonly blockAbove: Float64Array;
  private readonly blockBelow: Float64Array;
  /** Passes over stored rows so far: what the transposition cost. */
  storedPasses = 0;

  constructor(
    private readonly inner: LogicalTensor,
    readonly name: string,
    bandElements: number,
  ) {
    super();
    const shape = inner.shape;
    if (shape.length < 2) throw new RangeError(`${name}: cannot transpose a tensor of rank ${shape.length}`);
    this.rows = shape[shape.length - 2]!;
    this.cols = shape[shape.length - 1]!;
    this.shape = [...shape.slice(0, -2), this.cols, this.rows];
    this.elements = inner.elements;
    this.encoding = `${inner.encoding}, transposed`;
    this.storedBytes = inner.storedBytes;
    this.recipe = { kind: 'transposed', inner: inner.recipe, name, bandElements };
    this.bandRows = Math.max(1, Math.min(this.cols, Math.floor(bandElements / Math.max(1, this.rows))));
    const bandSize = this.bandRows * this.rows;
    this.bandValues = new Float64Array(bandSize);
    this.bandAbove = new Float64Array(bandSize);
    this.bandBelow = new Float64Array(bandSize);
    this.rowBlock = Math.max(1, Math.min(this.rows, Math.floor(bandElements / 4 / Math.max(1, this.cols))));
    const blockSize = this.rowBlock * this.cols;
    this.blockValues = new Float64Array(blockSize);
    this.blockAbove = new Float64Array(blockSize);
    this.blockBelow = new Float64Array(blockSize);
  }

  read(first: number, count: number, out: Float64Array, above?: Float64Array, below?: Float64Array): Promise<void> {
    checkRange(this, first, count);
    return this.exclusive(this.name, async () => {
      const { rows, cols } = this;
      const matrix = rows * cols;
      let i = 0;
      while (i < count) {
        const element = first + i;
        const batch = Math.floor(element / matrix);
        const col = Math.floor((element % matrix) / rows);
        const band = await this.bandFor(batch, col);
        const bandStart = batch * matrix + band.firstCol * rows;
        const bandEnd = batch * matrix + band.endCol * rows;
        const n = Math.min(count - i, bandEnd - element);
        const from = element - bandStart;
        out.set(this.bandValues.subarray(from, from + n), i);
        if (above) above.set(this.bandAbove.subarray(from, from + n), i);
        if (below) below.set(this.bandBelow.subarray(from, from + n), i);
        i += n;
      }
    });
  }

  private async bandFor(batch: number, col: number): Promise<{ batch: number; firstCol: number; endCol: number }> {
    const current = this.band;
    if (current && current.batch === batch && col >= current.firstCol && col < current.endCol) return current;
    const { rows, cols, bandRows, rowBlock } = this;
    const firstCol = Math.floor(col / bandRows) * bandRows;
    const endCol = Math.min(cols, firstCol + bandRows);
    const base = batch * rows * cols;
    for (let r0 = 0; r0 < rows; r0 += rowBlock) {
      const n = Math.min(rowBlock, rows - r0);
      await this.inner.read(base + r0 * cols, n * cols, this.blockValues, this.blockAbove, this.blockBelow);
      for (let r = 0; r < n; r++) {
        const source = r * cols;
        for (let c = firstCol; c < endCol; c++) {
          const at = (c - firstCol) * rows + r0 + r;
          this.bandValues[at] = this.blockValues[source + c]!;
          this.bandAbove[at] = this.blockAbove[source + c]!;
          this.bandBelow[at] = this.blockBelow[source + c]!;
        }
      }
    }
    this.storedPasses++;
    this.band = { batch, firstCol, endCol };
    return this.band;
  }
}
