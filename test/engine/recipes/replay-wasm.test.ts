import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { emptyExactMatches, ExactMatchScratch, countExactMatches } from '../../../src/engine/recipes/exact-match-count.js';
import { compileRecipe, MERGE_ARITHMETICS, replayRecipe, sameBits, type CompiledRecipe, type MergeRecipe } from '../../../src/engine/recipes/merge-arithmetic.js';
import { replaysInWasm } from '../../../src/engine/recipes/replay-wasm.js';
import { decode, encode, FLOAT_FORMATS, roundTo, type FloatFormat } from '../../../src/format/dtype.js';

const BF16 = FLOAT_FORMATS.BF16;
const F16 = FLOAT_FORMATS.F16;
const F32 = FLOAT_FORMATS.F32;

/**
 * Per suspect format: values across its magnitudes (zeros of both signs, subnormals,
 * values near the largest finite, where sums overflow), and a value moved by a few of
 * the format's steps: through its codes when on the grid, else (float32 parents) by
 * that many of its ulps, staying off the grid.
 */
const FORMATS: { format: FloatFormat; largest: number; specials: number[] }[] = [
  { format: BF16, largest: 3.3e38, specials: [0, -0, 2 ** -133, -(2 ** -130), 3.3895313892515355e38, Infinity, NaN] },
  { format: F16, largest: 65504, specials: [0, -0, 2 ** -24, -(2 ** -20), 2 ** -14, 65504, -65488, Infinity, NaN] },
  { format: F32, largest: 3.4e38, specials: [0, -0, 2 ** -149, -(2 ** -140), 2 ** -126, 3.4028234663852886e38, Infinity, NaN] },
];

function moved(format: FloatFormat, v: number, steps: number): number {
  if (!Number.isFinite(v)) return v;
  if (format === BF16 || format === F32) {
    // Through the float32's bits (for BF16 keeping its low 16 bits).
    const bits = new Float32Array([v]);
    const word = new Uint32Array(bits.buffer);
    word[0] = (word[0]! + steps * (format === BF16 ? 0x10000 : 1)) >>> 0;
    return bits[0]!;
  }
  const onGrid = roundTo(format, v) === v;
  const code = new Uint16Array(encode(format, [v]).buffer)[0]!;
  const magnitude = Math.min(0x7bff, Math.max(0, (code & 0x7fff) + steps));
  const out = new Float64Array(1);
  decode(format, new Uint8Array(new Uint16Array([(code & 0x8000) | magnitude]).buffer), out, 1);
  return onGrid ? out[0]! : Math.fround(v + (out[0]! - roundTo(format, v)));
}

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

describe.each(FORMATS)('the WebAssembly replay (assembly/replay.ts), $format.dtype suspect', ({ format, largest, specials }) => {
  it('counts what the JavaScript replay counts, for every arithmetic, normalised or not, SLERP included', () => {
    // Parents as bf16 values across magnitudes, with zeros of both signs, subnormals,
    // values near the largest finite (sums overflow), and neighbours a few steps apart
    // (the suspect then sits on rounding ties). The suspect is one recipe's own replay
    // with some elements changed, so that both the hits and the misses are counted.
    const value = fc.oneof(
      fc.double({ min: -0.1, max: 0.1, noNaN: true }),
      fc.double({ min: -largest, max: largest, noNaN: true }),
      fc.constantFrom(...specials),
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
        const a = Float64Array.from(pairs, ([v]) => (float32Parents ? Math.fround(v) : roundTo(format, v)));
        // b: a moved by a few of the format's steps, or a itself.
        const b = Float64Array.from(pairs, ([, steps], i) => moved(format, a[i]!, steps));
        const recipe: MergeRecipe = slerp
          ? { weights: [1 - weight, weight], arithmetic: arithmetic === 'exact-once' ? 'exact-once' : 'float32', normalise: false, method: 'slerp', t: weight, cosine }
          : { weights: [other ?? 1 - weight, weight], arithmetic, normalise };
        const compiled = compileRecipe(recipe, format);
        expect(replaysInWasm(compiled)).toBe(true);
        const suspect = new Float64Array(a.length);
        replayRecipe(compiled, [a, b], a.length, suspect);
        for (let i = 0; i < suspect.length; i += 8) if (changed > 0) suspect[i] = roundTo(format, suspect[i]! * (1 + changed * 2 ** -7));
        const counts = emptyExactMatches(1);
        countExactMatches(suspect, [a, b], a.length, [compiled], new ExactMatchScratch(a.length), counts);
        const [all, differing] = countsByDefinition(compiled, suspect, [a, b]);
        expect([counts.reproduced[0], counts.reproducedWhereParentsDiffer[0]]).toEqual([all, differing]);
      }),
      { numRuns: 3000 },
    );
  });
});
