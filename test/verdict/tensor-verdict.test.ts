import { afterAll, describe, expect, it } from 'vitest';
import { emptyMoments } from '../../src/engine/moments.js';
import { fitTensor, type TensorFit } from '../../src/fit/tensor-fit.js';
import { FLOAT_FORMATS, roundTo, type FloatFormat } from '../../src/format/dtype.js';
import { REPLAY_MIN_ELEMENTS, tensorVerdict, type ReplayEvidence } from '../../src/verdict/tensor-verdict.js';
import { compileRecipe, replayRecipe, sameBits } from '../../src/engine/recipes/merge-arithmetic.js';
import { snapCandidates } from '../../src/fit/recipes/snap-candidates.js';
import { DEFAULT_THRESHOLDS } from '../../src/verdict/thresholds.js';
import { referenceMoments } from '../helpers/reference-moments.js';
import { baseTensor, blendInFloat32, blendInFormat, fineTuneDelta, fineTunes, random } from '../fit/synthetic.js';

const { F32, BF16 } = FLOAT_FORMATS;
const T = DEFAULT_THRESHOLDS;
const ROWS = 64;
const COLS = 64;
/** The synthetic layers' RMS (synthetic.ts): training changes are sized relative to it. */
const NORM = 0.02;
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Measured numbers, printed with PROVCHECK_CALIBRATION=1 for docs/calibration.md. */
const calibration: string[] = [];
afterAll(() => {
  if (process.env.PROVCHECK_CALIBRATION) console.log(`\n${calibration.join('\n')}`);
});

function judge(label: string, suspect: Float64Array, parents: Float64Array[], format: FloatFormat = BF16) {
  const fit = fitTensor(referenceMoments(suspect, parents, format, 0, T.informativeUlps));
  const verdict = tensorVerdict(fit, T);
  calibration.push(describeFit(label, fit, verdict.kind, verdict.parent));
  return { fit, verdict };
}

/**
 * What the recipe pass would measure: every candidate snapped from the fit replayed on
 * the whole tensor, the best one's bit-for-bit hits where the parents differ.
 */
function replayOf(suspect: Float64Array, parents: Float64Array[], fit: TensorFit, format: FloatFormat = BF16): ReplayEvidence {
  const differ = range(suspect.length).filter((i) => parents.some((p) => !sameBits(p[i]!, parents[0]![i]!)));
  const out = new Float64Array(suspect.length);
  let best: ReplayEvidence = { parentsDiffer: differ.length, reproduced: -1, weights: [] };
  for (const candidate of snapCandidates(fit.weights, fit.weightsStdErr, format)) {
    replayRecipe(compileRecipe(candidate, format), parents, suspect.length, out);
    const reproduced = differ.filter((i) => sameBits(out[i]!, suspect[i]!)).length;
    if (reproduced > best.reproduced) best = { parentsDiffer: differ.length, reproduced, weights: candidate.weights };
  }
  return best;
}

function judgeReplayed(suspect: Float64Array, parents: Float64Array[]) {
  const fit = fitTensor(referenceMoments(suspect, parents, BF16, 0, T.informativeUlps));
  const replay = replayOf(suspect, parents, fit);
  return { fit, replay, verdict: tensorVerdict(fit, T, replay) };
}

function describeFit(label: string, f: TensorFit, kind: string, parent: number | null): string {
  const weights = f.weights.map((w) => (w === null ? 'null' : w.toFixed(4))).join('/');
  const share = f.reproducedShare === null ? '-' : f.reproducedShare.toFixed(3);
  const peak = f.profile ? `${f.profile.peak.toFixed(4)} ${f.profile.hitShare.toFixed(3)} vs ${f.profile.chanceShare.toFixed(4)}` : '-';
  return [
    label.padEnd(44),
    `${kind}${parent === null ? '' : `(${parent})`}`.padEnd(16),
    `noiseRatio ${f.noiseRatio.toFixed(3).padStart(8)}`,
    `weights ${weights} (${f.weightMethod})`,
    `LS ${f.leastSquares.weights.map((w) => (w === null ? 'null' : w.toFixed(3))).join('/')}`,
    `alone ${f.alternatives.map((a) => a.toFixed(1)).join('/')}`,
    `reproduced ${share}`,
    `peak ${peak}`,
    `free sum ${f.freeFit.sum === null ? 'null' : f.freeFit.sum.toFixed(5)}`,
  ].join('  ');
}

function trained(parent: Float64Array, size: number, seed: number): Float64Array {
  const change = fineTuneDelta(ROWS, COLS, size * NORM, random(seed));
  return Float64Array.from(parent, (x, i) => roundTo(BF16, x + change[i]!));
}

function blendPlusTraining(a: Float64Array, b: Float64Array, wa: number, size: number, seed: number): Float64Array {
  const change = fineTuneDelta(ROWS, COLS, size * NORM, random(seed));
  return Float64Array.from(a, (x, i) => roundTo(BF16, wa * x + (1 - wa) * b[i]! + change[i]!));
}

describe.each([2, 8])('tensorVerdict on bf16 fine-tunes %i steps apart', (deltaUlps) => {
  const [a, b] = fineTunes(BF16, ROWS, COLS, 2, deltaUlps, 3) as [Float64Array, Float64Array];
  const tag = `${deltaUlps}-step parents:`;

  it('untouched blend, float32 arithmetic → blend', () => {
    const { fit, verdict } = judge(`${tag} 0.6A+0.4B float32`, blendInFloat32(BF16, [a, b], [0.6, 0.4]), [a, b]);
    expect(verdict).toEqual({ kind: 'blend', parent: null, reason: null });
    expect(fit.weights[0]).toBeCloseTo(0.6, 3);
    expect(fit.noiseRatio).toBeLessThan(1.05);
    expect(fit.reproducedShare).toBeGreaterThan(0.95);
  });

  it('the same blend in bf16 arithmetic → blend', () => {
    const { fit, verdict } = judge(`${tag} 0.6A+0.4B bf16 arithmetic`, blendInFormat(BF16, [a, b], [0.6, 0.4]), [a, b]);
    expect(verdict.kind).toBe('blend');
    expect(fit.noiseRatio).toBeGreaterThan(1.5);
    expect(fit.noiseRatio).toBeLessThan(T.blendMaxNoise);
  });

  it('blend plus a 0.1% training step is at the floor: noiseRatio alone cannot tell, the replay can → modified-blend', () => {
    const suspect = blendPlusTraining(a, b, 0.6, 0.001, 11);
    const { fit, verdict } = judge(`${tag} 0.6A+0.4B + 0.1% training`, suspect, [a, b]);
    expect(verdict.kind).toBe('blend');
    expect(fit.reproducedShare!).toBeLessThan(0.7);
    const replayed = judgeReplayed(suspect, [a, b]);
    expect(replayed.replay.parentsDiffer).toBeGreaterThan(REPLAY_MIN_ELEMENTS);
    expect(replayed.replay.reproduced / replayed.replay.parentsDiffer).toBeLessThan(0.9);
    expect(replayed.verdict.kind).toBe('modified-blend');
  });

  it('untouched blends, in float32 and in bf16 arithmetic, stay blends with the replay', () => {
    for (const suspect of [blendInFloat32(BF16, [a, b], [0.6, 0.4]), blendInFormat(BF16, [a, b], [0.6, 0.4])]) {
      const { replay, verdict } = judgeReplayed(suspect, [a, b]);
      expect(replay.reproduced / replay.parentsDiffer).toBeGreaterThan(0.999);
      expect(verdict.kind).toBe('blend');
    }
  });

  it('blend plus 1% training → modified-blend, on the weights', () => {
    const { fit, verdict } = judge(`${tag} 0.6A+0.4B + 1% training`, blendPlusTraining(a, b, 0.6, 0.01, 12), [a, b]);
    expect(verdict.kind).toBe('modified-blend');
    expect(fit.noiseRatio).toBeGreaterThan(5);
    expect(Math.abs(fit.weights[0]! - 0.6)).toBeLessThan(0.02);
  });

  it('a fine-tune of one parent (1% of its norm) → derived from that parent', () => {
    const fromA = judge(`${tag} A + 1% training`, trained(a, 0.01, 13), [a, b]);
    expect(fromA.verdict).toEqual({ kind: 'derived', parent: 0, reason: null });
    expect(Math.abs(fromA.fit.weights[1]!)).toBeLessThan(T.minWeight);
    const fromB = judge(`${tag} B + 1% training`, trained(b, 0.01, 14), [a, b]);
    expect(fromB.verdict).toEqual({ kind: 'derived', parent: 1, reason: null });
  });

  it('a fine-tune that drifted toward the other parent → derived, not modified-blend', () => {
    const change = fineTuneDelta(ROWS, COLS, 0.01 * NORM, random(15));
    const drifted = Float64Array.from(a, (x, i) => roundTo(BF16, x + 0.16 * (b[i]! - x) + change[i]!));
    const { fit, verdict } = judge(`${tag} A + 0.16(B−A) + 1% training`, drifted, [a, b]);
    expect(verdict).toEqual({ kind: 'derived', parent: 0, reason: null });
    expect(fit.weights[1]).toBeCloseTo(0.16, 1);
    expect(fit.reproducedShare!).toBeLessThan(0.25);
  });

  it('an unrelated tensor → unrelated', () => {
    const { fit, verdict } = judge(`${tag} unrelated`, baseTensor(ROWS * COLS, random(16)).map((x) => roundTo(BF16, x)), [a, b]);
    expect(verdict.kind).toBe('unrelated');
    expect(fit.relativeResidual!).toBeGreaterThan(1);
  });

  it('a parent itself → identical', () => {
    const { verdict } = judge(`${tag} B itself`, b, [a, b]);
    expect(verdict).toEqual({ kind: 'identical', parent: 1, reason: null });
  });
});

describe('tensorVerdict: merges in bf16 arithmetic at any weight', () => {
  it('stay below blendMaxNoise from 0.05/0.95 to 0.95/0.05', () => {
    // bf16 rounding of w and 1 − w leaves their sum off 1 by up to 2^-9: a residual of
    // 0.25–0.5 step on top of three roundings. Measured worst 1.92 (weights 0.47/0.53).
    const [a, b] = fineTunes(BF16, 48, 48, 2, 2, 11) as [Float64Array, Float64Array];
    const ratios = range(19).map((i) => {
      const wa = (i + 1) / 20;
      const fit = fitTensor(referenceMoments(blendInFormat(BF16, [a, b], [wa, 1 - wa]), [a, b], BF16, 0, T.informativeUlps));
      expect(tensorVerdict(fit, T).kind).toBe('blend');
      expect(Math.abs(fit.weights[0]! - wa)).toBeLessThan(0.005);
      return fit.noiseRatio;
    });
    calibration.push(`bf16 arithmetic, weights 0.05…0.95: noiseRatio ${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)}`);
    expect(Math.max(...ratios)).toBeLessThan(T.blendMaxNoise);
  });
});

describe('tensorVerdict: evidence beyond the weights', () => {
  it('a lopsided merge, lightly trained, is a modified-blend when its elements still show the merge', () => {
    const [a, b] = fineTunes(BF16, ROWS, COLS, 2, 8, 3) as [Float64Array, Float64Array];
    const { fit, verdict } = judge('8-step parents: 0.85A+0.15B + 0.5% training', blendPlusTraining(a, b, 0.85, 0.005, 17), [a, b]);
    expect(verdict.kind).toBe('modified-blend');
    expect(fit.weights[1]!).toBeLessThan(T.modifiedMinWeight);
    expect(fit.reproducedShare!).toBeGreaterThan(0.25);
  });

  it('a parent re-rounded to a narrower format → derived (a re-quantization)', () => {
    const [a, b] = fineTunes(F32, ROWS, COLS, 2, 2 ** 16, 4) as [Float64Array, Float64Array];
    const { fit, verdict } = judge('F32 parents: bf16(A)', a.map((x) => roundTo(BF16, x)), [a, b]);
    expect(verdict).toEqual({ kind: 'derived', parent: 0, reason: null });
    expect(fit.noiseRatio).toBeLessThan(1.05);
  });

  it('three parents blended → blend', () => {
    const parents = fineTunes(BF16, ROWS, COLS, 3, 2, 5);
    const { fit, verdict } = judge('2-step parents: 0.5A+0.3B+0.2C', blendInFloat32(BF16, parents, [0.5, 0.3, 0.2]), parents);
    expect(verdict.kind).toBe('blend');
    expect(fit.weights[2]).toBeCloseTo(0.2, 2);
  });
});

describe('tensorVerdict: the replay evidence', () => {
  const [a, b] = fineTunes(BF16, ROWS, COLS, 2, 4, 5) as [Float64Array, Float64Array];
  const fit = fitTensor(referenceMoments(blendInFloat32(BF16, [a, b], [0.6, 0.4]), [a, b], BF16, 0, T.informativeUlps));

  it('a share below REPLAY_MIN_SHARE turns a blend at the floor into a modified-blend, and nothing else', () => {
    expect(tensorVerdict(fit, T, { parentsDiffer: 1000, reproduced: 949, weights: [0.6, 0.4] }).kind).toBe('modified-blend');
    expect(tensorVerdict(fit, T, { parentsDiffer: 1000, reproduced: 950, weights: [0.6, 0.4] }).kind).toBe('blend');
    expect(tensorVerdict(fit, T, null).kind).toBe('blend');
  });

  it('is not judged on fewer than REPLAY_MIN_ELEMENTS elements, or for weights that do not sum to 1', () => {
    expect(tensorVerdict(fit, T, { parentsDiffer: REPLAY_MIN_ELEMENTS - 1, reproduced: 0, weights: [0.6, 0.4] }).kind).toBe('blend');
    const extrapolated: TensorFit = { ...fit, weights: [0.7, 0.5] };
    expect(tensorVerdict(extrapolated, T, { parentsDiffer: 1000, reproduced: 0, weights: [0.6, 0.4] }).kind).toBe('blend');
  });

  it('a recipe mixing two parents that recomputes ≥ 99.9% bit for bit is a blend, whatever the residual', () => {
    const aboveFloor: TensorFit = { ...fit, noiseRatio: 3.4 };
    expect(tensorVerdict(aboveFloor, T).kind).toBe('modified-blend');
    expect(tensorVerdict(aboveFloor, T, { parentsDiffer: 1000, reproduced: 999, weights: [0.55, 0.46] }).kind).toBe('blend');
    expect(tensorVerdict(aboveFloor, T, { parentsDiffer: 1000, reproduced: 998, weights: [0.55, 0.46] }).kind).toBe('modified-blend');
    // One parent replayed exactly (a re-rounded parent) proves no merge.
    expect(tensorVerdict(aboveFloor, T, { parentsDiffer: 1000, reproduced: 1000, weights: [1, 0] }).kind).toBe('modified-blend');
    expect(tensorVerdict(aboveFloor, T, { parentsDiffer: REPLAY_MIN_ELEMENTS - 1, reproduced: REPLAY_MIN_ELEMENTS - 1, weights: [0.5, 0.5] }).kind).toBe(
      'modified-blend',
    );
  });

  it('does not touch a suspect that is one parent re-rounded', () => {
    const single: TensorFit = { ...fit, weights: [1, 0.001] };
    expect(tensorVerdict(single, T, { parentsDiffer: 1000, reproduced: 0, weights: [0.6, 0.4] })).toEqual({ kind: 'derived', parent: 0, reason: null });
  });
});

describe('tensorVerdict: weights that cannot be seen', () => {
  const [a] = fineTunes(F32, ROWS, COLS, 1, 2 ** 16, 6) as [Float64Array];

  it('parents identical, suspect changed → derived from them (the residual is still judged), weights null', () => {
    const { fit, verdict } = judge('identical parents: A + 1% training', trained(a, 0.01, 18), [a, a]);
    expect(verdict).toEqual({ kind: 'derived', parent: 0, reason: null });
    expect(fit.weights).toEqual([null, null]);
    expect(fit.identifiability.reason).toBe('parents-identical');
  });

  it('parents identical, suspect their re-rounding → blend (any blend fits)', () => {
    const { fit, verdict } = judge('identical F32 parents: bf16(A)', a.map((x) => roundTo(BF16, x)), [a, a]);
    expect(verdict).toEqual({ kind: 'blend', parent: null, reason: null });
    expect(fit.weights).toEqual([null, null]);
  });

  it('no finite element → inconclusive', () => {
    expect(tensorVerdict(fitTensor(emptyMoments(2, 0)), T)).toEqual({
      kind: 'inconclusive',
      parent: null,
      reason: 'no-finite-elements',
    });
  });
});
