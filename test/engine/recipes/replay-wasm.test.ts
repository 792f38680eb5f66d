import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { emptyExactMatches, ExactMatchScratch, countExactMatches } from '../../../src/engine/recipes/exact-match-count.js';
import { compileRecipe, MERGE_ARITHMETICS, replayRecipe, sameBits, type CompiledRecipe, type MergeRecipe } from '../../../src/engine/recipes/merge-arithmetic.js';
import { replaysInWasm } from '../../../src/engine/recipes/replay-wasm.js';
import { FLOAT_FORMATS, roundTo } from '../../../src/format/dtype.js';

const BF16 = FLOAT_FORMATS.BF16;

/** Counts by the JavaScript replay, the definition: elements finite everywhere that the recipe reproduces bit for bit. */
function countsByDefinition(compiled: CompiledRecipe, suspect: Float64Array, parents: Float64Array[]): [number, number] {
  const out = new Float64Array(suspect.length);
  replayRecipe(compiled, parents, suspect.length, out);
  let all = 0;
  let differing = 0;
  for (let i = 0; i < suspect.length; i++) {
    const finite = [suspect[i]!, ...parents.map((p) => p[i]!)].every(Number.isFinite);
    if (!finite || !sameBits(out[i]!, suspect[i]!)) continue;
    all++;
    if (!sameBits(parents[0]![i]!, parents[1]![i]!)) differing++;
  }
  return [all, differing];
}

describe('the WebAssembly replay (assembly/replay.ts)', () => {
  it('counts what the JavaScript replay counts, for every arithmetic, normalised or not, SLERP included', () => {
    // Parents as bf16 values across magnitudes, with zeros of both signs, subnormals,
    // values near the largest finite (sums overflow), and neighbours a few steps apart
    // (the suspect then sits on rounding ties). The suspect is one recipe's own replay
    // with some elements changed, so that both the hits and the misses are counted.
    const value = fc.oneof(
      fc.double({ min: -0.1, max: 0.1, noNaN: true }),
      fc.double({ min: -3.3e38, max: 3.3e38, noNaN: true }),
      fc.constantFrom(0, -0, 2 ** -133, -(2 ** -130), 3.3895313892515355e38, Infinity, NaN),
    );
    const input = fc.record({
      // Up to 600 elements, odd counts included: the WebAssembly loop takes pairs, and pads an odd count.
      pairs: fc.array(fc.tuple(value, fc.integer({ min: -4, max: 4 })), { minLength: 1, maxLength: 600 }),
      // Round weights put exact sums on bf16 ties (0.5·a + 0.5·b with b one step from a).
      weight: fc.oneof(fc.double({ min: -0.5, max: 1.5, noNaN: true }), fc.constantFrom(0.5, 0.25, 0.75)),
      // Weights that do not sum to 1, so that normalising divides by something.
      other: fc.option(fc.double({ min: -0.5, max: 1.5, noNaN: true }), { nil: undefined }),
      arithmetic: fc.constantFrom(...MERGE_ARITHMETICS),
      normalise: fc.boolean(),
      slerp: fc.boolean(),
      cosine: fc.double({ min: -1, max: 1, noNaN: true }),
      changed: fc.integer({ min: 0, max: 7 }),
      // Parents stored in float32, not on the bf16 grid: the arithmetics that round the
      // parents to bf16 first (torch-in-dtype, format-steps) then change them.
      float32Parents: fc.boolean(),
    });
    fc.assert(
      fc.property(input, ({ pairs, weight, other, arithmetic, normalise, slerp, cosine, changed, float32Parents }) => {
        const a = Float64Array.from(pairs, ([v]) => (float32Parents ? Math.fround(v) : roundTo(BF16, v)));
        // b: a moved by a few bf16 steps (through the bits, keeping a float32's low bits), or a itself.
        const bits = new Float32Array(1);
        const word = new Uint32Array(bits.buffer);
        const b = Float64Array.from(pairs, ([, steps], i) => {
          bits[0] = a[i]!;
          if (!Number.isFinite(a[i]!)) return a[i]!;
          word[0] = (word[0]! + steps * 0x10000) >>> 0;
          return bits[0]!;
        });
        const recipe: MergeRecipe = slerp
          ? { weights: [1 - weight, weight], arithmetic: arithmetic === 'exact-once' ? 'exact-once' : 'float32', normalise: false, method: 'slerp', t: weight, cosine }
          : { weights: [other ?? 1 - weight, weight], arithmetic, normalise };
        const compiled = compileRecipe(recipe, BF16);
        expect(replaysInWasm(compiled)).toBe(true);
        const suspect = new Float64Array(a.length);
        replayRecipe(compiled, [a, b], a.length, suspect);
        for (let i = 0; i < suspect.length; i += 8) if (changed > 0) suspect[i] = roundTo(BF16, suspect[i]! * (1 + changed * 2 ** -7));
        const counts = emptyExactMatches(1);
        countExactMatches(suspect, [a, b], a.length, [compiled], new ExactMatchScratch(a.length), counts);
        const [all, differing] = countsByDefinition(compiled, suspect, [a, b]);
        expect([counts.reproduced[0], counts.reproducedWhereParentsDiffer[0]]).toEqual([all, differing]);
      }),
      { numRuns: 3000 },
    );
  });
});
