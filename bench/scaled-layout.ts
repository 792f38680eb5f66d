/**
 * A scaled-down Qwen3.5-397B-A17B: the real checkpoint's tensor names, ranks, dtypes and
 * shard assignment (from the layout in shared/data), with widths and the expert count
 * shrunk until one model's files come to a requested size.
 */
import { readFileSync } from 'node:fs';

export interface RealTensor {
  name: string;
  shape: number[];
  dtype: string;
}

export interface RealLayout {
  tensors: RealTensor[];
  shards: { files: { file: string; tensors: string[] }[]; index_file: string };
}

export interface ScaledTensor {
  name: string;
  dtype: 'BF16' | 'F32';
  shape: number[];
  elements: number;
  bytes: number;
  /** Norm weights sit near 1 in real checkpoints; everything else near 0. */
  isNorm: boolean;
}

export interface ScaledShard {
  file: string;
  /** On-disk order: F32 first, then BF16, each sorted by name (as the real shards are). */
  tensors: ScaledTensor[];
  /** The header as written: compact JSON, no metadata, space-padded to a multiple of 8. */
  header: Buffer;
  fileBytes: number;
}

export interface ScaledModel {
  /** Factor applied to every dimension above SMALL_DIM, except the expert axis. */
  widthScale: number;
  experts: number;
  shards: ScaledShard[];
  indexFile: string;
  tensorCount: number;
  elements: number;
  /** Sum of the shard files' sizes (headers included). */
  fileBytes: number;
}

/** Kernel sizes, patch sizes, head counts of 1 and the like keep their real value. */
const SMALL_DIM = 16;
const REAL_EXPERTS = 512;
const MTP_EXPERT = /^mtp\.layers\.\d+\.mlp\.experts\.(\d+)\./;
/** Tensors whose first axis counts routed experts: the fused experts and the router. */
const EXPERT_AXIS = /\.mlp\.(experts\.(gate_up_proj|down_proj)|gate\.weight)$/;
const NORM = /norm[^.]*\.weight$/;
/**
 * A fused gate_up_proj stacks the gate and up projections: its axis 1 is twice the
 * experts' intermediate size, and is scaled as such (the half, then doubled) so that it
 * stays even and equal to twice down_proj's last axis, as in every real checkpoint.
 * Scaled on its own it could come out odd (2048 × 0.067 = 137), and a tensor whose
 * halves cannot be told apart is compared whole, not gate and up expert by expert.
 */
const FUSED_GATE_UP = /\.mlp\.experts\.gate_up_proj$/;

export function readRealLayout(path: string): RealLayout {
  return JSON.parse(readFileSync(path, 'utf8')) as RealLayout;
}

/**
 * The expert count shrinks as the square root of the width scale: slower than widths,
 * so that the per-expert MTP tensors stay numerous (the real model's tensor count is
 * dominated by them) while the fused 3-D experts still hold most of the bytes.
 */
function expertCount(widthScale: number): number {
  return Math.min(REAL_EXPERTS, Math.max(4, Math.round(REAL_EXPERTS * Math.sqrt(widthScale))));
}

function scaleDim(dim: number, widthScale: number): number {
  return dim <= SMALL_DIM ? dim : Math.max(SMALL_DIM, Math.round(dim * widthScale));
}

function scaleTensor(tensor: RealTensor, widthScale: number, experts: number): ScaledTensor | null {
  const mtpExpert = MTP_EXPERT.exec(tensor.name);
  if (mtpExpert && Number(mtpExpert[1]) >= experts) return null;
  if (tensor.dtype !== 'BF16' && tensor.dtype !== 'F32') {
    throw new Error(`scaled layout: ${tensor.name} has dtype ${tensor.dtype}; the generator writes BF16 and F32 only`);
  }
  const shape = tensor.shape.map((dim, axis) => {
    if (axis === 0 && EXPERT_AXIS.test(tensor.name)) return experts;
    if (axis === 1 && FUSED_GATE_UP.test(tensor.name)) return 2 * scaleDim(dim / 2, widthScale);
    return scaleDim(dim, widthScale);
  });
  const elements = shape.reduce((product, dim) => product * dim, 1);
  const bytes = elements * (tensor.dtype === 'F32' ? 4 : 2);
  return { name: tensor.name, dtype: tensor.dtype, shape, elements, bytes, isNorm: NORM.test(tensor.name) };
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function buildShard(file: string, tensors: ScaledTensor[]): ScaledShard {
  const ordered = [...tensors].sort(
    (a, b) => (a.dtype === b.dtype ? byteOrder(a.name, b.name) : a.dtype === 'F32' ? -1 : 1),
  );
  const entries: Record<string, unknown> = {};
  let offset = 0;
  for (const t of ordered) {
    entries[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes] };
    offset += t.bytes;
  }
  let json = JSON.stringify(entries);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const header = Buffer.from(json, 'utf8');
  return { file, tensors: ordered, header, fileBytes: 8 + header.byteLength + offset };
}

/** `experts` defaults to a count that shrinks with the widths; fix it to keep the tensor list. */
export function scaleModel(real: RealLayout, widthScale: number, experts = expertCount(widthScale)): ScaledModel {
  const byName = new Map<string, ScaledTensor>();
  for (const tensor of real.tensors) {
    const scaled = scaleTensor(tensor, widthScale, experts);
    if (scaled) byName.set(scaled.name, scaled);
  }
  const shards: ScaledShard[] = [];
  for (const shard of real.shards.files) {
    const kept = shard.tensors.flatMap((name) => byName.get(name) ?? []);
    if (kept.length > 0) shards.push(buildShard(shard.file, kept));
  }
  let elements = 0;
  for (const t of byName.values()) elements += t.elements;
  return {
    widthScale,
    experts,
    shards,
    indexFile: real.shards.index_file,
    tensorCount: byName.size,
    elements,
    fileBytes: shards.reduce((sum, s) => sum + s.fileBytes, 0),
  };
}

/**
 * The largest scaled model whose files do not exceed `targetBytes` (bisection on the
 * width scale), with `experts` routed experts if given.
 */
export function scaleModelToSize(real: RealLayout, targetBytes: number, experts?: number): ScaledModel {
  let low = 1e-4;
  let high = 1;
  const smallest = scaleModel(real, low, experts);
  if (smallest.fileBytes > targetBytes) {
    throw new Error(`scaled layout: ${targetBytes} bytes is below the smallest model (${smallest.fileBytes} bytes)`);
  }
  for (let i = 0; i < 40; i++) {
    const mid = (low + high) / 2;
    if (scaleModel(real, mid, experts).fileBytes <= targetBytes) low = mid;
    else high = mid;
  }
  return scaleModel(real, low, experts);
}
