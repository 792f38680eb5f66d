import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * provcheck's WebAssembly: the fused 16-bit kernel (assembly/codes16.ts) and the recipe
 * replay (assembly/replay.ts), written in AssemblyScript and built into dist/kernels.wasm by
 * `npm run build`. One instance per thread (`wasmKernels()`), whose linear memory the
 * JavaScript callers lay out with `reserve` and fill before each call; the functions only
 * read and write the offsets they are given.
 */
export interface KernelExports {
  readonly memory: WebAssembly.Memory;
  twoParentsFused(...args: number[]): number;
  twoParentsChecked(...args: number[]): void;
  twoParentsCheckedF32(...args: number[]): void;
  residualF32(suspectAt: number, referenceAt: number, otherAt: number, count: number, weight: number, informativeUlps: number, outAt: number): number;
  replayTwoParents(...args: number[]): void;
  roundPairs(format: number, fromAt: number, toAt: number, count: number): void;
  buildIntervalTable(tableAt: number, binsPerUnit: number, centreOffset: number, lastBin: number): void;
  /** Bytes `buildIntervalTable` fills. */
  readonly INTERVAL_TABLE_BYTES: { readonly value: number };
  buildCompactTable(tableAt: number, laneBytes: number): void;
  /** Bytes `buildCompactTable` fills, at most. */
  readonly COMPACT_TABLE_BYTES: { readonly value: number };
}

export interface WasmViews {
  readonly buffer: ArrayBuffer;
  readonly u8: Uint8Array;
  readonly u16: Uint16Array;
  readonly u32: Uint32Array;
  readonly f64: Float64Array;
}

export class WasmKernels {
  readonly exports: KernelExports;
  private top: number;

  constructor(module: WebAssembly.Module) {
    this.exports = new WebAssembly.Instance(module).exports as unknown as KernelExports;
    // Everything above the module's own data is the callers'.
    this.top = this.exports.memory.buffer.byteLength;
  }

  private cachedViews: WasmViews | null = null;

  /**
   * Views of the whole memory, indexed by byte offset ÷ element size (offsets from
   * `reserve` are 16-byte aligned): made again only after the memory grew, so that a
   * call per chunk allocates none.
   */
  get views(): WasmViews {
    const buffer = this.exports.memory.buffer;
    if (this.cachedViews?.buffer !== buffer) {
      this.cachedViews = { buffer, u8: new Uint8Array(buffer), u16: new Uint16Array(buffer), u32: new Uint32Array(buffer), f64: new Float64Array(buffer) };
    }
    return this.cachedViews;
  }

  /** `bytes` of linear memory, 16-byte aligned, growing the memory as needed. */
  reserve(bytes: number): number {
    const at = Math.ceil(this.top / 16) * 16;
    this.top = at + bytes;
    const short = this.top - this.exports.memory.buffer.byteLength;
    if (short > 0) this.exports.memory.grow(Math.ceil(short / 65536));
    return at;
  }
}

const WASM_PATH = new URL('../../dist/kernels.wasm', import.meta.url);
let compiled: WebAssembly.Module | undefined;
let instance: WasmKernels | undefined;

/** This thread's instance, compiled from dist/kernels.wasm on first use. */
export function wasmKernels(): WasmKernels {
  if (!instance) {
    if (!compiled) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(WASM_PATH);
      } catch {
        throw new Error(`${fileURLToPath(WASM_PATH)}: the WebAssembly kernels are missing; run npm run build`);
      }
      compiled = new WebAssembly.Module(bytes);
    }
    instance = new WasmKernels(compiled);
  }
  return instance;
}
