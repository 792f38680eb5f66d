import { wasmKernels, type WasmKernels } from '../wasm-kernels.js';
import type { ExactMatchCounts } from './exact-match-count.js';
import type { CompiledRecipe, MergeArithmetic } from './merge-arithmetic.js';

/** The arithmetics' numbers in assembly/replay.ts. */
const ARITHMETIC_CODES: Record<MergeArithmetic, number> = { 'exact-once': 0, float32: 1, 'torch-in-dtype': 2, 'format-steps': 3 };

/**
 * Whether `replayTwoBf16` (assembly/replay.ts) replays this recipe: two parents, a weighted
 * sum or SLERP (a weighted sum with its own coefficients), a BF16 suspect — the usual
 * candidate. Everything else is replayed by `replayRecipe`, which defines them all.
 */
export function replaysInWasm(compiled: CompiledRecipe): boolean {
  return compiled.format.dtype === 'BF16' && compiled.method !== 'task-arithmetic' && compiled.effective.length === 2;
}

/**
 * The WebAssembly replay of one chunk: `load` copies the chunk's decoded values and
 * element classes into linear memory once, then `replay` replays one recipe on them.
 * Identical counts to `replayRecipe` + the comparison in exact-match-count.ts
 * (test/engine/recipes/replay-wasm.test.ts), several times faster: the bf16 rounding is
 * a few integer operations there.
 */
export class ReplayKernel {
  private capacity = 0;
  private suspectAt = 0;
  private firstAt = 0;
  private secondAt = 0;
  private classAt = 0;
  private count = 0;
  private readonly outAt: number;

  constructor(private readonly wasm: WasmKernels) {
    this.outAt = wasm.reserve(16);
  }

  load(suspect: Float64Array, first: Float64Array, second: Float64Array, elementClass: Uint8Array, count: number): void {
    if (count > this.capacity) {
      const capacity = Math.max(count, 1 << 16);
      this.suspectAt = this.wasm.reserve(8 * capacity);
      this.firstAt = this.wasm.reserve(8 * capacity);
      this.secondAt = this.wasm.reserve(8 * capacity);
      this.classAt = this.wasm.reserve(capacity);
      this.capacity = capacity;
    }
    const { f64, u8 } = this.wasm.views;
    f64.set(suspect.subarray(0, count), this.suspectAt >> 3);
    f64.set(first.subarray(0, count), this.firstAt >> 3);
    f64.set(second.subarray(0, count), this.secondAt >> 3);
    u8.set(elementClass.subarray(0, count), this.classAt);
    this.count = count;
  }

  /**
   * Replays `compiled` (which must pass `replaysInWasm`) on the loaded chunk and adds what
   * it reproduces to recipe `r` of `counts`.
   */
  replay(compiled: CompiledRecipe, counts: ExactMatchCounts, r: number): void {
    const w = compiled.effective;
    this.wasm.exports.replayTwoBf16(
      ARITHMETIC_CODES[compiled.recipe.arithmetic], w[0]!, w[1]!, compiled.normaliser,
      this.suspectAt, this.firstAt, this.secondAt, this.classAt, this.count, this.outAt,
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
