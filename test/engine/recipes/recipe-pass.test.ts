import { describe, expect, it } from 'vitest';
import { encode, FLOAT_FORMATS } from '../../../src/format/dtype.js';
import { storedTensor } from '../../../src/format/logical-tensor.js';
import type { TensorDescriptor } from '../../../src/format/model-layout.js';
import { parseSafetensorsHeader } from '../../../src/format/safetensors-header.js';
import { MemorySource } from '../../../src/source/memory-source.js';
import { serializeSafetensors } from '../../helpers/safetensors-writer.js';
import { compileRecipe, replayRecipe, type MergeRecipe } from '../../../src/engine/recipes/merge-arithmetic.js';
import { addRecipePassResults, emptyRecipePassResult, recipePass, RecipePassScratch, type RecipePassInput, type RecipePassRequest } from '../../../src/engine/recipes/recipe-pass.js';
import { fineTunes } from '../../fit/synthetic.js';
import { cellsOf, inMemoryTensor as inMemory } from './cells.js';

const F32 = FLOAT_FORMATS.F32;
const BF16 = FLOAT_FORMATS.BF16;

describe('recipePass', () => {
  it('measures the residual of an F32 blend of far-apart parents directly, where the Gram formula cancels', async () => {
    // Parents 40 bf16 steps apart, stored as F32; the suspect a float32 blend: its residual
    // is float32 rounding, ~1e-15 of ‖e‖², far below what ‖e‖² − 2βᵀDᵀe + βᵀDᵀDβ resolves.
    const parents = fineTunes(BF16, 32, 64, 2, 40, 9);
    const suspect = new Float64Array(parents[0]!.length);
    replayRecipe(compileRecipe({ weights: [0.3, 0.7], arithmetic: 'float32', normalise: false }, F32), parents, suspect.length, suspect);
    const result = await recipePass(
      { suspect: inMemory(suspect, F32), parents: parents.map((p) => inMemory(p, F32)) },
      { reference: 0, informativeUlps: 4, weights: [0.3, 0.7], recipes: [], replayDtype: 'F32', replayElements: 0, residual: true },
      0,
      suspect.length,
      new RecipePassScratch(2, 500),
    );
    let expected = 0;
    for (let i = 0; i < suspect.length; i++) expected += (suspect[i]! - (0.3 * parents[0]![i]! + 0.7 * parents[1]![i]!)) ** 2;
    expect(result.used).toBe(suspect.length);
    expect(result.rss!).toBeGreaterThan(0);
    expect(result.rss! / expected).toBeCloseTo(1, 6);
  });

  it('replays the recipes over the first replayElements only, and reads no further without a residual to measure', async () => {
    const parents = fineTunes(BF16, 32, 64, 2, 8, 10);
    const recipe: MergeRecipe = { weights: [0.4, 0.6], arithmetic: 'torch-in-dtype', normalise: true };
    const suspect = new Float64Array(parents[0]!.length);
    replayRecipe(compileRecipe(recipe, BF16), parents, suspect.length, suspect);
    let reads = 0;
    const counted = (t: ReturnType<typeof inMemory>): ReturnType<typeof inMemory> =>
      Object.assign(Object.create(Object.getPrototypeOf(t) as object) as object, t, {
        read: (first: number, count: number, ...rest: Float64Array[]) => {
          reads += count;
          return (t.read as (...a: unknown[]) => Promise<void>).call(t, first, count, ...rest);
        },
      }) as ReturnType<typeof inMemory>;
    const result = await recipePass(
      { suspect: counted(inMemory(suspect, BF16)), parents: parents.map((p) => counted(inMemory(p, BF16))) },
      { reference: 0, informativeUlps: 4, weights: [0.4, 0.6], recipes: [recipe, { ...recipe, weights: [0.5, 0.5] }], replayDtype: 'BF16', replayElements: 1000, residual: false },
      0,
      suspect.length,
      new RecipePassScratch(2, 300),
    );
    expect(result.rss).toBeNull();
    expect(result.used).toBe(0);
    expect(result.matches.finite).toBe(1000);
    expect(result.matches.reproduced[0]).toBe(1000);
    expect(result.matches.reproduced[1]!).toBeLessThan(900);
    // 1,000 elements of three inputs, in chunks of 300: nothing past the replay is read.
    expect(reads).toBe(3 * 1000);
  });

  it('gives the same result over a tensor as over its ranges added', async () => {
    const parents = fineTunes(BF16, 32, 64, 2, 6, 12);
    const recipe: MergeRecipe = { weights: [0.3, 0.7], arithmetic: 'float32', normalise: false };
    const suspect = new Float64Array(parents[0]!.length);
    replayRecipe(compileRecipe(recipe, BF16), parents, suspect.length, suspect);
    const input: RecipePassInput = { suspect: inMemory(suspect, BF16), parents: parents.map((p) => inMemory(p, BF16)) };
    const request: RecipePassRequest = { reference: 0, informativeUlps: 4, weights: [0.31, 0.69], recipes: [recipe], replayDtype: 'BF16', replayElements: 1500, residual: true };
    const scratch = new RecipePassScratch(2, 256);
    const whole = await recipePass(input, request, 0, suspect.length, scratch);
    const parts = emptyRecipePassResult(1, true);
    for (const [from, to] of [[0, 1000], [1000, 1700], [1700, suspect.length]] as const) {
      const replayElements = Math.max(0, Math.min(to, 1500) - from);
      addRecipePassResults(parts, await recipePass(input, { ...request, replayElements }, from, to, scratch));
    }
    expect({ ...parts, rss: 0 }).toEqual({ ...whole, rss: 0 });
    expect(parts.rss! / whole.rss!).toBeCloseTo(1, 12);
    expect(whole.matches.finite).toBe(1500);
    expect(whole.used).toBe(suspect.length);
  });

  it('counts what the blend at the weights reproduces, as the engine\'s own second read defines it', async () => {
    const parents = fineTunes(BF16, 32, 64, 3, 6, 11);
    const weights = [0.5, 0.3, 0.2];
    const suspect = new Float64Array(parents[0]!.length);
    replayRecipe(compileRecipe({ weights, arithmetic: 'float32', normalise: false }, BF16), parents, suspect.length, suspect);
    const result = await recipePass(
      { suspect: inMemory(suspect, BF16), parents: parents.map((p) => inMemory(p, BF16)) },
      { reference: 0, informativeUlps: 4, weights, recipes: [], replayDtype: 'BF16', replayElements: 0, residual: true },
      0,
      suspect.length,
      new RecipePassScratch(3, 300),
    );
    // Per element, by the definitions: informative when the parents are ≥ 4 suspect steps
    // apart, reproduced when r + Σ w_j (p_j − r) lies in the suspect value's cell.
    const cells = cellsOf(BF16, suspect);
    let informative = 0;
    let reproduced = 0;
    // A float32 blend can land on a bf16 tie: the exact blend then sits within float64
    // rounding of a cell edge, where summation order decides. Those may differ, no others.
    let atEdge = 0;
    for (let i = 0; i < suspect.length; i++) {
      const r = parents[0]![i]!;
      const d = [1, 2].map((j) => parents[j]![i]! - r);
      const ulp = Math.max(cells.above[i]!, cells.below[i]!);
      const largest = Math.max(...d.map(Math.abs));
      if (largest === 0 || largest < 4 * ulp) continue;
      informative++;
      const blend = r + weights[1]! * d[0]! + weights[2]! * d[1]!;
      const low = suspect[i]! - cells.below[i]! / 2;
      const high = suspect[i]! + cells.above[i]! / 2;
      if (blend >= low && blend <= high) reproduced++;
      if (Math.min(Math.abs(blend - low), Math.abs(blend - high)) < 1e-9 * ulp) atEdge++;
    }
    expect(informative).toBeGreaterThan(suspect.length / 2);
    expect(result.informative).toBe(informative);
    expect(Math.abs(result.reproduced - reproduced)).toBeLessThanOrEqual(atEdge);
    expect(reproduced).toBeGreaterThan(0.9 * informative);
  });
});

describe('recipePass over raw F32 codes (the WebAssembly residual)', () => {
  it('measures what the element-by-element pass measures, NaN and infinity included', async () => {
    // Stored F32 tensors read raw: the residual, the informative and the reproduced count
    // from the codes; the same tensors read through their readers, element by element.
    const n = 5003;
    let state = 12345;
    const random = () => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state / 2 ** 32;
    };
    for (const spread of [2 ** -20, 2 ** -8, 1]) {
      for (const nonFinite of [false, true]) {
        const a = Array.from({ length: n }, (_, i) => (i % 97 === 0 ? (i % 2 ? 0 : -0) : (random() - 0.5) * 0.1));
        const b = a.map((v) => v + (random() - 0.5) * spread * (Math.abs(v) + 1e-30));
        // Some elements exactly the float32 blend, some off it, some equal to a parent.
        const s = a.map((v, i) => (i % 5 === 0 ? b[i]! : i % 5 === 1 ? v * (1 + 2 ** -20) : Math.fround(Math.fround(0.4 * v) + Math.fround(0.6 * b[i]!))));
        if (nonFinite) {
          s[100] = NaN;
          a[2000] = Infinity;
          b[4999] = -Infinity;
        }
        const stored = await storedF32({ s, a, b });
        for (const reference of [0, 1]) {
          for (const informativeUlps of [0, 4]) {
            const request: RecipePassRequest = { reference, informativeUlps, weights: [0.4, 0.6], recipes: [], replayDtype: null, replayElements: 0, residual: true };
            const raw = [stored.s, stored.a, stored.b].map((t) => ({ shard: t.shard, start: t.start }));
            const input: RecipePassInput = { suspect: storedTensor(stored.s), parents: [storedTensor(stored.a), storedTensor(stored.b)] };
            const fast = await recipePass(input, request, 0, n, new RecipePassScratch(2, 700), raw);
            const plain = await recipePass(input, request, 0, n, new RecipePassScratch(2, 700));
            expect([fast.used, fast.informative, fast.reproduced]).toEqual([plain.used, plain.informative, plain.reproduced]);
            expect(Math.abs(fast.rss! - plain.rss!)).toBeLessThanOrEqual(1e-12 * plain.rss!);
            if (!nonFinite) expect(fast.used).toBe(n);
            if (spread === 2 ** -8) expect(plain.reproduced).toBeGreaterThan(n / 3);
          }
        }
      }
    }
  });

  it('takes the finer side of a power of two\'s cell as the element-by-element pass does', async () => {
    // s an exact power of two (either sign), a = s moved toward zero by k1 of its finer
    // steps (ulp/2), b = s: at 0.4/0.6 the residual s − blend is 0.2·k1·ulp toward zero.
    // The cell reaches ulp/4 that way (ulp/2 the other), so only k1 = 1 reproduces: one
    // element per power and sign, where a cell taken the wrong way round would give two.
    const s: number[] = [];
    const a: number[] = [];
    const b: number[] = [];
    for (const power of [-3, 0, 5]) {
      for (const sign of [1, -1]) {
        const ulp = 2 ** (power - 23);
        for (let k1 = 0; k1 <= 12; k1++) {
          s.push(sign * 2 ** power);
          a.push(sign * (2 ** power - (k1 * ulp) / 2));
          b.push(sign * 2 ** power);
        }
      }
    }
    const stored = await storedF32({ s, a, b });
    const request: RecipePassRequest = { reference: 0, informativeUlps: 0, weights: [0.4, 0.6], recipes: [], replayDtype: null, replayElements: 0, residual: true };
    const raw = [stored.s, stored.a, stored.b].map((t) => ({ shard: t.shard, start: t.start }));
    const input: RecipePassInput = { suspect: storedTensor(stored.s), parents: [storedTensor(stored.a), storedTensor(stored.b)] };
    const fast = await recipePass(input, request, 0, s.length, new RecipePassScratch(2, 700), raw);
    const plain = await recipePass(input, request, 0, s.length, new RecipePassScratch(2, 700));
    expect([plain.used, plain.informative, plain.reproduced]).toEqual([78, 72, 6]);
    expect([fast.used, fast.informative, fast.reproduced]).toEqual([78, 72, 6]);
  });
});

/** Three F32 tensors in one in-memory file, as the engine sees them. */
async function storedF32(values: Record<'s' | 'a' | 'b', number[]>): Promise<Record<'s' | 'a' | 'b', TensorDescriptor>> {
  const names = ['s', 'a', 'b'] as const;
  const bytes = serializeSafetensors(names.map((name) => ({ name, dtype: 'F32', shape: [values[name].length], data: encode(FLOAT_FORMATS.F32, values[name]) })));
  const parsed = await parseSafetensorsHeader(new MemorySource(bytes, 'f32.safetensors'), 'f32.safetensors');
  const byName = new Map(parsed.tensors.map((t) => [t.name, t]));
  return { s: byName.get('s')!, a: byName.get('a')!, b: byName.get('b')! };
}
