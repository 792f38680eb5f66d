import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countExactMatches, emptyExactMatches, ExactMatchScratch } from '../../../src/engine/recipes/exact-match-count.js';
import { compileRecipe, MERGE_ARITHMETICS, replayRecipe, sameBits, type MergeRecipe } from '../../../src/engine/recipes/merge-arithmetic.js';
import { FLOAT_FORMATS, roundTo } from '../../../src/format/dtype.js';

describe('countExactMatches, the JavaScript replay', () => {
  it('counts per candidate what replaying that candidate alone gives, the parents cast once per chunk', () => {
    // Three float32 parents (so casting them to F16 changes them) and an F16 suspect made
    // by one candidate, some elements changed; candidates of every arithmetic, task
    // arithmetic among them, replayed on one chunk.
    const F16 = FLOAT_FORMATS.F16;
    const value = fc.double({ min: -4, max: 4, noNaN: true }).map(Math.fround);
    const input = fc.record({
      rows: fc.array(fc.tuple(value, value, value, fc.boolean()), { minLength: 1, maxLength: 300 }),
      weights: fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })),
      maker: fc.integer({ min: 0, max: MERGE_ARITHMETICS.length - 1 }),
    });
    fc.assert(
      fc.property(input, ({ rows, weights: [x, y], maker }) => {
        const parents = [0, 1, 2].map((j) => Float64Array.from(rows, (r) => r[j] as number));
        const recipes: MergeRecipe[] = [
          ...MERGE_ARITHMETICS.map((arithmetic) => ({ weights: [x, y, 1 - x - y], arithmetic, normalise: arithmetic === 'torch-in-dtype' })),
          { weights: [1 - x - y, x, y], arithmetic: 'torch-in-dtype', normalise: false, method: 'task-arithmetic', base: 0 },
          { weights: [1 - x - y, x, y], arithmetic: 'float32', normalise: false, method: 'task-arithmetic', base: 0 },
        ];
        const compiled = recipes.map((recipe) => compileRecipe(recipe, F16));
        const suspect = new Float64Array(rows.length);
        replayRecipe(compiled[maker]!, parents, rows.length, suspect);
        rows.forEach((r, i) => {
          if (r[3]) suspect[i] = roundTo(F16, suspect[i]! + 0.01);
        });
        const counts = emptyExactMatches(compiled.length);
        countExactMatches(suspect, parents, rows.length, compiled, new ExactMatchScratch(rows.length), counts);
        compiled.forEach((c, r) => {
          const out = new Float64Array(rows.length);
          replayRecipe(c, parents, rows.length, out);
          let all = 0;
          for (let i = 0; i < rows.length; i++) if (sameBits(out[i]!, suspect[i]!)) all++;
          expect(counts.reproduced[r]).toBe(all);
        });
      }),
      { numRuns: 200 },
    );
  });
});
