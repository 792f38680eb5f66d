/**
 * Quantizers for fixtures and round-trip tests, one per scheme provcheck reads
 * (src/format/quantization/schemes.ts). Each returns the stored tensors and the exact
 * values they mean, dequantized in float64 in the order the reader uses, so a test can
 * compare bit for bit.
 */
import { encode, FLOAT_FORMATS } from '../../src/format/dtype.js';
import { MINIFLOAT_FORMATS, nearestCode } from '../../src/format/minifloat.js';
import type { TensorBytes } from '../../test/helpers/safetensors-writer.js';

const { F8_E4M3, F4 } = MINIFLOAT_FORMATS;
const E4M3_MAX = 448;
const F4_MAX = 6;

export interface Quantized {
  readonly tensors: TensorBytes[];
  /** What the stored tensors mean, in the logical layout. */
  readonly dequantized: Float64Array;
}

function amax(values: Float64Array, indices: Iterable<number>): number {
  let m = 0;
  for (const i of indices) m = Math.max(m, Math.abs(values[i]!));
  return m;
}

function* blockIndices(cols: number, r0: number, r1: number, c0: number, c1: number): Generator<number> {
  for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) yield r * cols + c;
}

/** Per-block E4M3 with an F32 scale per block, as DeepSeek's fp8 cast script writes it (scale = amax/448). */
export function quantizeFp8Blocks(
  base: string,
  values: Float64Array,
  [rows, cols]: readonly [number, number],
  [blockRows, blockCols]: readonly [number, number],
  scaleSuffix: '.weight_scale_inv' | '.weight_scale',
): Quantized {
  const scaleRows = Math.ceil(rows / blockRows);
  const scaleCols = Math.ceil(cols / blockCols);
  const scales = new Float64Array(scaleRows * scaleCols);
  const codes = new Uint8Array(rows * cols);
  const dequantized = new Float64Array(rows * cols);
  for (let br = 0; br < scaleRows; br++) {
    for (let bc = 0; bc < scaleCols; bc++) {
      const [r0, r1, c0, c1] = [br * blockRows, Math.min(rows, (br + 1) * blockRows), bc * blockCols, Math.min(cols, (bc + 1) * blockCols)];
      const m = amax(values, blockIndices(cols, r0, r1, c0, c1));
      const scale = m > 0 ? Math.fround(m / E4M3_MAX) : 1;
      scales[br * scaleCols + bc] = scale;
      for (const i of blockIndices(cols, r0, r1, c0, c1)) {
        const code = nearestCode(F8_E4M3, values[i]! / scale);
        codes[i] = code;
        dequantized[i] = F8_E4M3.values[code]! * scale;
      }
    }
  }
  return {
    tensors: [
      { name: `${base}.weight`, dtype: 'F8_E4M3', shape: [rows, cols], data: codes },
      { name: `${base}${scaleSuffix}`, dtype: 'F32', shape: [scaleRows, scaleCols], data: encode(FLOAT_FORMATS.F32, scales) },
    ],
    dequantized,
  };
}

/**
 * NVFP4: E2M1 codes per 16 with an E4M3 scale, and a global F32 scale. compressed-tensors
 * stores global = 448·6/amax and divides by it; ModelOpt stores its inverse and multiplies.
 */
export function quantizeNvfp4(base: string, values: Float64Array, [rows, cols]: readonly [number, number], flavour: 'compressed-tensors' | 'modelopt'): Quantized {
  const group = 16;
  const groups = cols / group;
  const m = amax(values, values.keys());
  const globalStored = Math.fround(flavour === 'compressed-tensors' ? (E4M3_MAX * F4_MAX) / m : m / (E4M3_MAX * F4_MAX));
  // The reader's order: per-group scale × (global or 1/global), then × code.
  const factor = flavour === 'compressed-tensors' ? 1 / globalStored : globalStored;
  const packed = new Uint8Array((rows * cols) / 2);
  const scaleCodes = new Uint8Array(rows * groups);
  const dequantized = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      const first = r * cols + g * group;
      const gm = amax(values, Array.from({ length: group }, (_, k) => first + k));
      const scaleCode = nearestCode(F8_E4M3, gm / F4_MAX / factor);
      scaleCodes[r * groups + g] = scaleCode;
      const scale = F8_E4M3.values[scaleCode]! * factor;
      for (let k = 0; k < group; k++) {
        const i = first + k;
        const code = scale > 0 ? nearestCode(F4, values[i]! / scale) : 0;
        packed[i >> 1]! |= i & 1 ? code << 4 : code;
        dequantized[i] = F4.values[code]! * scale;
      }
    }
  }
  const weightName = flavour === 'compressed-tensors' ? `${base}.weight_packed` : `${base}.weight`;
  const globalName = flavour === 'compressed-tensors' ? `${base}.weight_global_scale` : `${base}.weight_scale_2`;
  return {
    tensors: [
      { name: weightName, dtype: 'U8', shape: [rows, cols / 2], data: packed },
      { name: `${base}.weight_scale`, dtype: 'F8_E4M3', shape: [rows, groups], data: scaleCodes },
      { name: globalName, dtype: 'F32', shape: flavour === 'compressed-tensors' ? [1] : [], data: encode(FLOAT_FORMATS.F32, [globalStored]) },
    ],
    dequantized,
  };
}

/**
 * gpt-oss MXFP4 of a logical [experts, cols, rows] tensor (the BF16 release's layout):
 * stored transposed, [experts, rows, cols/32, 16] codes with an E8M0 exponent per 32.
 */
export function quantizeMxfp4(base: string, values: Float64Array, [experts, cols, rows]: readonly [number, number, number]): Quantized {
  const group = 32;
  const groups = cols / group;
  const blocks = new Uint8Array((experts * rows * cols) / 2);
  const scales = new Uint8Array(experts * rows * groups);
  const dequantized = new Float64Array(values.length);
  for (let e = 0; e < experts; e++) {
    for (let r = 0; r < rows; r++) {
      for (let g = 0; g < groups; g++) {
        const logical = (c: number): number => e * cols * rows + c * rows + r;
        const gm = amax(values, Array.from({ length: group }, (_, k) => logical(g * group + k)));
        // The smallest power of two that brings the group's largest value within ±6.
        const exponent = gm > 0 ? Math.ceil(Math.log2(gm / F4_MAX)) : -127;
        scales[(e * rows + r) * groups + g] = exponent + 127;
        const scale = 2 ** exponent;
        for (let k = 0; k < group; k++) {
          const c = g * group + k;
          const stored = (e * rows + r) * cols + c;
          const code = nearestCode(F4, values[logical(c)]! / scale);
          blocks[stored >> 1]! |= stored & 1 ? code << 4 : code;
          dequantized[logical(c)] = F4.values[code]! * scale;
        }
      }
    }
  }
  return {
    tensors: [
      { name: `${base}_blocks`, dtype: 'U8', shape: [experts, rows, groups, 16], data: blocks },
      { name: `${base}_scales`, dtype: 'U8', shape: [experts, rows, groups], data: scales },
    ],
    dequantized,
  };
}
