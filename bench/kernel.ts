/**
 * The fused 16-bit kernel alone (src/engine/accumulate-codes16.ts), on bf16 codes made
 * like the bench trio's (bench/make-trio.ts): a normal base (σ 0.02), parents the base
 * plus the trio's per-element ulp changes, the suspect 0.6·B + 0.4·A rounded once. No
 * I/O, no fit: the arithmetic cost per element that the full bench's time is mostly made of.
 * Then the recipe replay alone (src/engine/recipes/replay-wasm.ts) on 8,192 of those
 * elements, as a full scan replays per tensor: ns per element and candidate.
 *
 *   npm run bench:kernel [-- --elements 8388608] [--informative-ulps 4] [--dtype BF16|F16|F32]
 *
 * A huge --informative-ulps (1e9) leaves no element informative: the first loop alone.
 */
import { parseArgs } from 'node:util';
import { emptyChunkSums, resetChunkSums } from '../src/engine/accumulate-chunk.js';
import { codes16Kernel } from '../src/engine/accumulate-codes16.js';
import { PROFILE_BINS } from '../src/engine/moments.js';
import { emptyExactMatches } from '../src/engine/recipes/exact-match-count.js';
import { compileRecipe, MERGE_ARITHMETICS } from '../src/engine/recipes/merge-arithmetic.js';
import { replayKernel } from '../src/engine/recipes/replay-wasm.js';
import { DEFAULT_CHUNK_ELEMENTS } from '../src/engine/scan-tensor.js';
import { decode, encode, FLOAT_FORMATS } from '../src/format/dtype.js';
import { ULP_STEPS } from './make-trio.js';

const { values } = parseArgs({
  options: {
    elements: { type: 'string', default: String(1 << 23) },
    'informative-ulps': { type: 'string', default: '4' },
    dtype: { type: 'string', default: 'BF16' },
  },
});
if (values.dtype !== 'BF16' && values.dtype !== 'F16' && values.dtype !== 'F32') throw new Error(`--dtype: BF16, F16 or F32 (got ${values.dtype})`);
const informativeUlps = Number(values['informative-ulps']);
const n = Number(values.elements);
/** The codes' format, and the replay's: BF16 unless --dtype says otherwise. */
const FORMAT = FLOAT_FORMATS[values.dtype];
const WIDE = FORMAT.bytes === 4;
type Codes = Uint16Array | Uint32Array;
const codesOf = (bytes: Uint8Array): Codes => (WIDE ? new Uint32Array(bytes.buffer) : new Uint16Array(bytes.buffer));

// A seeded xorshift: the same codes every run.
let state = 0x2545f491;
const next = (): number => {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) / 2 ** 32;
};
const gaussian = (): number => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());

const base = codesOf(encode(FORMAT, Float64Array.from({ length: n }, () => 0.02 * gaussian())));
// Steps move the magnitude, kept within the finite codes: an f16 code near zero stepped
// below it would wrap around to a NaN code (bf16's never come near zero at σ 0.02). F32
// steps are bf16 steps (2^16 float32 codes), the size of a fine-tune's changes there.
const largestFinite = FORMAT.dtype === 'F16' ? 0x7bff : FORMAT.dtype === 'F32' ? 0x7f7fffff : 0x7f7f;
const sign = WIDE ? 0x80000000 : 0x8000;
const stepScale = WIDE ? 0x10000 : 1;
const changed = (): Codes =>
  base.map((code) => ((code & sign) | Math.min(largestFinite, Math.max(0, (code & (sign - 1)) + stepScale * ULP_STEPS[Math.floor(next() * ULP_STEPS.length)]!))) >>> 0);
const a = changed();
const b = changed();
const valuesOf = (codes: Codes): Float64Array => {
  const out = new Float64Array(n);
  decode(FORMAT, new Uint8Array(codes.buffer), out, n);
  return out;
};
const av = valuesOf(a);
const bv = valuesOf(b);
const suspect = codesOf(encode(FORMAT, Float64Array.from({ length: n }, (_, i) => 0.4 * av[i]! + 0.6 * bv[i]!)));

const sums = emptyChunkSums(2);
const hits = new Float64Array(PROFILE_BINS);
const chunk = DEFAULT_CHUNK_ELEMENTS;

const kernel = codes16Kernel();

/** Fastest of 3 passes over the codes; `suspectCodes` may hold a NaN per chunk (the checked path). */
function time(suspectCodes: Codes): { nsPerElement: number; informative: number } {
  let best = Infinity;
  let informative = 0;
  for (let rep = 0; rep < 3; rep++) {
    informative = 0;
    const started = performance.now();
    for (let first = 0; first < n; first += chunk) {
      resetChunkSums(sums);
      kernel.accumulate(suspectCodes, a, b, first, Math.min(n, first + chunk), FORMAT, informativeUlps, 0, hits, sums);
      informative += sums.informative;
    }
    best = Math.min(best, performance.now() - started);
  }
  return { nsPerElement: (best * 1e6) / n, informative: informative / n };
}

const withNaN = suspect.slice();
for (let first = 0; first < n; first += chunk) withNaN[first] = FORMAT.dtype === 'F16' ? 0x7e00 : FORMAT.dtype === 'F32' ? 0x7fc00000 : 0x7fc0;
const fast = time(suspect);
const checked = time(withNaN);
console.log(`fused ${FORMAT.dtype} kernel (WebAssembly), ${n.toLocaleString('en-US')} elements in chunks of ${chunk.toLocaleString('en-US')}, fastest of 3`);
console.log(`  informative elements     ${(fast.informative * 100).toFixed(1)}%`);
console.log(`  kernel                   ${fast.nsPerElement.toFixed(1)} ns/element (${(1e3 / fast.nsPerElement).toFixed(0)} M elements/s)`);
console.log(`  a NaN in every chunk     ${checked.nsPerElement.toFixed(1)} ns/element (the first loop, then the checked kernel)`);

// The replay: the first 8,192 elements, every element counted (class 2: parents differ).
const replayed = Math.min(n, 8192);
const replay = replayKernel();
replay.load(valuesOf(suspect).subarray(0, replayed), av, bv, new Uint8Array(replayed).fill(2), replayed);
console.log(`recipe replay (WebAssembly, ${FORMAT.dtype}), ${replayed.toLocaleString('en-US')} elements, weights 0.4 / 0.6, fastest of 200`);
for (const arithmetic of MERGE_ARITHMETICS) {
  const compiled = compileRecipe({ weights: [0.4, 0.6], arithmetic, normalise: false }, FORMAT);
  const counts = emptyExactMatches(1);
  let best = Infinity;
  for (let rep = 0; rep < 200; rep++) {
    const started = performance.now();
    replay.replay(compiled, counts, 0);
    best = Math.min(best, performance.now() - started);
  }
  console.log(`  ${arithmetic.padEnd(24)} ${((best * 1e6) / replayed).toFixed(1)} ns/element`);
}
