import { wasmKernels, type WasmKernels } from '../wasm-kernels.js';
import type { ExactMatchCounts } from './exact-match-count.js';
import type { CompiledRecipe, MergeArithmetic } from './merge-arithmetic.js';

/** The arithmetics' numbers in assembly/replay.ts. */
const ARITHMETIC_CODES: Record<MergeArithmetic, number> = { 'exact-once': 0, float32: 1, 'torch-in-dtype': 2, 'format-steps': 3 };

/** The suspect formats assembly/replay.ts replays, by its numbers for them. */
const WASM_FORMATS: Readonly<Record<string, number>> = { BF16: 0, F16: 1, F32: 2 };

function wasmFormatOf(compiled: CompiledRecipe): number | null {
  return WASM_FORMATS[compiled.format.dtype] ?? null;
}

/**
 * Whether assembly/replay.ts replays this recipe: two parents, a weighted sum or SLERP (a
 * weighted sum with its own coefficients), a BF16, F16 or F32 suspect — the usual
 * candidate. Everything else is replayed by `replayRecipe`, which defines them all.
 */
export function replaysInWasm(compiled: CompiledRecipe): boolean {
  return wasmFormatOf(compiled) !== null && compiled.method !== 'task-arithmetic' && compiled.effective.length === 2;
}

/**
 * The WebAssembly replay of one chunk: `load` copies the chunk's decoded values and
 * element classes into linear memory once, then `replay` replays one recipe on them.
 * Identical counts to `replayRecipe` + the comparison in exact-match-count.ts
 * (test/engine/recipes/replay-wasm.test.ts).
 */
class ReplayKernel {
  private capacity = 0;
  private suspectAt = 0;
  private firstAt = 0;
  private secondAt = 0;
  private firstRoundedAt = 0;
  private secondRoundedAt = 0;
  private classAt = 0;
  private count = 0;
  /** The format the parents are rounded to for this chunk yet (the first recipe that needs them does it), or null. */
  private rounded: string | null = null;
  private readonly outAt: number;

  constructor(private readonly wasm: WasmKernels) {
    this.outAt = wasm.reserve(16);
  }

  load(suspect: Float64Array, first: Float64Array, second: Float64Array, elementClass: Uint8Array, count: number): void {
    if (count > this.capacity) {
      const capacity = Math.max(count, 1 << 16);
      // One element more: the replay goes by pairs, and an odd count is padded.
      this.suspectAt = this.wasm.reserve(8 * (capacity + 1));
      this.firstAt = this.wasm.reserve(8 * (capacity + 1));
      this.secondAt = this.wasm.reserve(8 * (capacity + 1));
      this.firstRoundedAt = this.wasm.reserve(8 * (capacity + 1));
      this.secondRoundedAt = this.wasm.reserve(8 * (capacity + 1));
      this.classAt = this.wasm.reserve(capacity + 1);
      this.capacity = capacity;
    }
    const { f64, u8 } = this.wasm.views;
    f64.set(suspect.subarray(0, count), this.suspectAt >> 3);
    f64.set(first.subarray(0, count), this.firstAt >> 3);
    f64.set(second.subarray(0, count), this.secondAt >> 3);
    u8.set(elementClass.subarray(0, count), this.classAt);
    // The padding element's class: 0, never counted (its values are whatever was there).
    u8[this.classAt + count] = 0;
    this.count = count;
    this.rounded = null;
  }

  /**
   * Replays `compiled` (which must pass `replaysInWasm`) on the loaded chunk and adds what
   * it reproduces to recipe `r` of `counts`.
   */
  replay(compiled: CompiledRecipe, counts: ExactMatchCounts, r: number): void {
    const w = compiled.effective;
    const arithmetic = ARITHMETIC_CODES[compiled.recipe.arithmetic];
    const pairs = this.count + (this.count & 1);
    const exports = this.wasm.exports;
    const format = wasmFormatOf(compiled)!;
    if (this.rounded !== compiled.format.dtype && (arithmetic === ARITHMETIC_CODES['torch-in-dtype'] || arithmetic === ARITHMETIC_CODES['format-steps'])) {
      exports.roundPairs(format, this.firstAt, this.firstRoundedAt, pairs);
      exports.roundPairs(format, this.secondAt, this.secondRoundedAt, pairs);
      this.rounded = compiled.format.dtype;
    }
    exports.replayTwoParents(
      format, arithmetic, w[0]!, w[1]!, compiled.normaliser,
      this.suspectAt, this.firstAt, this.secondAt, this.firstRoundedAt, this.secondRoundedAt, this.classAt, pairs, this.outAt,
    );
    const { f64 } = this.wasm.views;
    counts.reproduced[r]! += f64[this.outAt >> 3]!;
    counts.reproducedWhereParentsDiffer[r]! += f64[(this.outAt >> 3) + 1]!;
  }
}

let kernel: ReplayKernel | undefined;

/** This thread's replay kernel. */
export function replayKernel(): ReplayKernel {
  kernel ??= new ReplayKernel(wasmKernels());
  return kernel;
}
