/**
 * Writes a benchmark trio for a scaled model: parents A and B, each a base model plus a
 * few bf16 ulps of change in most elements, and a suspect that is the exact blend
 * 0.6·B + 0.4·A rounded once to the stored dtype (what a merge computed in float32 or
 * wider and saved in bf16 gives). Tensors are generated and written chunk by chunk, so
 * memory stays at a few chunks whatever the model size.
 */
import { open, mkdir, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { FLOAT_FORMATS, encode } from '../src/format/dtype.js';
import type { ScaledModel, ScaledTensor } from './scaled-layout.js';

export const BLEND_WEIGHT_A = 0.4;
export const BLEND_WEIGHT_B = 0.6;

export interface Trio {
  suspect: string;
  parentA: string;
  parentB: string;
  /** Every file of the three models (shards and indexes), for the raw-read baseline. */
  files: string[];
  /** Bytes of all three models' files. */
  bytes: number;
  /** Elements of one model (the suspect's). */
  suspectElements: number;
}

const CHUNK_ELEMENTS = 1 << 20;
const WEIGHT_STD = 0.02;

/**
 * Per-element change of a parent from the base, in units of the stored format's last
 * place, drawn from 5 random bits: 1/8 unchanged, most 1–6 ulps either way, and 1/8 a
 * larger 16 or 40 ulps, the heavy tail real fine-tuning leaves. The parents then differ
 * by 4 or more ulps (the statistics page's informative elements) in about half the
 * elements, and the tail pins the blend weight to a narrow range: where parents differ
 * by d ulps, weights within about 0.3/d of the true one reproduce the same bf16 value.
 */
export const ULP_STEPS = Int32Array.from([
  0, 0, 0, 0, 1, -1, 1, -1, 1, -1, 2, -2, 2, -2, 2, -2, 3, -3, 3, -3, 4, -4, 4, -4, 5, -5, 6, -6, 16, -16, 40, -40,
]);
const STEP_BITS = 5;
const STEP_MASK = (1 << STEP_BITS) - 1;

/** Acklam's rational approximation of the standard normal quantile (relative error < 1.2e-9). */
function normalQuantile(p: number): number {
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const tail = (q: number): number =>
    (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
    ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  );
}

/**
 * 65,536 equally likely values of mean + std·N(0,1) (quantiles at (i + ½)/65536): 16
 * random bits index a normal draw. None is near zero, so a few ulps of change never
 * crosses the sign.
 */
function normalTable(mean: number): Float64Array {
  const table = new Float64Array(65536);
  for (let i = 0; i < 65536; i++) table[i] = mean + WEIGHT_STD * normalQuantile((i + 0.5) / 65536);
  return table;
}

interface ValueTables {
  bf16: Uint16Array;
  f32: Float32Array;
}

function valueTables(mean: number): ValueTables {
  const values = normalTable(mean);
  return { bf16: new Uint16Array(encode(FLOAT_FORMATS.BF16, values).buffer), f32: Float32Array.from(values) };
}

const WEIGHT_TABLES = valueTables(0);
const NORM_TABLES = valueTables(1);

// Scratch for reinterpreting float32 bits inside the hot loop without allocating.
const scratchBits = new Uint32Array(1);
const scratchFloat = new Float32Array(scratchBits.buffer);

/**
 * The bf16 code nearest (ties to even) to `exact`. Math.fround then truncation would
 * round twice; the two differ only when the float32 lands exactly on a bf16 midpoint,
 * and there comparing with the unrounded value decides.
 */
function roundToBf16Code(exact: number): number {
  scratchFloat[0] = exact;
  const bits = scratchBits[0]!;
  const rest = bits & 0xffff;
  const code = bits >>> 16;
  if (rest > 0x8000) return code + 1;
  if (rest < 0x8000) return code;
  const excess = Math.abs(exact) - Math.abs(scratchFloat[0]!);
  return excess > 0 || (excess === 0 && (code & 1) === 1) ? code + 1 : code;
}

function bf16Value(code: number): number {
  scratchBits[0] = code << 16;
  return scratchFloat[0]!;
}

/**
 * Within one binade a bf16 value is linear in its code, so when both parents share the
 * base's exponent, the blend in ulps is 0.6·stepB + 0.4·stepA and its rounding depends
 * on the two steps alone. That is (6·stepB + 4·stepA)/10 with an even numerator, never
 * a half, so no rounding is near a tie: a table of code offsets gives the suspect
 * exactly. Across a power of two the slow path rounds the blended value.
 */
const BLEND_STEPS = Int32Array.from({ length: 1 << (2 * STEP_BITS) }, (_, i) =>
  Math.round(BLEND_WEIGHT_B * ULP_STEPS[i & STEP_MASK]! + BLEND_WEIGHT_A * ULP_STEPS[i >>> STEP_BITS]!),
);

/** Fills `n` elements of the three bf16 tensors; returns the advanced generator state. */
function fillBf16(
  state: number,
  n: number,
  base: Uint16Array,
  parentA: Uint16Array,
  parentB: Uint16Array,
  suspect: Uint16Array,
): number {
  let x = state;
  for (let i = 0; i < n; i++) {
    // xorshift32, its output scrambled by a multiply (xorshift*): the low bits of plain
    // xorshift are too regular to draw the ulp steps from.
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const random = Math.imul(x, 0x9e3779bb);
    const baseCode = base[random >>> 16]!;
    const steps = random & 0x3ff;
    const stepA = ULP_STEPS[steps >>> STEP_BITS]!;
    const stepB = ULP_STEPS[steps & STEP_MASK]!;
    const a = baseCode + stepA;
    const b = baseCode + stepB;
    parentA[i] = a;
    parentB[i] = b;
    const fraction = baseCode & 0x7f;
    // Both parents' fractions stay in 0..127 (a negative one sets high bits too).
    const sameBinade = (((fraction + stepA) | (fraction + stepB)) & ~0x7f) === 0;
    suspect[i] = sameBinade
      ? baseCode + BLEND_STEPS[steps]!
      : roundToBf16Code(BLEND_WEIGHT_B * bf16Value(b) + BLEND_WEIGHT_A * bf16Value(a));
  }
  return x;
}

/** The F32 tensors are a few hundred elements in all: clarity over speed. */
function fillF32(state: number, n: number, base: Float32Array, parentA: Float32Array, parentB: Float32Array, suspect: Float32Array): number {
  const baseBits = new Uint32Array(1);
  const baseFloat = new Float32Array(baseBits.buffer);
  let x = state;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const random = Math.imul(x, 0x9e3779bb);
    baseFloat[0] = base[random >>> 16]!;
    const bits = baseBits[0]!;
    baseBits[0] = bits + ULP_STEPS[(random >>> STEP_BITS) & STEP_MASK]!;
    const a = baseFloat[0]!;
    baseBits[0] = bits + ULP_STEPS[random & STEP_MASK]!;
    const b = baseFloat[0]!;
    parentA[i] = a;
    parentB[i] = b;
    suspect[i] = BLEND_WEIGHT_B * b + BLEND_WEIGHT_A * a;
  }
  return x;
}

/** A nonzero xorshift seed per tensor (FNV-1a of the name), so tensors do not repeat each other. */
function seedFor(name: string, seed: number): number {
  let hash = 0x811c9dc5 ^ seed;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193);
  return hash === 0 ? 1 : hash;
}

/** One chunk's worth of the three models' bytes; two sets alternate so generation overlaps writing. */
class ChunkBuffers {
  readonly bytes = [new ArrayBuffer(CHUNK_ELEMENTS * 4), new ArrayBuffer(CHUNK_ELEMENTS * 4), new ArrayBuffer(CHUNK_ELEMENTS * 4)] as const;
}

interface ModelFiles {
  handles: [FileHandle, FileHandle, FileHandle];
}

async function writeAll(files: ModelFiles, chunks: ChunkBuffers, length: number): Promise<void> {
  await Promise.all(files.handles.map((handle, i) => handle.write(new Uint8Array(chunks.bytes[i]!, 0, length))));
}

async function writeTensor(files: ModelFiles, tensor: ScaledTensor, seed: number, buffers: [ChunkBuffers, ChunkBuffers]): Promise<void> {
  const tables = tensor.isNorm ? NORM_TABLES : WEIGHT_TABLES;
  const width = tensor.dtype === 'F32' ? 4 : 2;
  let state = seedFor(tensor.name, seed);
  let pending: Promise<void> = Promise.resolve();
  let turn = 0;
  for (let done = 0; done < tensor.elements; done += CHUNK_ELEMENTS) {
    const n = Math.min(CHUNK_ELEMENTS, tensor.elements - done);
    const chunks = buffers[turn]!;
    const [suspect, parentA, parentB] = chunks.bytes;
    if (width === 2) {
      state = fillBf16(state, n, tables.bf16, new Uint16Array(parentA), new Uint16Array(parentB), new Uint16Array(suspect));
    } else {
      state = fillF32(state, n, tables.f32, new Float32Array(parentA), new Float32Array(parentB), new Float32Array(suspect));
    }
    // A handle's writes must stay in order: the previous chunk finishes before this one starts.
    await pending;
    pending = writeAll(files, chunks, n * width);
    turn ^= 1;
  }
  await pending;
}

/** Writes suspect/, parent-a/ and parent-b/ under `root`; `seed` varies the base model. */
export async function writeTrio(root: string, model: ScaledModel, seed = 1): Promise<Trio> {
  const dirs = [join(root, 'suspect'), join(root, 'parent-a'), join(root, 'parent-b')] as const;
  await Promise.all(dirs.map((dir) => mkdir(dir, { recursive: true })));
  const buffers: [ChunkBuffers, ChunkBuffers] = [new ChunkBuffers(), new ChunkBuffers()];
  const files: string[] = [];
  const weightMap: Record<string, string> = {};
  let payloadBytes = 0;
  for (const shard of model.shards) {
    const paths = dirs.map((dir) => join(dir, shard.file));
    files.push(...paths);
    const handles = (await Promise.all(paths.map((path) => open(path, 'w')))) as [FileHandle, FileHandle, FileHandle];
    try {
      const prefix = Buffer.alloc(8);
      prefix.writeBigUInt64LE(BigInt(shard.header.byteLength));
      await Promise.all(handles.map((handle) => handle.writev([prefix, shard.header])));
      for (const tensor of shard.tensors) {
        await writeTensor({ handles }, tensor, seed, buffers);
        weightMap[tensor.name] = shard.file;
        payloadBytes += tensor.bytes;
      }
    } finally {
      await Promise.all(handles.map((handle) => handle.close()));
    }
  }
  const index = JSON.stringify({ metadata: { total_size: payloadBytes }, weight_map: weightMap }, null, 2) + '\n';
  for (const dir of dirs) {
    await writeFile(join(dir, model.indexFile), index);
    files.push(join(dir, model.indexFile));
  }
  return {
    suspect: dirs[0],
    parentA: dirs[1],
    parentB: dirs[2],
    files,
    bytes: 3 * (model.fileBytes + Buffer.byteLength(index)),
    suspectElements: model.elements,
  };
}
