import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeWithCell, encode, FLOAT_FORMATS } from '../../src/format/dtype.js';
import {
  scaledTensor,
  sliceTensor,
  storedTensor,
  transposedTensor,
  type LogicalTensor,
  type ScaleGrid,
} from '../../src/format/logical-tensor.js';
import { MINIFLOAT_FORMATS, nearestCode } from '../../src/format/minifloat.js';
import type { TensorDescriptor } from '../../src/format/model-layout.js';
import { parseSafetensorsHeader } from '../../src/format/safetensors-header.js';
import { MemorySource } from '../../src/source/memory-source.js';
import { serializeSafetensors, type TensorBytes } from '../helpers/safetensors-writer.js';
import { randomFor } from '../../scripts/fixture-lib/random.js';

const { F8_E4M3, F8_E8M0, F4 } = MINIFLOAT_FORMATS;

async function descriptors(tensors: TensorBytes[]): Promise<Map<string, TensorDescriptor>> {
  const source = new MemorySource(serializeSafetensors(tensors), 'test.safetensors');
  const parsed = await parseSafetensorsHeader(source, 'test.safetensors');
  return new Map(parsed.tensors.map((t) => [t.name, t]));
}

function normals(label: string, n: number, scale = 1): Float64Array {
  const values = randomFor(label).fillNormal(new Float64Array(n));
  for (let i = 0; i < n; i++) values[i] = values[i]! * scale;
  return values;
}

function e4m3Codes(values: ArrayLike<number>): Uint8Array {
  return Uint8Array.from(Array.from(values, (v) => nearestCode(F8_E4M3, v)));
}

interface Decoded {
  values: Float64Array;
  above: Float64Array;
  below: Float64Array;
}

async function readAll(tensor: LogicalTensor): Promise<Decoded> {
  const n = tensor.elements;
  const d = { values: new Float64Array(n), above: new Float64Array(n), below: new Float64Array(n) };
  await tensor.read(0, n, d.values, d.above, d.below);
  return d;
}

/** Reads [first, first + count) and checks it against `expected`, bit for bit. */
async function expectRange(tensor: LogicalTensor, expected: Decoded, first: number, count: number): Promise<void> {
  const out = new Float64Array(count);
  const above = new Float64Array(count);
  const below = new Float64Array(count);
  await tensor.read(first, count, out, above, below);
  expect([...out]).toEqual([...expected.values.subarray(first, first + count)]);
  expect([...above]).toEqual([...expected.above.subarray(first, first + count)]);
  expect([...below]).toEqual([...expected.below.subarray(first, first + count)]);
}

const ranges = (n: number) =>
  fc.tuple(fc.nat({ max: n - 1 }), fc.nat({ max: n })).map(([first, count]) => [first, Math.min(count, n - first)] as const);

describe('storedTensor', () => {
  it('reads BF16 like decodeWithCell, over any range', async () => {
    const values = normals('bf16', 300, 0.02);
    const data = encode(FLOAT_FORMATS.BF16, values);
    const d = (await descriptors([{ name: 'w', dtype: 'BF16', shape: [10, 30], data }])).get('w')!;
    const expected = { values: new Float64Array(300), above: new Float64Array(300), below: new Float64Array(300) };
    decodeWithCell(FLOAT_FORMATS.BF16, data, expected.values, expected.above, expected.below, 300);
    const tensor = storedTensor(d);
    expect([tensor.shape, tensor.encoding, tensor.storedBytes]).toEqual([[10, 30], 'BF16', 600]);
    await fc.assert(fc.asyncProperty(ranges(300), ([first, count]) => expectRange(tensor, expected, first, count)), { numRuns: 40 });
  });

  it('reads many tensors at once, each into its own scratch, when the bytes arrive late and out of order', async () => {
    // Readers share one pool of scratch buffers: a buffer is lent for a read and taken
    // back only once it has decoded. This source writes the bytes into the buffer after a
    // delay and resolves after another, both differing per read, as a thread pool read
    // may: another read's bytes land in a buffer lent twice before its reader decodes.
    const n = 40;
    const tensors = Array.from({ length: n }, (_, t) => ({ name: `w${t}`, values: normals(`late-${t}`, 50 + 37 * t, 0.02) }));
    const serialized = serializeSafetensors(tensors.map((t) => ({ name: t.name, dtype: 'F32', shape: [t.values.length], data: encode(FLOAT_FORMATS.F32, t.values) })));
    const memory = new MemorySource(serialized, 'late.safetensors');
    let reads = 0;
    const late = {
      name: memory.name,
      size: memory.size,
      read: async (start: number, end: number, into?: Uint8Array): Promise<Uint8Array> => {
        const bytes = await memory.read(start, end);
        const read = reads++;
        await new Promise((resolve) => setTimeout(resolve, (read * 7) % 13));
        const target = into ? into.subarray(0, end - start) : new Uint8Array(end - start);
        target.set(bytes);
        await new Promise((resolve) => setTimeout(resolve, (read * 5) % 11));
        return target;
      },
      close: () => Promise.resolve(),
    };
    const parsed = await parseSafetensorsHeader(late, 'late.safetensors');
    const outs = await Promise.all(
      parsed.tensors.map(async (descriptor) => {
        const out = new Float64Array(descriptor.elements);
        await storedTensor(descriptor).read(0, descriptor.elements, out);
        return [descriptor.name, out] as const;
      }),
    );
    for (const [name, out] of outs) {
      const expected = tensors.find((t) => t.name === name)!.values.map((v) => Math.fround(v));
      expect([...out]).toEqual([...expected]);
    }
  });

  it('reads F8_E4M3 codes through the table', async () => {
    const codes = Uint8Array.from([0x00, 0x38, 0x7e, 0xb8, 0x7f]);
    const d = (await descriptors([{ name: 'w', dtype: 'F8_E4M3', shape: [5], data: codes }])).get('w')!;
    const all = await readAll(storedTensor(d));
    expect([...all.values].slice(0, 4)).toEqual([0, 1, 448, -1]);
    expect(Number.isNaN(all.values[4]!)).toBe(true);
    expect([...all.above].slice(0, 4)).toEqual([2 ** -9, 0.125, 32, 0.0625]);
  });

  it('reads U8 as packed F4 pairs (low nibble first), with a doubled last dimension, from odd offsets', async () => {
    const data = Uint8Array.from([0x21, 0x7f, 0x90, 0x35]); // codes 1 2 | 15 7 | 0 9 | 5 3
    const d = (await descriptors([{ name: 'w', dtype: 'U8', shape: [2, 2], data }])).get('w')!;
    const tensor = storedTensor(d, { codes: 'F4' });
    expect(tensor.shape).toEqual([2, 4]);
    const out = new Float64Array(5);
    await tensor.read(1, 5, out);
    expect([...out]).toEqual([1, -6, 6, 0, -0.5]);
  });

  it('reads U8 as E8M0 scales', async () => {
    const d = (await descriptors([{ name: 's', dtype: 'U8', shape: [3], data: Uint8Array.from([127, 120, 130]) }])).get('s')!;
    const out = new Float64Array(3);
    await storedTensor(d, { codes: 'F8_E8M0' }).read(0, 3, out);
    expect([...out]).toEqual([1, 2 ** -7, 8]);
  });

  it('refuses bytes that cannot hold the shape, naming the tensor', async () => {
    const d = (await descriptors([{ name: 'w', dtype: 'U8', shape: [3], data: new Uint8Array(3) }])).get('w')!;
    expect(() => storedTensor(d, { codes: 'F4', shape: [7] })).toThrow(/test\.safetensors: tensor w: 3 bytes cannot hold \[7\] F4/);
    expect(() => storedTensor(d, { codes: 'F6_E2M3' })).toThrow(/cannot be decoded/);
  });

  it('refuses overlapping reads and reads outside the tensor', async () => {
    const d = (await descriptors([{ name: 'w', dtype: 'F32', shape: [4], data: new Uint8Array(16) }])).get('w')!;
    const tensor = storedTensor(d);
    const first = tensor.read(0, 2, new Float64Array(2));
    await expect(tensor.read(2, 2, new Float64Array(2))).rejects.toThrow(/overlapping reads/);
    await first;
    expect(() => tensor.read(3, 2, new Float64Array(2))).toThrow(RangeError);
  });
});

/** The reference: every element dequantized on its own, by the definition. */
function referenceScaled(codes: Decoded, scales: Float64Array, grid: ScaleGrid, factor: number): Decoded {
  const n = codes.values.length;
  const out = { values: new Float64Array(n), above: new Float64Array(n), below: new Float64Array(n) };
  const sr = Math.ceil(grid.rows / grid.blockRows);
  const sc = Math.ceil(grid.cols / grid.blockCols);
  for (let i = 0; i < n; i++) {
    const b = Math.floor(i / (grid.rows * grid.cols));
    const r = Math.floor((i % (grid.rows * grid.cols)) / grid.cols);
    const c = i % grid.cols;
    const at = (grid.sharedAcrossBatch ? 0 : b * sr * sc) + Math.floor(r / grid.blockRows) * sc + Math.floor(c / grid.blockCols);
    const s = scales[at]! * factor;
    out.values[i] = codes.values[i]! * s;
    out.above[i] = (s < 0 ? codes.below[i]! : codes.above[i]!) * Math.abs(s);
    out.below[i] = (s < 0 ? codes.above[i]! : codes.below[i]!) * Math.abs(s);
  }
  return out;
}

describe('scaledTensor', () => {
  const batch = 3;
  const rows = 37;
  const cols = 50;
  const n = batch * rows * cols;

  async function build(grid: ScaleGrid, scaleValues: Float64Array, global?: { value: number; apply: 'multiply' | 'divide' }) {
    const codes = e4m3Codes(normals('codes', n, 100));
    const tensors: TensorBytes[] = [
      { name: 'w', dtype: 'F8_E4M3', shape: [batch, rows, cols], data: codes },
      { name: 's', dtype: 'F32', shape: [scaleValues.length], data: encode(FLOAT_FORMATS.F32, scaleValues) },
    ];
    if (global) tensors.push({ name: 'g', dtype: 'F32', shape: [], data: encode(FLOAT_FORMATS.F32, [global.value]) });
    const d = await descriptors(tensors);
    const codeTensor = storedTensor(d.get('w')!);
    const decodedCodes = await readAll(codeTensor);
    const tensor = scaledTensor({
      name: 'w',
      codes: codeTensor,
      scales: storedTensor(d.get('s')!),
      grid,
      ...(global ? { global: { tensor: storedTensor(d.get('g')!), apply: global.apply } } : {}),
      encoding: 'test',
    });
    const factor = global ? (global.apply === 'multiply' ? global.value : 1 / global.value) : 1;
    return { tensor, expected: referenceScaled(decodedCodes, Float64Array.from(scaleValues, (v) => Math.fround(v)), grid, factor) };
  }

  const cases: { title: string; grid: ScaleGrid; global?: { value: number; apply: 'multiply' | 'divide' } }[] = [
    { title: 'per block, ragged edge blocks', grid: { batch, rows, cols, blockRows: 16, blockCols: 16, sharedAcrossBatch: false } },
    { title: 'per channel', grid: { batch, rows, cols, blockRows: 1, blockCols: cols, sharedAcrossBatch: false } },
    { title: 'per group of 10, with a global divisor', grid: { batch, rows, cols, blockRows: 1, blockCols: 10, sharedAcrossBatch: false }, global: { value: 3, apply: 'divide' } },
    { title: 'per group, with a global multiplier', grid: { batch, rows, cols, blockRows: 1, blockCols: 25, sharedAcrossBatch: false }, global: { value: 0.75, apply: 'multiply' } },
    { title: 'one scale for the whole batch', grid: { batch, rows, cols, blockRows: rows, blockCols: cols, sharedAcrossBatch: true } },
  ];
  for (const { title, grid, global } of cases) {
    it(`dequantizes ${title} as the definition does, over any range`, async () => {
      const scaleCount = (grid.sharedAcrossBatch ? 1 : batch) * Math.ceil(rows / grid.blockRows) * Math.ceil(cols / grid.blockCols);
      // Mixed signs and magnitudes, so a wrong block or a missed swap shows.
      const scales = Float64Array.from(normals(`scales-${title}`, scaleCount), (v) => v * 1e-3);
      const { tensor, expected } = await build(grid, scales, global);
      await expectRange(tensor, expected, 0, n);
      await fc.assert(fc.asyncProperty(ranges(n), ([first, count]) => expectRange(tensor, expected, first, count)), { numRuns: 30 });
    });
  }

  it('gives a code ulp times the block scale as the cell (the floor of an FP8 suspect)', async () => {
    const d = await descriptors([
      { name: 'w', dtype: 'F8_E4M3', shape: [1, 2], data: Uint8Array.from([0x38, 0x30]) }, // 1.0, 0.5
      { name: 's', dtype: 'F32', shape: [1, 1], data: encode(FLOAT_FORMATS.F32, [0.25]) },
    ]);
    const tensor = scaledTensor({
      name: 'w',
      codes: storedTensor(d.get('w')!),
      scales: storedTensor(d.get('s')!),
      grid: { batch: 1, rows: 1, cols: 2, blockRows: 128, blockCols: 128, sharedAcrossBatch: false },
      encoding: 'test',
    });
    const all = await readAll(tensor);
    expect([...all.values]).toEqual([0.25, 0.125]);
    expect([...all.above]).toEqual([0.125 * 0.25, 0.0625 * 0.25]);
    expect([...all.below]).toEqual([0.0625 * 0.25, 0.03125 * 0.25]);
  });

  it('refuses a scale tensor of the wrong size', async () => {
    const d = await descriptors([
      { name: 'w', dtype: 'F8_E4M3', shape: [4, 4], data: new Uint8Array(16) },
      { name: 's', dtype: 'F32', shape: [3], data: new Uint8Array(12) },
    ]);
    expect(() =>
      scaledTensor({
        name: 'w',
        codes: storedTensor(d.get('w')!),
        scales: storedTensor(d.get('s')!),
        grid: { batch: 1, rows: 4, cols: 4, blockRows: 2, blockCols: 2, sharedAcrossBatch: false },
        encoding: 'test',
      }),
    ).toThrow(/needs 4 scales, s has 3/);
  });

  it('reads MXFP4: packed F4 codes times E8M0 scales per 32', async () => {
    const codesPerRow = 64;
    const codes = new Uint8Array(2 * (codesPerRow / 2));
    for (let i = 0; i < codes.length; i++) codes[i] = (i * 37 + 11) & 0xff;
    const d = await descriptors([
      { name: 'b', dtype: 'U8', shape: [2, 2, 16], data: codes },
      { name: 's', dtype: 'U8', shape: [2, 2], data: Uint8Array.from([127, 128, 126, 130]) },
    ]);
    const tensor = scaledTensor({
      name: 'w',
      codes: storedTensor(d.get('b')!, { codes: 'F4', shape: [2, codesPerRow] }),
      scales: storedTensor(d.get('s')!, { codes: 'F8_E8M0' }),
      grid: { batch: 1, rows: 2, cols: codesPerRow, blockRows: 1, blockCols: 32, sharedAcrossBatch: false },
      encoding: 'test',
    });
    const all = await readAll(tensor);
    const scale = [1, 2, 0.5, 8];
    for (let i = 0; i < 2 * codesPerRow; i++) {
      const byte = codes[i >> 1]!;
      const code = i & 1 ? byte >> 4 : byte & 0x0f;
      expect(all.values[i]).toBe(F4.values[code]! * scale[Math.floor(i / 32)]!);
      expect(all.above[i]).toBe(F4.above[code]! * scale[Math.floor(i / 32)]!);
    }
    expect(F8_E8M0.values[130]).toBe(8);
  });
});

describe('sliceTensor and transposedTensor', () => {
  async function plain(shape: number[], label: string): Promise<{ tensor: LogicalTensor; all: Decoded }> {
    const n = shape.reduce((a, b) => a * b, 1);
    const d = await descriptors([{ name: label, dtype: 'BF16', shape, data: encode(FLOAT_FORMATS.BF16, normals(label, n)) }]);
    const tensor = storedTensor(d.get(label)!);
    return { tensor, all: await readAll(tensor) };
  }

  it('reads one expert of a fused tensor as its own tensor', async () => {
    const { tensor, all } = await plain([4, 6, 5], 'fused');
    const expert2 = sliceTensor(tensor, 2 * 30, [6, 5], 'experts.2');
    const expected = {
      values: all.values.slice(60, 90),
      above: all.above.slice(60, 90),
      below: all.below.slice(60, 90),
    };
    await expectRange(expert2, expected, 0, 30);
    await expectRange(expert2, expected, 7, 11);
    await expect(expert2.read(25, 6, new Float64Array(6))).rejects.toThrow(RangeError);
    expect(() => sliceTensor(tensor, 100, [6, 5], 'x')).toThrow(RangeError);
  });

  for (const bandElements of [7, 40, 1 << 20]) {
    it(`transposes each batch matrix, bounded by a band of ${bandElements} elements`, async () => {
      const [batch, rows, cols] = [3, 9, 13];
      const { tensor, all } = await plain([batch, rows, cols], `t${bandElements}`);
      const transposed = transposedTensor(tensor, 'transposed', bandElements);
      expect(transposed.shape).toEqual([batch, cols, rows]);
      const n = batch * rows * cols;
      const expected = { values: new Float64Array(n), above: new Float64Array(n), below: new Float64Array(n) };
      for (let b = 0; b < batch; b++) {
        for (let r = 0; r < rows; r++) {
          for (let c = 0; c < cols; c++) {
            const from = b * rows * cols + r * cols + c;
            const to = b * rows * cols + c * rows + r;
            expected.values[to] = all.values[from]!;
            expected.above[to] = all.above[from]!;
            expected.below[to] = all.below[from]!;
          }
        }
      }
      await expectRange(transposed, expected, 0, n);
      await fc.assert(fc.asyncProperty(ranges(n), ([first, count]) => expectRange(transposed, expected, first, count)), { numRuns: 30 });
    });
  }
});
