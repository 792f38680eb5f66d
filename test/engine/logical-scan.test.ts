import { describe, expect, it } from 'vitest';
import { InProcessEngine } from '../../src/engine/scan-engine.js';
import { effectiveGrid, gridFlags, TensorScanner, type ScanTensor } from '../../src/engine/scan-tensor.js';
import { encode, FLOAT_FORMATS, roundTo, type SupportedFloatDType } from '../../src/format/dtype.js';
import { buildTensor, mapRecipe, mapRecipeNow, scaledTensor, sliceTensor, storedTensor, type TensorRecipe } from '../../src/format/logical-tensor.js';
import { MINIFLOAT_FORMATS, nearestCode } from '../../src/format/minifloat.js';
import { parseSafetensorsHeader } from '../../src/format/safetensors-header.js';
import { MemorySource } from '../../src/source/memory-source.js';
import { serializeSafetensors, type TensorBytes } from '../helpers/safetensors-writer.js';

async function stored(dtype: SupportedFloatDType, values: ArrayLike<number>, name = 't') {
  const bytes = serializeSafetensors([{ name, dtype, shape: [values.length], data: encode(FLOAT_FORMATS[dtype], values) }]);
  return (await parseSafetensorsHeader(new MemorySource(bytes, `${name}.safetensors`), `${name}.safetensors`)).tensors[0]!;
}

/** Parents a few bf16 steps apart and their float32 blend rounded to bf16: the usual merge. */
function bf16Blend(n: number): { a: number[]; b: number[]; s: number[] } {
  const a: number[] = [];
  const b: number[] = [];
  const s: number[] = [];
  for (let i = 0; i < n; i++) {
    const base = 0.02 * Math.sin(i * 1.7 + 0.3);
    const av = roundTo(FLOAT_FORMATS.BF16, base * (1 + 0.02 * Math.cos(i)));
    const bv = roundTo(FLOAT_FORMATS.BF16, base * (1 - 0.03 * Math.sin(i * 0.7)));
    a.push(av);
    b.push(bv);
    s.push(roundTo(FLOAT_FORMATS.BF16, Math.fround(Math.fround(0.4 * av) + Math.fround(0.6 * bv))));
  }
  return { a, b, s };
}

const options = { reference: 0, informativeUlps: 4, chunkElements: 1000 };

describe('the suspect grid', () => {
  it('names every grid all values lie on', () => {
    expect(gridFlags(Float64Array.of(0, -0, 1, 0.5, NaN, Infinity), 6)).toBe(7);
    expect(gridFlags(Float64Array.of(1 + 2 ** -10), 1)).toBe(2 | 4);
    expect(gridFlags(Float64Array.of(2 ** -20), 1)).toBe(7);
    expect(gridFlags(Float64Array.of(2 ** -30), 1)).toBe(1 | 4);
    expect(gridFlags(Float64Array.of(131072), 1)).toBe(1 | 4);
    expect(gridFlags(Float64Array.of(1 + 2 ** -20), 1)).toBe(4);
    expect(gridFlags(Float64Array.of(1 + 2 ** -40), 1)).toBe(0);
  });

  it('takes the coarsest grid finer storage hides', () => {
    expect(effectiveGrid('F32', 7)).toBe('BF16');
    expect(effectiveGrid('F32', 2 | 4)).toBe('F16');
    expect(effectiveGrid('F32', 4)).toBeNull();
    expect(effectiveGrid('F64', 4)).toBe('F32');
    expect(effectiveGrid('BF16', 7)).toBeNull();
  });

  it('gives a bf16 blend saved as F32 exactly the moments of the same blend saved as BF16', async () => {
    const { a, b, s } = bf16Blend(5000);
    const parents = [storedTensor(await stored('BF16', a, 'a')), storedTensor(await stored('BF16', b, 'b'))];
    const asBf16: ScanTensor = { name: 't', suspect: storedTensor(await stored('BF16', s)), parents };
    const asF32: ScanTensor = { name: 't', suspect: storedTensor(await stored('F32', s)), parents, suspectGrid: 'BF16' };
    const scanner = new TensorScanner(2, options);
    expect(await scanner.suspectGrids(asF32)).toBe(7);
    const expected = await scanner.scan(asBf16);
    const actual = await scanner.scan(asF32);
    expect(actual.gram).toEqual(expected.gram);
    expect(actual.floor).toBe(expected.floor);
    expect(actual.informative.count).toBe(expected.informative.count);
    expect(Array.from(actual.profile!.hits)).toEqual(Array.from(expected.profile!.hits));
    // On the F32 grid the same values look ~2^16 times too far from the blend.
    const onStorage = await scanner.scan({ ...asF32, suspectGrid: null });
    expect(onStorage.floor).toBeLessThan(expected.floor / 1e9);
  });
});

describe('scanning logical tensors', () => {
  it('reads an FP8 suspect with block scales as codes × scale, with the code step × scale as its cells', async () => {
    // Parents far apart (FP8's step is 2⁻³ of a value): a 0.4/0.6 blend, not rounded to bf16.
    const a = Array.from({ length: 3000 }, (_, i) => roundTo(FLOAT_FORMATS.BF16, 0.02 * Math.sin(i * 1.7 + 0.3)));
    const b = Array.from({ length: 3000 }, (_, i) => roundTo(FLOAT_FORMATS.BF16, 0.02 * Math.cos(i * 0.9)));
    const s = a.map((v, i) => 0.4 * v + 0.6 * b[i]!);
    const { F8_E4M3 } = MINIFLOAT_FORMATS;
    // Two blocks of 1500 (a 2 × 1500 matrix, one scale per row block of 1).
    const scales = [0.02 / 448, 0.03 / 448].map(Math.fround);
    const codes = Uint8Array.from(s, (v, i) => nearestCode(F8_E4M3, v / scales[i < 1500 ? 0 : 1]!));
    const tensors: TensorBytes[] = [
      { name: 'w.weight', dtype: 'F8_E4M3', shape: [2, 1500], data: codes },
      { name: 'w.weight_scale_inv', dtype: 'F32', shape: [2, 1], data: encode(FLOAT_FORMATS.F32, scales) },
    ];
    const source = new MemorySource(serializeSafetensors(tensors), 'fp8.safetensors');
    const [weight, scale] = (await parseSafetensorsHeader(source, 'fp8.safetensors')).tensors;
    const suspect = scaledTensor({
      name: 'w.weight',
      codes: storedTensor(weight!),
      scales: storedTensor(scale!),
      grid: { batch: 1, rows: 2, cols: 1500, blockRows: 1, blockCols: 1500, sharedAcrossBatch: false },
      encoding: 'fp8',
    });
    const parents = [storedTensor(await stored('BF16', a, 'a')), storedTensor(await stored('BF16', b, 'b'))];
    const values = Float64Array.from(codes, (c, i) => F8_E4M3.values[c]! * scales[i < 1500 ? 0 : 1]!);
    const above = Float64Array.from(codes, (c, i) => F8_E4M3.above[c]! * scales[i < 1500 ? 0 : 1]!);
    const below = Float64Array.from(codes, (c, i) => F8_E4M3.below[c]! * scales[i < 1500 ? 0 : 1]!);
    // The statistics over those values and cells, element by element.
    let floor = 0;
    let informative = 0;
    let de = 0;
    for (let i = 0; i < values.length; i++) {
      const ulp = Math.max(above[i]!, below[i]!);
      floor += (ulp * ulp) / 12;
      const d = b[i]! - a[i]!;
      de += d * (values[i]! - a[i]!);
      if (d !== 0 && Math.abs(d) >= 4 * ulp) informative++;
    }
    const actual = await new TensorScanner(2, options).scan({ name: 'w', suspect, parents });
    expect(actual.informative.count).toBe(informative);
    expect(Math.abs(actual.floor - floor)).toBeLessThanOrEqual(1e-12 * floor);
    expect(Math.abs(actual.gram[1 * 3 + 2]! - de)).toBeLessThanOrEqual(1e-12 * Math.abs(de));
    // The scaled cells decide what is informative: some elements are, some are not.
    expect(informative).toBeGreaterThan(0);
    expect(informative).toBeLessThan(values.length);
  });

  it('sums each parent’s own rounding noise under --floor all', async () => {
    const { a, b, s } = bf16Blend(2000);
    const parents = [storedTensor(await stored('BF16', a, 'a')), storedTensor(await stored('F32', b, 'b'))];
    const tensor: ScanTensor = { name: 't', suspect: storedTensor(await stored('BF16', s)), parents };
    const withCells = await new TensorScanner(2, { ...options, parentCells: true }).scan(tensor);
    const without = await new TensorScanner(2, options).scan(tensor);
    const expectedA = a.reduce((sum, v) => {
      const e = Math.floor(Math.log2(Math.abs(v)));
      const ulp = 2 ** (Math.max(e, -126) - 7);
      return sum + (ulp * ulp) / 12;
    }, 0);
    expect(Math.abs(withCells.parentFloor[0]! - expectedA)).toBeLessThanOrEqual(1e-12 * expectedA);
    expect(withCells.parentFloor[1]!).toBeLessThan(withCells.parentFloor[0]! / 1e8);
    expect(Array.from(without.parentFloor)).toEqual([0, 0]);
    expect(withCells.gram).toEqual(without.gram);
  });

  it('rebuilds a reader from its recipe with other leaves, as a worker does', async () => {
    const { s } = bf16Blend(100);
    const original = storedTensor(await stored('BF16', s));
    const rebuilt = buildTensor(await mapRecipe(original.recipe, (d) => ({ ...d })));
    const x = new Float64Array(100);
    const y = new Float64Array(100);
    await original.read(0, 100, x);
    await rebuilt.read(0, 100, y);
    expect(y).toEqual(x);
    const engine = new InProcessEngine({ parents: 1, reference: 0, informativeUlps: 4, pieceElements: 30 });
    expect(await engine.suspectGrids({ name: 't', suspect: rebuilt, parents: [original] })).toBe(7);
  });

  it('maps slices of one tensor onto one mapped stored tensor with a memo, and each leaf once', async () => {
    const { s } = bf16Blend(100);
    const whole = storedTensor(await stored('BF16', s));
    const [first, second] = [sliceTensor(whole, 0, [50], 'e.0'), sliceTensor(whole, 50, [50], 'e.1')];
    const memo = new WeakMap<TensorRecipe<unknown>, TensorRecipe<{ copy: unknown }>>();
    const wired = [first, second].map((t) => mapRecipeNow(t.recipe, (d) => ({ copy: d }), memo));
    const inner = (r: TensorRecipe<unknown>) => (r.kind === 'slice' ? r.inner : null);
    expect(inner(wired[0]!)).toBe(inner(wired[1]!));
    const apart = [first, second].map((t) => mapRecipeNow(t.recipe, (d) => ({ copy: d })));
    expect(inner(apart[0]!)).not.toBe(inner(apart[1]!));
    expect(inner(apart[0]!)).toEqual(inner(apart[1]!));
    // The asynchronous mapping calls the leaf function once per leaf (codes and scales of
    // one stored tensor here), in recipeLeaves order, and reads the same.
    const stored1 = (leaf: string): TensorRecipe<string> => ({ kind: 'stored', leaf, codes: 'BF16', shape: null, name: leaf });
    const grid = { batch: 1, rows: 1, cols: 1, blockRows: 1, blockCols: 1, sharedAcrossBatch: false };
    const twice: TensorRecipe<string> = { kind: 'scaled', name: 'q', codes: stored1('x'), scales: stored1('x'), grid, global: { tensor: stored1('y'), apply: 'multiply' }, encoding: '' };
    const calls: unknown[] = [];
    const mapped = await mapRecipe(twice, async (d) => (calls.push(d), `${d}'`));
    expect(calls).toEqual(['x', 'y']);
    const relabelled = (leaf: string): TensorRecipe<string> => ({ kind: 'stored', leaf: `${leaf}'`, codes: 'BF16', shape: null, name: leaf });
    expect(mapped).toEqual({ ...twice, codes: relabelled('x'), scales: relabelled('x'), global: { tensor: relabelled('y'), apply: 'multiply' } });
    const rebuilt = buildTensor(await mapRecipe(second.recipe, async (d) => d));
    const x = new Float64Array(50);
    const y = new Float64Array(50);
    await second.read(0, 50, x);
    await rebuilt.read(0, 50, y);
    expect(y).toEqual(x);
  });
});
