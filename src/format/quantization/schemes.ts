/**
 * The quantization schemes provcheck reads, in one table keyed by tensor-name suffixes
 * (config.json's quantization_config supplies block and group sizes and names the method).
 * Each turns a weight's stored tensors into one logical tensor of real values; the scale
 * tensors are consumed with their weight and never analysed on their own.
 *
 * Definitions followed (dequantized value = code value × scale …):
 * - Fine-grained FP8 (DeepSeek-V3, Qwen3 FP8): `W.weight` F8_E4M3 + `W.weight_scale_inv`
 *   one per weight_block_size block (default 128×128, edge blocks ragged). Despite the name
 *   the scale is multiplied: transformers integrations/finegrained_fp8.py (Fp8Dequantize:
 *   `quantized.to(float32) * scales` broadcast per block), DeepSeek-V3 inference/kernel.py
 *   weight_dequant (`y = x * s`).
 * - compressed-tensors FP8 ("float-quantized"): `W.weight` F8_E4M3 + `W.weight_scale`,
 *   strategy tensor / channel / group / block (compressed_tensors quantization
 *   lifecycle/forward.py dequantize: `x_q * scale`, scale broadcast per strategy).
 * - compressed-tensors NVFP4 ("nvfp4-pack-quantized"): `W.weight_packed` U8 (two E2M1
 *   codes per byte, low nibble first: compressors/nvfp4 pack_fp4_to_uint8) +
 *   `W.weight_scale` F8_E4M3 per 16 + `W.weight_global_scale`, a divisor
 *   (`scale / global_scale` in forward.py's _process_quantization).
 * - ModelOpt NVFP4 (hf_quant_config.json quant_algo NVFP4): `W.weight` U8 packed as above +
 *   `W.weight_scale` F8_E4M3 per 16 + `W.weight_scale_2`, a multiplier (TensorRT-Model-
 *   Optimizer NVFP4QTensor.dequantize: `scale * weight_scale_2`).
 * - gpt-oss MXFP4: `P_blocks` U8 [..., R, G, 16] (32 E2M1 codes per group, low nibble
 *   first) + `P_scales` E8M0 [..., R, G] (2^(s − 127)), transformers integrations/mxfp4.py
 *   convert_moe_packed_tensors, which ends in `.transpose(1, 2)`: the BF16 release
 *   stores the experts [..., G·32, R], so the logical tensor is the transposed one.
 * Activation scales (`input_scale`, `input_global_scale`, KV-cache `k_scale`/`v_scale`)
 * describe inputs, not weights: consumed and ignored.
 */
import { MalformedInputError } from '../../errors.js';
import { isDecodableDType, scaledTensor, storedTensor, transposedTensor, type LogicalTensor, type ScaleGrid } from '../logical-tensor.js';
import type { ModelLayout, TensorDescriptor } from '../model-layout.js';
import type { ModelConfig } from './model-config.js';

export type SchemeId = 'fp8-block' | 'compressed-tensors-fp8' | 'compressed-tensors-nvfp4' | 'modelopt-nvfp4' | 'mxfp4';

export interface DetectedScheme {
  readonly id: SchemeId;
  readonly title: string;
  /** Block or group sizes as used, e.g. "block 128×128". */
  readonly detail: string;
  /** Weights stored this way. */
  readonly tensors: number;
}

export interface LogicalModel {
  readonly layout: ModelLayout;
  /** The quantization_config's quant_method, when the config has one. */
  readonly quantMethod: string | null;
  readonly schemes: readonly DetectedScheme[];
  /** Every weight by name, in the layout's order; quantized ones dequantized. */
  readonly tensors: ReadonlyMap<string, LogicalTensor>;
  /** Scale tensors consumed by their weights. */
  readonly consumed: readonly string[];
  /** Tensors that cannot be read as real numbers, with the reason. */
  readonly unsupported: readonly { name: string; dtype: string; reason: string }[];
  readonly tieWordEmbeddings: boolean;
}

interface BlockHint {
  rows: number;
  cols: number;
}

interface SchemeRule {
  readonly id: SchemeId;
  readonly title: string;
  /** The suffix that marks a quantized weight; the rest of the name is its base. */
  readonly anchor: string;
  /** Whether the stored tensors around the anchor are this scheme's (else left as they are). */
  applies(base: string, ctx: BuildContext): boolean;
  /** Builds the weight from the anchor's base, or explains what is missing. */
  build(base: string, ctx: BuildContext): { name: string; tensor: LogicalTensor; consumed: string[]; detail: string };
}

interface BuildContext {
  readonly file: (name: string) => string;
  readonly get: (name: string) => TensorDescriptor;
  readonly has: (name: string) => boolean;
  readonly hint: BlockHint | null;
}

const ACTIVATION_SCALE_SUFFIXES = ['.input_scale', '.input_global_scale', '.k_scale', '.v_scale', '.output_scale'];

/** Batch size, rows and columns of a weight shape [...batch, rows, cols]. */
function matrixOf(shape: readonly number[]): { batch: number; rows: number; cols: number } {
  if (shape.length === 0) return { batch: 1, rows: 1, cols: 1 };
  if (shape.length === 1) return { batch: 1, rows: 1, cols: shape[0]! };
  const batch = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  return { batch, rows: shape[shape.length - 2]!, cols: shape[shape.length - 1]! };
}

/**
 * How a scale tensor tiles its weight, from the shapes and the config's block size:
 * one value → per tensor; [..., rows, 1] → per channel; [..., ceil(rows/b0), ceil(cols/b1)]
 * → per block or group, with b0 and b1 the config's, else the sizes that fit (DeepSeek's
 * 128 first, since a ragged edge makes rows/scaleRows inexact).
 */
export function inferScaleGrid(weightShape: readonly number[], scaleShape: readonly number[], hint: BlockHint | null): ScaleGrid | string {
  const { batch, rows, cols } = matrixOf(weightShape);
  const scaleElements = scaleShape.reduce((a, b) => a * b, 1);
  // A configured block (rows > 1) that the whole matrix fits in is still that block: a
  // 64×64 weight of a 128×128-block checkpoint has one scale, and is described as such.
  const block = hint !== null && hint.rows > 1 ? hint : null;
  if (scaleElements === 1) {
    const fits = block !== null && block.rows >= rows && block.cols >= cols;
    return { batch, rows, cols, blockRows: fits ? block.rows : rows, blockCols: fits ? block.cols : cols, sharedAcrossBatch: batch > 1 };
  }
  const trimmed = [...scaleShape];
  // A per-channel scale may be stored [rows] rather than [rows, 1].
  if (trimmed.length === Math.max(1, weightShape.length - 1) && trimmed[trimmed.length - 1] === rows) trimmed.push(1);
  const scaleRows = trimmed.length >= 2 ? trimmed[trimmed.length - 2]! : 1;
  const scaleCols = trimmed[trimmed.length - 1]!;
  const scaleBatch = scaleElements / (scaleRows * scaleCols);
  if (scaleBatch !== batch && scaleBatch !== 1) return `scale shape [${scaleShape.join(', ')}] does not match weight [${weightShape.join(', ')}]`;
  const pick = (size: number, count: number, hinted: number | undefined): number | null => {
    // A configured block comes first, so a matrix smaller than the block (one scale per
    // row or column) keeps the block's size rather than its own.
    const candidates = [block ? hinted : undefined, count === 1 ? size : undefined, count === size ? 1 : undefined, hinted, 128, 32, 16, size % count === 0 ? size / count : undefined, Math.ceil(size / count)];
    for (const b of candidates) if (b !== undefined && b > 0 && Math.ceil(size / b) === count) return b;
    return null;
  };
  const blockRows = pick(rows, scaleRows, hint?.rows);
  const blockCols = pick(cols, scaleCols, hint?.cols);
  if (blockRows === null || blockCols === null) {
    return `scale shape [${scaleShape.join(', ')}] fits no block size for weight [${weightShape.join(', ')}]`;
  }
  return { batch, rows, cols, blockRows, blockCols, sharedAcrossBatch: scaleBatch === 1 && batch > 1 };
}

function gridText(grid: ScaleGrid): string {
  if (grid.blockRows === grid.rows && grid.blockCols === grid.cols) return 'per tensor';
  if (grid.blockRows === 1 && grid.blockCols === grid.cols) return 'per channel';
  if (grid.blockRows === 1) return `per group of ${grid.blockCols}`;
  return `per ${grid.blockRows}×${grid.blockCols} block`;
}

function gridOrFail(ctx: BuildContext, weight: TensorDescriptor, scale: TensorDescriptor, shape: readonly number[], hint: BlockHint | null): ScaleGrid {
  const grid = inferScaleGrid(shape, scale.shape, hint);
  if (typeof grid === 'string') throw new MalformedInputError(ctx.file(weight.name), `tensor ${weight.name}: ${grid} (${scale.name})`);
  return grid;
}

function fp8WithScale(id: SchemeId, title: string, anchor: string): SchemeRule {
  return {
    id,
    title,
    anchor,
    applies: (base, ctx) =>
      ctx.has(`${base}.weight`) &&
      ctx.get(`${base}.weight`).dtype.startsWith('F8') &&
      !ctx.has(`${base}.weight_scale_2`) &&
      !ctx.has(`${base}.weight_global_scale`),
    build(base, ctx) {
      const weight = ctx.get(`${base}.weight`);
      const scale = ctx.get(`${base}${anchor}`);
      const grid = gridOrFail(ctx, weight, scale, weight.shape, ctx.hint);
      const detail = gridText(grid);
      const tensor = scaledTensor({
        name: weight.name,
        codes: storedTensor(weight),
        scales: storedTensor(scale),
        grid,
        encoding: `${weight.dtype} × ${scale.dtype} scale ${detail}`,
      });
      return { name: weight.name, tensor, consumed: [scale.name], detail };
    },
  };
}

function nvfp4(id: SchemeId, title: string, anchor: string, packedSuffix: string, global: { suffix: string; apply: 'multiply' | 'divide' }): SchemeRule {
  return {
    id,
    title,
    anchor,
    applies: (base, ctx) => ctx.has(`${base}${packedSuffix}`) && ctx.get(`${base}${packedSuffix}`).dtype === 'U8' && ctx.has(`${base}.weight_scale`),
    build(base, ctx) {
      const packed = ctx.get(`${base}${packedSuffix}`);
      const scale = ctx.get(`${base}.weight_scale`);
      const globalScale = ctx.get(`${base}${global.suffix}`);
      const codes = storedTensor(packed, { codes: 'F4', name: `${base}.weight` });
      const grid = gridOrFail(ctx, packed, scale, codes.shape, { rows: 1, cols: ctx.hint?.cols ?? 16 });
      const detail = gridText(grid);
      const tensor = scaledTensor({
        name: `${base}.weight`,
        codes,
        scales: storedTensor(scale),
        grid,
        global: { tensor: storedTensor(globalScale), apply: global.apply },
        encoding: `F4 (E2M1) × ${scale.dtype} scale ${detail} ${global.apply === 'divide' ? '÷' : '×'} ${globalScale.name.slice(base.length + 1)}`,
      });
      return { name: `${base}.weight`, tensor, consumed: [packed.name, scale.name, globalScale.name].filter((n) => n !== `${base}.weight`), detail };
    },
  };
}

const MXFP4_GROUP = 32;

const mxfp4: SchemeRule = {
  id: 'mxfp4',
  title: 'MXFP4 (gpt-oss)',
  anchor: '_blocks',
  applies: (base, ctx) => ctx.has(`${base}_scales`) && ctx.get(`${base}_blocks`).dtype === 'U8',
  build(base, ctx) {
    const blocks = ctx.get(`${base}_blocks`);
    const scales = ctx.get(`${base}_scales`);
    const shape = blocks.shape;
    if (shape.length < 3 || shape[shape.length - 1]! * 2 !== MXFP4_GROUP) {
      throw new MalformedInputError(ctx.file(blocks.name), `tensor ${blocks.name}: MXFP4 blocks must be [..., rows, groups, 16], got [${shape.join(', ')}]`);
    }
    const stored = [...shape.slice(0, -2), shape[shape.length - 2]! * MXFP4_GROUP];
    const codes = storedTensor(blocks, { codes: 'F4', shape: stored, name: `${base} (stored)` });
    const scaleCodes = scales.dtype === 'U8' ? 'F8_E8M0' : scales.dtype;
    const grid = gridOrFail(ctx, blocks, scales, stored, { rows: 1, cols: MXFP4_GROUP });
    const dequantized = scaledTensor({
      name: `${base} (stored)`,
      codes,
      scales: storedTensor(scales, { codes: scaleCodes }),
      grid,
      encoding: `F4 (E2M1) × E8M0 scale per group of ${MXFP4_GROUP}`,
    });
    return { name: base, tensor: transposedTensor(dequantized, base), consumed: [blocks.name, scales.name], detail: 'per group of 32, experts transposed' };
  },
};

/**
 * The table. Order matters where anchors overlap: ModelOpt's weight_scale_2 and
 * compressed-tensors' weight_packed are looked for before the plain weight_scale.
 */
export const SCHEME_RULES: readonly SchemeRule[] = [
  fp8WithScale('fp8-block', 'fine-grained FP8 (weight_scale_inv)', '.weight_scale_inv'),
  nvfp4('compressed-tensors-nvfp4', 'NVFP4 (compressed-tensors)', '.weight_global_scale', '.weight_packed', { suffix: '.weight_global_scale', apply: 'divide' }),
  nvfp4('modelopt-nvfp4', 'NVFP4 (ModelOpt)', '.weight_scale_2', '.weight', { suffix: '.weight_scale_2', apply: 'multiply' }),
  fp8WithScale('compressed-tensors-fp8', 'FP8 (compressed-tensors)', '.weight_scale'),
  mxfp4,
];

/** Block size from the config: fp8's weight_block_size, compressed-tensors' block_structure or group_size, ModelOpt's group_size. */
function hintFrom(quantization: Readonly<Record<string, unknown>> | null): BlockHint | null {
  if (!quantization) return null;
  const pair = (value: unknown): BlockHint | null =>
    Array.isArray(value) && value.length === 2 && value.every((v) => Number.isSafeInteger(v) && (v as number) > 0)
      ? { rows: value[0] as number, cols: value[1] as number }
      : null;
  const direct = pair(quantization.weight_block_size);
  if (direct) return direct;
  if (Number.isSafeInteger(quantization.group_size)) return { rows: 1, cols: quantization.group_size as number };
  const groups = quantization.config_groups;
  if (typeof groups === 'object' && groups !== null) {
    for (const group of Object.values(groups as Record<string, unknown>)) {
      const weights = (group as { weights?: Record<string, unknown> } | null)?.weights;
      if (!weights) continue;
      const block = pair(weights.block_structure);
      if (block) return block;
      if (Number.isSafeInteger(weights.group_size)) return { rows: 1, cols: weights.group_size as number };
    }
  }
  return null;
}

/** Every weight of a model as a logical tensor, scales consumed. */
export function logicalModel(layout: ModelLayout, config: ModelConfig | null): LogicalModel {
  const quantization = config?.quantization ?? null;
  const hint = hintFrom(quantization);
  const fileOf = (name: string): string => {
    const t = layout.tensors.get(name);
    return t ? t.shard.source.name : layout.input;
  };
  const ctx: BuildContext = {
    file: fileOf,
    has: (name) => layout.tensors.has(name),
    get: (name) => {
      const t = layout.tensors.get(name);
      if (!t) throw new MalformedInputError(layout.input, `tensor ${name} is missing (its weight's scheme needs it)`);
      return t;
    },
    hint,
  };

  const built = new Map<string, LogicalTensor>();
  /** Anchor tensor name → the logical weight built there. */
  const builtAt = new Map<string, string>();
  const consumed = new Set<string>();
  const counts = new Map<SchemeId, { rule: SchemeRule; tensors: number; details: Set<string> }>();
  for (const name of layout.tensors.keys()) {
    if (consumed.has(name)) continue;
    for (const rule of SCHEME_RULES) {
      if (!name.endsWith(rule.anchor)) continue;
      const base = name.slice(0, -rule.anchor.length);
      if (!rule.applies(base, ctx)) continue;
      const result = rule.build(base, ctx);
      built.set(result.name, result.tensor);
      builtAt.set(name, result.name);
      for (const c of result.consumed) consumed.add(c);
      consumed.add(name);
      const count = counts.get(rule.id) ?? { rule, tensors: 0, details: new Set<string>() };
      count.tensors++;
      count.details.add(result.detail);
      counts.set(rule.id, count);
      break;
    }
  }

  const tensors = new Map<string, LogicalTensor>();
  const unsupported: { name: string; dtype: string; reason: string }[] = [];
  // A logical weight takes its anchor's place in layout order.
  for (const [name, descriptor] of layout.tensors) {
    const logical = builtAt.get(name);
    if (logical !== undefined) {
      tensors.set(logical, built.get(logical)!);
      continue;
    }
    if (consumed.has(name) || built.has(name)) continue;
    if (ACTIVATION_SCALE_SUFFIXES.some((s) => name.endsWith(s))) {
      consumed.add(name);
      continue;
    }
    if (isDecodableDType(descriptor.dtype)) tensors.set(name, storedTensor(descriptor));
    else unsupported.push({ name, dtype: descriptor.dtype, reason: unsupportedReason(descriptor.dtype) });
  }

  const quantMethod = typeof quantization?.quant_method === 'string' ? quantization.quant_method : null;
  return {
    layout,
    quantMethod,
    schemes: [...counts.values()].map(({ rule, tensors: n, details }) => ({
      id: rule.id,
      title: rule.title,
      detail: [...details].sort().join(', '),
      tensors: n,
    })),
    tensors,
    consumed: [...consumed],
    unsupported,
    tieWordEmbeddings: config?.tieWordEmbeddings ?? false,
  };
}

function unsupportedReason(dtype: string): string {
  if (dtype.startsWith('F6')) return `${dtype} packing is not defined by safetensors; provcheck cannot decode it`;
  if (dtype === 'BOOL' || /^[IU]\d+$/.test(dtype)) return `integer dtype ${dtype} outside a known quantization scheme`;
  return `dtype ${dtype} cannot be decoded`;
}
