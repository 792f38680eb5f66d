import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AlignedTensor } from '../../src/align/align-tensors.js';
import { DEFAULT_CHUNK_ELEMENTS, TensorScanner } from '../../src/engine/scan-tensor.js';
import { addMoments, emptyMoments, type TensorMoments } from '../../src/engine/moments.js';
import { fitTensor } from '../../src/fit/tensor-fit.js';
import { decode, encode, FLOAT_FORMATS, roundTo, type SupportedFloatDType } from '../../src/format/dtype.js';
import { parseSafetensorsHeader } from '../../src/format/safetensors-header.js';
import { MemorySource } from '../../src/source/memory-source.js';
import { cellOf, referenceMoments, scaled } from '../helpers/reference-moments.js';
import { serializeSafetensors } from '../helpers/safetensors-writer.js';

/** A one-tensor file in memory, returned as the engine sees it. */
async function tensorOf(name: string, dtype: SupportedFloatDType, values: number[]) {
  const bytes = serializeSafetensors([{ name: 't', dtype, shape: [values.length], data: encode(FLOAT_FORMATS[dtype], values) }]);
  const parsed = await parseSafetensorsHeader(new MemorySource(bytes, name), name);
  return parsed.tensors[0]!;
}

/** Values as stored (rounded to the dtype), as the decoder will return them. */
function stored(dtype: SupportedFloatDType, values: number[]): Float64Array {
  return Float64Array.from(values, (v) => roundTo(FLOAT_FORMATS[dtype], v));
}

function expectMomentsClose(actual: TensorMoments, expected: TensorMoments): void {
  expect(actual.elements).toBe(expected.elements);
  expect(actual.used).toBe(expected.used);
  expect(actual.nonFinite).toBe(expected.nonFinite);
  expect(Array.from(actual.equal)).toEqual(Array.from(expected.equal));
  expect(actual.parentsEqual).toBe(expected.parentsEqual);
  expect(actual.informative.count).toBe(expected.informative.count);
  const close = (a: number, b: number, scale: number) => expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-12 * scale + 1e-300);
  const gramScale = Math.max(...Array.from(expected.gram, Math.abs), 1e-30);
  actual.gram.forEach((v, i) => close(v, expected.gram[i]!, gramScale));
  actual.informative.gram.forEach((v, i) => close(v, expected.informative.gram[i]!, gramScale));
  close(actual.floor, expected.floor, expected.floor);
  close(actual.floorVar, expected.floorVar, expected.floorVar);
  close(actual.informative.floor, expected.informative.floor, expected.floor);
  const { movedGram, largeGram, ...counts } = expected.elementwise;
  expect({ ...actual.elementwise, movedGram: null, largeGram: null }).toEqual({ ...counts, movedGram: null, largeGram: null });
  const elementwiseScale = Math.max(...Array.from(largeGram, Math.abs), 1e-30);
  actual.elementwise.movedGram.forEach((v, i) => close(v, movedGram[i]!, elementwiseScale));
  actual.elementwise.largeGram.forEach((v, i) => close(v, largeGram[i]!, elementwiseScale));
  if (expected.profile) {
    expect(actual.profile).not.toBeNull();
    // Exact, bin for bin: the kernel settles intervals that end exactly on a bin centre
    // (round weights such as 0 and 0.25 are centres) with exact products, as the
    // reference does with rationals.
    expect(Array.from(actual.profile!.hits)).toEqual(Array.from(expected.profile.hits));
  } else {
    expect(actual.profile).toBeNull();
  }
}

/** The value of each code of a format, by the reference decoder. */
function codeValues(dtype: 'BF16' | 'F16' | 'F32', codes: readonly number[]): number[] {
  const stored = dtype === 'F32' ? new Uint32Array(codes) : new Uint16Array(codes);
  const out = new Float64Array(codes.length);
  decode(FLOAT_FORMATS[dtype], new Uint8Array(stored.buffer), out, codes.length);
  return Array.from(out);
}

/**
 * Scans `codes` as the suspect against two parents a few codes away (within the finite
 * codes of the same sign, so that the informative test |d| ≥ 4·ulp falls on both sides
 * of its threshold and the exact-hit intervals are short), in chunks of 61 and whole,
 * and expects the reference's moments: the SIMD kernels take values, ulps and cells from
 * the bits where tables had them, so each binade's edges are checked.
 */
async function expectCodesAsReference(
  dtype: 'BF16' | 'F16' | 'F32',
  codes: readonly number[],
  sign: number,
  largestFinite: number,
  options: { withNaN?: boolean; references?: number[] } = {},
): Promise<void> {
  const moved = (k: (i: number) => number) => codes.map((c, i) => ((c & sign) | Math.max(0, Math.min(largestFinite, (c & (sign - 1)) + k(i)))) >>> 0);
  const finite = codeValues(dtype, codes);
  const a = codeValues(dtype, moved((i) => (i % 7) - 3));
  const b = codeValues(dtype, moved((i) => ((i * 5) % 13) - 6));
  const runs: [number, number[]][] = [[61, finite], [DEFAULT_CHUNK_ELEMENTS, finite]];
  if (options.withNaN) runs.push([61, finite.map((v, i) => (i % 61 === 7 ? NaN : v))]);
  for (const [chunkElements, s] of runs) {
    for (const reference of options.references ?? [0]) {
      const tensor: AlignedTensor = {
        name: 't',
        suspect: await tensorOf('s', dtype, s),
        parents: [await tensorOf('a', dtype, a), await tensorOf('b', dtype, b)],
      };
      const actual = await new TensorScanner(2, { reference, informativeUlps: 4, chunkElements }).scan(tensor);
      const expected = referenceMoments(Float64Array.from(s), [Float64Array.from(a), Float64Array.from(b)], FLOAT_FORMATS[dtype], reference, 4);
      expect(expected.informative.count).toBeGreaterThan(codes.length / 4);
      expect(expected.informative.count).toBeLessThan(codes.length);
      expectMomentsClose(actual, expected);
    }
  }
}

const dtypes: SupportedFloatDType[] = ['BF16', 'F16', 'F32', 'F64'];

describe('TensorScanner', () => {
  it('matches the reference accumulator for any parents, dtypes, chunk sizes and non-finite values', async () => {
    const input = fc.record({
      parents: fc.integer({ min: 1, max: 4 }),
      n: fc.integer({ min: 0, max: 300 }),
      chunk: fc.integer({ min: 1, max: 64 }),
      suspectDtype: fc.constantFrom(...dtypes),
      parentDtype: fc.constantFrom(...dtypes),
      seed: fc.integer({ min: 1, max: 2 ** 30 }),
      ulpScale: fc.constantFrom(0, 1, 3, 40),
      nonFinite: fc.boolean(),
      weight: fc.double({ min: -0.2, max: 1.2, noNaN: true }),
    });
    await fc.assert(
      fc.asyncProperty(input, async (c) => {
        let state = c.seed;
        const random = () => {
          state = (Math.imul(state, 1103515245) + 12345) >>> 0;
          return state / 2 ** 32;
        };
        const base = Array.from({ length: c.n }, () => (random() - 0.5) * 0.1);
        // Parents differ from the base by a few of their own ulps (0 = identical parents).
        const parentValues = Array.from({ length: c.parents }, () =>
          base.map((v) => v + Math.round((random() - 0.5) * 2 * c.ulpScale) * 2 ** -14 * Math.abs(v)),
        );
        const suspectValues = base.map((_, i) => {
          const a = parentValues[0]![i]!;
          const b = (parentValues[1] ?? parentValues[0]!)[i]!;
          return a + c.weight * (b - a);
        });
        if (c.nonFinite && c.n > 3) {
          suspectValues[1] = NaN;
          parentValues[0]![2] = Infinity;
        }
        const suspect = await tensorOf('suspect.safetensors', c.suspectDtype, suspectValues);
        const parents = await Promise.all(parentValues.map((v, j) => tensorOf(`p${j}.safetensors`, c.parentDtype, v)));
        const tensor: AlignedTensor = { name: 't', suspect, parents };
        const reference = c.parents > 1 ? 1 : 0;
        const scanner = new TensorScanner(c.parents, { reference, informativeUlps: 4, chunkElements: c.chunk });
        const actual = await scanner.scan(tensor);
        const expected = referenceMoments(
          stored(c.suspectDtype, suspectValues),
          parentValues.map((v) => stored(c.parentDtype, v)),
          FLOAT_FORMATS[c.suspectDtype],
          reference,
          4,
        );
        expectMomentsClose(actual, expected);
      }),
      { numRuns: 150 },
    );
  });

  it('sums the element-wise evidence of a TIES/DARE-style merge in the first read, whichever kernel reads it', async () => {
    // Half the elements keep the base's bits (dropped deltas), the rest take parent B's
    // change rescaled by 2 (DARE at density 0.5), so kept-base informative elements and
    // the moved Gram's Σd² correction are exercised; a NaN sends one chunk to the checked kernel.
    const n = 3000;
    const base = Array.from({ length: n }, (_, i) => Math.sin(i * 1.3) * 0.02);
    const b = base.map((v, i) => v + Math.cos(i * 7) * 0.002);
    const s = base.map((v, i) => (i % 2 === 0 ? v : v + 2 * (b[i]! - v)));
    s[1234] = NaN;
    for (const [dtype, parentDtype] of [['BF16', 'BF16'], ['F16', 'F16'], ['BF16', 'F32']] as const) {
      for (const reference of [0, 1]) {
        const tensor: AlignedTensor = {
          name: 't',
          suspect: await tensorOf('s', dtype, s),
          parents: [await tensorOf('a', parentDtype, base), await tensorOf('b', parentDtype, b)],
        };
        const actual = await new TensorScanner(2, { reference, informativeUlps: 4, chunkElements: 512 }).scan(tensor);
        const expected = referenceMoments(stored(dtype, s), [stored(parentDtype, base), stored(parentDtype, b)], FLOAT_FORMATS[dtype], reference, 4);
        if (reference === 0 && dtype === parentDtype) expect(expected.elementwise.largeKeptBase).toBeGreaterThan(100);
        expectMomentsClose(actual, expected);
      }
    }
  });

  it('reads every finite BF16 code as the reference does (the SIMD kernel computes values and ulps from the bits)', async () => {
    // Every finite bf16 value as the suspect, in code order (zeros, subnormals, the first
    // binades, powers of two, the largest finite): the kernel derives value and ulp from
    // the code where the tables had them, so each binade's edge is checked once.
    const codes: number[] = [];
    for (let c = 0; c < 0x10000; c++) if (((c >> 7) & 0xff) !== 0xff) codes.push(c);
    await expectCodesAsReference('BF16', codes, 0x8000, 0x7f7f);
  });

  it('reads every finite F16 code as the reference does (the SIMD kernel computes values and ulps from the bits)', async () => {
    // The same for f16: zeros, the subnormals, the smallest normal binade, powers of two, 65504.
    const codes: number[] = [];
    for (let c = 0; c < 0x10000; c++) if ((c & 0x7c00) !== 0x7c00) codes.push(c);
    await expectCodesAsReference('F16', codes, 0x8000, 0x7bff);
  });

  it('reads F32 codes of every binade as the reference does (the SIMD kernel computes values and ulps from the bits)', async () => {
    // Every exponent field (subnormals, the first normal binade, the largest finite), with
    // the fraction 0 (powers of two: the finer side), 1, half, all ones and one more, of
    // both signs; and again with a NaN every 61 elements, so that every chunk of 61 goes
    // to the checked kernel, which also takes values and cells from the bits.
    const codes: number[] = [];
    for (let exponent = 0; exponent < 255; exponent++) {
      for (const fraction of [0, 1, 0x400000, 0x7fffff, (exponent * 2654435761) & 0x7fffff]) {
        codes.push((exponent << 23) | fraction, (0x80000000 | (exponent << 23) | fraction) >>> 0);
      }
    }
    await expectCodesAsReference('F32', codes, 0x80000000, 0x7f7fffff, { withNaN: true, references: [0, 1] });
  });

  it('sends an F16 or F32 chunk holding NaN or ±Infinity anywhere to the checked kernel', async () => {
    // The SIMD kernel's f16 values are finite whatever the code, so it must find these
    // itself: one per chunk, in the suspect or either parent, in the groups of eight or the tail.
    const n = 1000;
    const a = Array.from({ length: n }, (_, i) => 0.02 * Math.sin(i + 1));
    const b = a.map((v, i) => v + 0.0004 * Math.cos(7 * i));
    const s = a.map((v, i) => 0.4 * v + 0.6 * b[i]!);
    // F32 too: there a NaN or an infinity makes a sum not finite, and the F32 checked kernel redoes the chunk.
    for (const dtype of ['F16', 'F32'] as const) {
      for (const [input, at, value] of [[0, 5, NaN], [1, 130, Infinity], [2, 250, -Infinity], [0, 999, NaN]] as const) {
        const values = [s.slice(), a.slice(), b.slice()];
        values[input]![at] = value;
        const tensor: AlignedTensor = {
          name: 't',
          suspect: await tensorOf('s', dtype, values[0]!),
          parents: [await tensorOf('a', dtype, values[1]!), await tensorOf('b', dtype, values[2]!)],
        };
        const actual = await new TensorScanner(2, { reference: 0, informativeUlps: 4, chunkElements: 128 }).scan(tensor);
        const expected = referenceMoments(stored(dtype, values[0]!), [stored(dtype, values[1]!), stored(dtype, values[2]!)], FLOAT_FORMATS[dtype], 0, 4);
        expect(actual.nonFinite).toBe(1);
        expectMomentsClose(actual, expected);
      }
    }
  });

  it('reads every element whatever the read size, even one that is not a whole number of codes', async () => {
    // A read of 66 bytes is 16.5 F32 codes: blocks are whole codes, not fractions of them.
    const a = Array.from({ length: 100 }, (_, i) => 0.02 * Math.sin(i + 1));
    const b = a.map((v, i) => v + 0.001 * Math.cos(3 * i));
    const s = a.map((v, i) => 0.4 * v + 0.6 * b[i]!);
    for (const [dtype, readBytes] of [['F32', 66], ['F32', 70], ['BF16', 67], ['F16', 65]] as const) {
      const tensor: AlignedTensor = {
        name: 't',
        suspect: await tensorOf('s', dtype, s),
        parents: [await tensorOf('a', dtype, a), await tensorOf('b', dtype, b)],
      };
      const actual = await new TensorScanner(2, { reference: 0, informativeUlps: 4, chunkElements: 8, readBytes }).scan(tensor);
      const expected = referenceMoments(stored(dtype, s), [stored(dtype, a), stored(dtype, b)], FLOAT_FORMATS[dtype], 0, 4);
      expect([actual.used, actual.nonFinite]).toEqual([100, 0]);
      expectMomentsClose(actual, expected);
    }
  });

  it('counts equal values exactly in a BF16 chunk longer than the kernel counts on 16-bit lanes', async () => {
    // 400,000 elements in one chunk: 50,000 per count lane, past an i16's 32,767. Most
    // elements are equal somewhere (parents equal, suspect equal to A, +0 against −0),
    // so every count is large; one element in 5 is informative.
    const n = 400_000;
    const a = Array.from({ length: n }, (_, i) => (i % 97 === 0 ? (i % 2 === 0 ? 0 : -0) : 0.02 * Math.sin(i)));
    const b = a.map((v, i) => (i % 5 === 0 ? v * (1 + 2 ** -5) : i % 97 === 0 ? 0 : v));
    const s = a.map((v, i) => (i % 3 === 0 ? b[i]! : v));
    const tensor: AlignedTensor = {
      name: 't',
      suspect: await tensorOf('s', 'BF16', s),
      parents: [await tensorOf('a', 'BF16', a), await tensorOf('b', 'BF16', b)],
    };
    const actual = await new TensorScanner(2, { reference: 0, informativeUlps: 4, chunkElements: 1 << 19, readBytes: 1 << 21 }).scan(tensor);
    const expected = referenceMoments(stored('BF16', s), [stored('BF16', a), stored('BF16', b)], FLOAT_FORMATS.BF16, 0, 4);
    expect(expected.equal[0]).toBeGreaterThan(8 * 32_768);
    expect(expected.parentsEqual).toBeGreaterThan(8 * 32_768);
    expectMomentsClose(actual, expected);
  });

  it('fits a scan whose profile range is empty as it fits the same moments taken whole', async () => {
    // s = 2·B − A lies outside the parents: no informative element's interval reaches a
    // bin of [−0.5, 1.5], so the kernel touches no bin and the scan's range is empty.
    const n = 200;
    const a = Array.from({ length: n }, (_, i) => 0.02 * Math.sin(i + 1));
    const b = a.map((v, i) => v + 0.004 * Math.cos(7 * i));
    const tensor: AlignedTensor = {
      name: 't',
      suspect: await tensorOf('s', 'BF16', b.map((v, i) => 2 * v - a[i]!)),
      parents: [await tensorOf('a', 'BF16', a), await tensorOf('b', 'BF16', b)],
    };
    const scanned = await new TensorScanner(2, { reference: 0, informativeUlps: 4, chunkElements: 64 }).scan(tensor);
    expect(scanned.informative.count).toBeGreaterThan(0);
    expect(scanned.profile!.first).toBe(scanned.profile!.end);
    const whole = emptyMoments(2, 0);
    addMoments(whole, scanned);
    expect(fitTensor(scanned)).toEqual(fitTensor(whole));
    expect(fitTensor(scanned).profile!.hitShare).toBe(0);
  });

  it('gives the same moments from recycled moments as from fresh ones', async () => {
    const n = 700;
    const a = Array.from({ length: n }, (_, i) => Math.sin(i) * 0.02);
    const b = a.map((v, i) => v + Math.cos(i * 7) * 0.002);
    const tensorOfWeight = async (w: number): Promise<AlignedTensor> => ({
      name: 't',
      suspect: await tensorOf('s', 'BF16', a.map((v, i) => (1 - w) * v + w * b[i]!)),
      parents: [await tensorOf('a', 'BF16', a), await tensorOf('b', 'BF16', b)],
    });
    for (const chunkElements of [64, DEFAULT_CHUNK_ELEMENTS]) {
      const reused = new TensorScanner(2, { reference: 0, informativeUlps: 4, chunkElements });
      reused.recycle(await reused.scan(await tensorOfWeight(0.3)));
      const again = await reused.scan(await tensorOfWeight(0.7));
      const fresh = await new TensorScanner(2, { reference: 0, informativeUlps: 4, chunkElements }).scan(await tensorOfWeight(0.7));
      expect(again).toEqual(fresh);
    }
  });

  it('leaves nothing of a scan whose read failed midway in the next scan', async () => {
    const n = 2000;
    const a = Array.from({ length: n }, (_, i) => Math.sin(i) * 0.02);
    const b = a.map((v, i) => v + Math.cos(i * 7) * 0.002);
    const s = a.map((v, i) => 0.6 * v + 0.4 * b[i]!);
    /** A file in memory whose reads fail from the `failFrom`-th on. */
    class FailingSource extends MemorySource {
      reads = 0;
      failFrom = Infinity;
      override read(start: number, end: number, into?: Uint8Array): Promise<Uint8Array> {
        if (++this.reads >= this.failFrom) return Promise.reject(new Error('disk gone'));
        return super.read(start, end, into);
      }
    }
    const source = new FailingSource(serializeSafetensors([{ name: 't', dtype: 'BF16', shape: [n], data: encode(FLOAT_FORMATS.BF16, s) }]), 's');
    const failing = (await parseSafetensorsHeader(source, 's')).tensors[0]!;
    const parents = [await tensorOf('a', 'BF16', a), await tensorOf('b', 'BF16', b)];
    // 256 elements a block: the second block's read fails after the first block's
    // intervals are in the scanner's difference array.
    const options = { reference: 0, informativeUlps: 4, chunkElements: 64, readBytes: 512 };
    source.failFrom = source.reads + 2;
    const scanner = new TensorScanner(2, options);
    await expect(scanner.scan({ name: 't', suspect: failing, parents })).rejects.toThrow('disk gone');
    const good: AlignedTensor = { name: 't', suspect: await tensorOf('s', 'BF16', s), parents };
    const fresh = await new TensorScanner(2, options).scan(good);
    expect(fresh.profile!.hits.some((h) => h > 0)).toBe(true);
    expect(await scanner.scan(good)).toEqual(fresh);
  });

  it('gives the same moments whole as split into element ranges and added', async () => {
    const n = 1000;
    const a = Array.from({ length: n }, (_, i) => Math.sin(i) * 0.02);
    const b = a.map((v, i) => v + Math.cos(i * 7) * 0.002);
    const s = a.map((v, i) => 0.4 * v + 0.6 * b[i]!);
    const whole = await new TensorScanner(2, { reference: 0, informativeUlps: 4, chunkElements: DEFAULT_CHUNK_ELEMENTS }).scan({
      name: 't',
      suspect: await tensorOf('s', 'BF16', s),
      parents: [await tensorOf('a', 'BF16', a), await tensorOf('b', 'BF16', b)],
    });
    const sum = emptyMoments(2, 0);
    for (const [from, to] of [[0, 333], [333, 334], [334, 1000]] as const) {
      const part = await new TensorScanner(2, { reference: 0, informativeUlps: 4, chunkElements: 50 }).scan({
        name: 't',
        suspect: await tensorOf('s', 'BF16', s.slice(from, to)),
        parents: [await tensorOf('a', 'BF16', a.slice(from, to)), await tensorOf('b', 'BF16', b.slice(from, to))],
      });
      addMoments(sum, part);
    }
    expectMomentsClose(sum, whole);
  });

  it('counts the elements a blend reproduces bit for bit, as the recipe pass counts them', async () => {
    const n = 500;
    const a = Array.from({ length: n }, (_, i) => Math.sin(i + 1) * 0.02);
    const b = a.map((v, i) => v + Math.cos(i * 3) * 0.004);
    const c = a.map((v, i) => v - Math.sin(i * 5) * 0.004);
    const weights = [0.5, 0.3, 0.2];
    const [sa, sb, sc] = [a, b, c].map((v) => Array.from(stored('BF16', v)));
    const s = sa!.map((v, i) => Math.fround(weights[0]! * v + weights[1]! * sb![i]! + weights[2]! * sc![i]!));
    const scanner = new TensorScanner(3, { reference: 0, informativeUlps: 4, chunkElements: 64 });
    const tensor: AlignedTensor = {
      name: 't',
      suspect: await tensorOf('s', 'BF16', s),
      parents: [await tensorOf('a', 'BF16', sa!), await tensorOf('b', 'BF16', sb!), await tensorOf('c', 'BF16', sc!)],
    };
    const atWeights = await scanner.countReproduced(tensor, weights);
    expect(atWeights.informative).toBe(n);
    // The suspect was computed in float32, then rounded to bf16: twice rounded, like a
    // merge tool's float32 blend saved as bf16. In exact rational arithmetic 481 of the
    // 500 blends lie in their suspect value's cell (closed); the other 19 were pushed onto
    // a bf16 tie by the float32 rounding and lie just beyond it, by less than float64
    // arithmetic on the values resolves, so a few of them still count.
    expect(exactlyInCell(sa!, [sb!, sc!], weights, s.map((v) => roundTo(FLOAT_FORMATS.BF16, v)))).toBe(481);
    expect(atWeights.reproduced).toBe(494);
    // The same test, the same arithmetic, as the recipe pass (which counts it when it
    // runs; countReproduced only under --no-recipes): one number whichever ran.
    const pass = await scanner.recipes(
      tensor,
      { reference: 0, informativeUlps: 4, weights, recipes: [], replayDtype: null, replayElements: 0, residual: true },
      { from: 0, to: n },
    );
    expect({ informative: pass.informative, reproduced: pass.reproduced }).toEqual(atWeights);
    const wrong = await scanner.countReproduced(tensor, [0.2, 0.3, 0.5]);
    expect(wrong.informative).toBe(atWeights.informative);
    expect(wrong.reproduced).toBeLessThan(atWeights.informative * 0.2);
  });
});

/**
 * How many blends w_0·r + Σ w_j·p_j (j ≥ 1; r = p_0) lie in their bf16 suspect value's
 * closed rounding cell (cellOf), in exact arithmetic: every double is a dyadic rational,
 * an exact integer once scaled (scaled: ×2^K), so a product of two is scaled by 2^2K.
 */
function exactlyInCell(r: readonly number[], others: readonly (readonly number[])[], weights: readonly number[], suspect: readonly number[]): number {
  const unit = scaled(1);
  let inside = 0;
  for (let i = 0; i < suspect.length; i++) {
    const s = suspect[i]!;
    const { below, above } = cellOf(FLOAT_FORMATS.BF16, s);
    let blend = scaled(weights[0]!) * scaled(r[i]!);
    others.forEach((p, j) => (blend += scaled(weights[j + 1]!) * scaled(p[i]!)));
    // 2·blend against 2·s ∓ the cell's sides, all at 2^2K.
    const low = (2n * scaled(s) - scaled(below)) * unit;
    const high = (2n * scaled(s) + scaled(above)) * unit;
    if (2n * blend >= low && 2n * blend <= high) inside++;
  }
  return inside;
}
