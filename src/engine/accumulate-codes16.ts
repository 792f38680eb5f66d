import { decodeWithCell, type FloatFormat } from '../format/dtype.js';
import type { ChunkSums } from './accumulate-chunk.js';
import { PROFILE_BIN, PROFILE_BINS, PROFILE_LO } from './moments.js';
import { wasmKernels, type WasmKernels } from './wasm-kernels.js';

/**
 * The two-parent kernel fused with decoding, for a suspect and parents stored in one
 * format (BF16, F16 or F32), in WebAssembly (assembly/codes16.ts, built into
 * dist/kernels.wasm by `npm run build`; see wasm-kernels.ts). It reads the stored codes
 * and computes what `decodeWithCell` + `accumulateTwoParents` compute: counts and the
 * exact-hit profile exactly, sums to float64 rounding (test/engine/scan-tensor.test.ts:
 * every finite BF16 and F16 code, F32 codes of every binade). Values and cells come from
 * the bits, in SIMD; only the checked kernel of a 16-bit chunk holding a NaN or an
 * infinity takes them from per-code tables (`tablesAt`).
 *
 * Two loops per chunk. The first, over every element, has no branch: the Gram, the
 * floor, equality counts by integer arithmetic on the codes, and the informative test,
 * which appends to a list whether or not it counts (the count only advances when it
 * does): the codes of each load's informative elements, moved to the front by one
 * shuffle per input (the checked kernels: the element's position). The second runs
 * over that list alone: the informative Gram and the exact-hit intervals. Informative
 * elements are about half of a fine-tune's and fall at random, so a branch on the test
 * mispredicts half the time. No
 * per-element finiteness test in the first loop either: a non-finite input makes rr, dd
 * or ee non-finite, and that chunk is then summed again by the checked kernel, which
 * tests each element and leaves the non-finite ones out.
 *
 * Why WebAssembly: the same two loops in JavaScript ran at 27.5 ns per element on
 * `npm run bench:kernel`'s codes (commit 891cf20: bounds checks on every table load, no
 * SIMD); this kernel runs at 6.5–7.6 for BF16 and F16 (pinned to one CPU;
 * docs/performance.md), ~15 for F32, whose elements are nearly all informative there.
 *
 * One kernel per thread (`codes16Kernel()`): its linear memory holds one chunk of codes
 * per input, the position list, the compact code lists (BF16), one chunk's profile
 * difference array, the sums, and the tables of each format and threshold that needed
 * them.
 */
/**
 * The codes in a read's bytes, 16- or 32-bit (`bytes`): a view when the bytes are
 * aligned to the code size, else a copy.
 */
export function codeArrayOf(view: Uint8Array, bytes: 2 | 4): Uint16Array | Uint32Array {
  const aligned = view.byteOffset % bytes === 0;
  const buffer = aligned ? view.buffer : view.slice().buffer;
  const offset = aligned ? view.byteOffset : 0;
  return bytes === 4 ? new Uint32Array(buffer, offset, view.byteLength >> 2) : new Uint16Array(buffer, offset, view.byteLength >> 1);
}

/** assembly/codes16.ts's numbers for the formats of `twoParentsFused`. */
const FUSED_FORMATS = { BF16: 0, F16: 1, F32: 2 } as const;

export class Codes16Kernel {
  private readonly wasm: WasmKernels;
  private capacity = 0;
  private codesAt = [0, 0, 0];
  private positionsAt = 0;
  /** The SIMD kernels' compact lists of informative codes: three of `compactStride` bytes from here. */
  private compactAt = 0;
  private compactStride = 0;
  private readonly profileDiffAt: number;
  private readonly outAt: number;
  /** The exact-hit intervals of small integer (e, d) in ulps of s, built once (assembly/codes16.ts). */
  private readonly intervalTableAt: number;
  /** The swizzle patterns that compact a group of eight codes (four F32 codes) to its informative ones (assembly/codes16.ts). */
  private readonly compactTableAt: number;
  private readonly compactTable32At: number;
  /** Where the tables of each format and informative threshold are, by `${dtype} ${T}`. */
  private readonly tableSets = new Map<string, number>();
  private readonly binsPerUnit = Math.round(1 / PROFILE_BIN);
  /** Bin b's centre is lo + (b + ½)·width = (b − centreOffset)/binsPerUnit. */
  private readonly centreOffset = Math.round(-(PROFILE_LO + PROFILE_BIN / 2) * Math.round(1 / PROFILE_BIN));

  /**
   * The bins of `hits` the last `accumulate` may have added to, [touchedFirst,
   * touchedLast] (first > last: none; touchedLast may be PROFILE_BINS, one past the last
   * bin); outside them it left the array as it was.
   */
  touchedFirst = 0;
  touchedLast = -1;

  constructor(wasm: WasmKernels) {
    this.wasm = wasm;
    this.profileDiffAt = wasm.reserve((PROFILE_BINS + 1) * 8);
    this.outAt = wasm.reserve(32 * 8);
    this.intervalTableAt = wasm.reserve(wasm.exports.INTERVAL_TABLE_BYTES.value);
    wasm.exports.buildIntervalTable(this.intervalTableAt, this.binsPerUnit, this.centreOffset, PROFILE_BINS - 1);
    this.compactTableAt = wasm.reserve(wasm.exports.COMPACT_TABLE_BYTES.value);
    wasm.exports.buildCompactTable(this.compactTableAt, 2);
    this.compactTable32At = wasm.reserve(wasm.exports.COMPACT_TABLE_BYTES.value);
    wasm.exports.buildCompactTable(this.compactTable32At, 4);
  }

  /**
   * Adds to `out` (which the caller has reset) the sums of elements [from, to) of the three
   * code arrays, and their exact-hit counts to the profile `hits` (PROFILE_BINS bins): the
   * kernel's difference array, summed over the entries the chunk touched, in the same
   * pass that clears them (counts are whole numbers: the order of adding changes
   * nothing). One call is synchronous, so scans may interleave.
   * `informativeUlps` is T of the informative test |d| ≥ T·ulp(s).
   */
  accumulate(
    suspectCodes: Uint16Array | Uint32Array,
    referenceCodes: Uint16Array | Uint32Array,
    otherCodes: Uint16Array | Uint32Array,
    from: number,
    to: number,
    format: FloatFormat,
    informativeUlps: number,
    reference: number,
    hits: Float64Array,
    out: ChunkSums,
  ): void {
    const count = to - from;
    const [suspectAt, referenceAt, otherAt] = this.loadCodes(suspectCodes, referenceCodes, otherCodes, from, to);
    const kernels = this.wasm.exports;
    const lastBin = PROFILE_BINS - 1;
    const wide = format.dtype === 'F32';
    const fused = FUSED_FORMATS[format.dtype as keyof typeof FUSED_FORMATS];
    if (fused === undefined) throw new Error(`Codes16Kernel: no fused kernel for ${format.dtype}`);
    // Values, ulps and cells come from the bits: no table, but for a chunk the checked kernel must redo.
    const fast = kernels.twoParentsFused(
      fused, suspectAt, referenceAt, otherAt, count, informativeUlps,
      this.compactAt, this.compactStride, this.profileDiffAt, this.binsPerUnit, this.centreOffset, lastBin, this.outAt,
      this.intervalTableAt, wide ? this.compactTable32At : this.compactTableAt,
    );
    if (fast === 0 && wide) {
      kernels.twoParentsCheckedF32(
        suspectAt, referenceAt, otherAt, count, informativeUlps,
        this.positionsAt, this.profileDiffAt, this.binsPerUnit, this.centreOffset, lastBin, this.outAt,
      );
    } else if (fast === 0) {
      const tablesAt = this.tablesAt(format, informativeUlps);
      kernels.twoParentsChecked(
        suspectAt, referenceAt, otherAt, count,
        tablesAt, tablesAt + TABLE_BYTES, tablesAt + 2 * TABLE_BYTES, tablesAt + 3 * TABLE_BYTES, tablesAt + 4 * TABLE_BYTES,
        this.positionsAt, this.profileDiffAt, this.binsPerUnit, this.centreOffset, lastBin, this.outAt,
      );
    }
    this.readSums(reference, hits, out);
  }

  /** Elements [from, to) of the three code arrays (16- or 32-bit) copied into linear memory; their offsets. */
  private loadCodes(
    suspectCodes: Uint16Array | Uint32Array,
    referenceCodes: Uint16Array | Uint32Array,
    otherCodes: Uint16Array | Uint32Array,
    from: number,
    to: number,
  ): [number, number, number] {
    this.ensureCapacity(to - from);
    const at = this.codesAt as [number, number, number];
    const views = this.wasm.views;
    const [view, shift] = suspectCodes instanceof Uint32Array ? [views.u32, 2] : [views.u16, 1];
    [suspectCodes, referenceCodes, otherCodes].forEach((codes, i) => view.set(codes.subarray(from, to), at[i]! >> shift));
    return at;
  }

  /**
   * The recipe pass's direct residual over elements [from, to) of three F32 code arrays
   * at the other parent's weight (assembly/codes16.ts's `residualF32`); null when some
   * input is NaN or infinite there (the caller then takes the chunk element by element).
   */
  residualF32(
    suspectCodes: Uint32Array,
    referenceCodes: Uint32Array,
    otherCodes: Uint32Array,
    from: number,
    to: number,
    otherWeight: number,
    informativeUlps: number,
  ): { used: number; rss: number; informative: number; reproduced: number } | null {
    const [suspectAt, referenceAt, otherAt] = this.loadCodes(suspectCodes, referenceCodes, otherCodes, from, to);
    if (this.wasm.exports.residualF32(suspectAt, referenceAt, otherAt, to - from, otherWeight, informativeUlps, this.outAt) === 0) return null;
    const { f64 } = this.wasm.views;
    const at = this.outAt >> 3;
    return { used: f64[at]!, rss: f64[at + 1]!, informative: f64[at + 2]!, reproduced: f64[at + 3]! };
  }

  /** The sums the kernel wrote, into `out`, and its difference array's touched entries added to `hits` and cleared. */
  private readSums(reference: number, hits: Float64Array, out: ChunkSums): void {
    const { f64 } = this.wasm.views;
    const at = this.outAt >> 3;
    const g = out.gram;
    g[0] = f64[at]!; g[1] = f64[at + 1]!; g[2] = f64[at + 2]!; g[4] = f64[at + 3]!; g[5] = f64[at + 4]!; g[8] = f64[at + 5]!;
    out.used = f64[at + 6]!;
    out.nonFinite = f64[at + 7]!;
    out.floor = f64[at + 8]!;
    out.floorVar = f64[at + 9]!;
    out.equal[reference] = f64[at + 10]!;
    out.equal[1 - reference] = f64[at + 11]!;
    out.parentsEqual = f64[at + 12]!;
    out.keptBase = f64[at + 13]!;
    const ig = out.informativeGram;
    ig[0] = f64[at + 14]!; ig[1] = f64[at + 15]!; ig[2] = f64[at + 16]!; ig[4] = f64[at + 17]!; ig[5] = f64[at + 18]!; ig[8] = f64[at + 19]!;
    out.informative = f64[at + 20]!;
    out.informativeFloor = f64[at + 21]!;
    out.keptBaseInformative = f64[at + 22]!;
    out.keptBaseInformativeDd = f64[at + 23]!;
    // Only the entries the chunk's intervals touched (a small tensor's touch a few of 4,002).
    // Past the last one the running sum is back to 0 (every interval's +1 has its −1).
    const diff = this.profileDiffAt >> 3;
    const touchedLast = f64[at + 25]!;
    this.touchedFirst = f64[at + 24]!;
    this.touchedLast = touchedLast;
    let running = 0;
    for (let b = this.touchedFirst; b <= touchedLast; b++) {
      running += f64[diff + b]!;
      f64[diff + b] = 0;
      if (b < PROFILE_BINS) hits[b]! += running;
    }
  }

  /**
   * The tables of the 16-bit checked kernel (a chunk holding a NaN or an infinity), made
   * when first needed, per code: value, ulp² (the
   * floor's term; the ulp is the larger side of the cell, as accumulateTwoParents takes
   * it), the cell's lower and upper steps (the value's rounding cell is [s − lower/2,
   * s + upper/2]) and the informative threshold T·ulp. Five tables of 65,536 float64
   * (512 KiB each), decoded by the reference decoder straight into linear memory,
   * once per format and T.
   */
  private tablesAt(format: FloatFormat, informativeUlps: number): number {
    const key = `${format.dtype} ${informativeUlps}`;
    const known = this.tableSets.get(key);
    if (known !== undefined) return known;
    if (format.bytes !== 2) throw new Error(`Codes16Kernel: ${format.dtype} is not a 16-bit format`);
    const at = this.wasm.reserve(5 * TABLE_BYTES);
    const { f64 } = this.wasm.views;
    const [value, ulp2, lower, upper, threshold] = [0, 1, 2, 3, 4].map((k) => f64.subarray((at + k * TABLE_BYTES) >> 3, (at + (k + 1) * TABLE_BYTES) >> 3)) as [
      Float64Array, Float64Array, Float64Array, Float64Array, Float64Array,
    ];
    const codes = Uint16Array.from({ length: 65536 }, (_, c) => c);
    decodeWithCell(format, new Uint8Array(codes.buffer), value, upper, lower, 65536);
    for (let c = 0; c < 65536; c++) {
      const ulp = upper[c]! > lower[c]! ? upper[c]! : lower[c]!;
      ulp2[c] = ulp * ulp;
      threshold[c] = informativeUlps * ulp;
    }
    this.tableSets.set(key, at);
    return at;
  }

  private ensureCapacity(count: number): void {
    if (count <= this.capacity) return;
    const capacity = Math.max(count, 1 << 16);
    // Room for 32-bit codes (F32), whatever the format.
    this.codesAt = [this.wasm.reserve(4 * capacity), this.wasm.reserve(4 * capacity), this.wasm.reserve(4 * capacity)];
    this.positionsAt = this.wasm.reserve(4 * capacity);
    // Each group of eight (F32: four) appends with one 16-byte store, which can reach past
    // the informative count but never past 2·count bytes (4·count for F32: before a group
    // at element i, at most i elements are informative); the 16 spare bytes are a margin.
    this.compactStride = 4 * capacity + 16;
    this.compactAt = this.wasm.reserve(3 * this.compactStride);
    this.capacity = capacity;
  }
}

const TABLE_BYTES = 65536 * 8;
let kernel: Codes16Kernel | undefined;

/** This thread's kernel. */
export function codes16Kernel(): Codes16Kernel {
  kernel ??= new Codes16Kernel(wasmKernels());
  return kernel;
}
