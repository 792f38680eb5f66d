import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decomposeBySvd,
  residualSumOfSquares,
  solveNormalEquations,
  type NormalEquationsSolution,
} from '../../src/fit/normal-equations.js';

/** Gram of the columns of X (n×p, row-major) followed by y, as the moments store it. */
function gramOf(rows: number[][], y: number[]): Float64Array {
  const vectors = rows[0]!.map((_, c) => rows.map((row) => row[c]!));
  vectors.push(y);
  const m = vectors.length;
  const gram = new Float64Array(m * m);
  for (let a = 0; a < m; a++) {
    for (let b = 0; b < m; b++) gram[a * m + b] = vectors[a]!.reduce((s, x, i) => s + x * vectors[b]![i]!, 0);
  }
  return gram;
}

describe('solveNormalEquations', () => {
  it('solves a 2×2 system computed by hand', () => {
    // X = [[1,0],[1,1],[1,2]], y = [1,2,4]: XᵀX = [[3,3],[3,5]], Xᵀy = [7,10], yᵀy = 21.
    const gram = gramOf(
      [
        [1, 0],
        [1, 1],
        [1, 2],
      ],
      [1, 2, 4],
    );
    expect(Array.from(gram)).toEqual([3, 3, 7, 3, 5, 10, 7, 10, 21]);
    const solution = solveNormalEquations(gram, 3, [0, 1], 2);
    // (XᵀX)⁻¹ = [[5,−3],[−3,3]]/6 → c = [5/6, 3/2]; residuals 1/6, −1/3, 1/6 → rss 1/6.
    expect(solution.coefficients[0]).toBeCloseTo(5 / 6, 14);
    expect(solution.coefficients[1]).toBeCloseTo(3 / 2, 14);
    expect(residualSumOfSquares(gram, 3, [0, 1], 2, solution.coefficients)).toBeCloseTo(1 / 6, 13);
    expect(solution.rank).toBe(2);
    expect(solution.unitVariance([1, 0])).toBeCloseTo(5 / 6, 13);
    expect(solution.unitVariance([0, 1])).toBeCloseTo(1 / 2, 13);
    expect(solution.unitVariance([1, 1])).toBeCloseTo(1 / 3, 13);
    expect(solution.identifiable([1, 0])).toBe(true);
    // Column-normalized Gram [[1, 3/√15],[3/√15, 1]]: eigenvalues 1 ± 3/√15.
    const r = 3 / Math.sqrt(15);
    expect(solution.conditionNumber).toBeCloseTo(Math.sqrt((1 + r) / (1 - r)), 12);
  });

  it('solves only the identifiable part of a rank-deficient 3×3 system', () => {
    // x2 = 2·x1 exactly: only x1 + 2·x2's coefficient (c1 + 2c2) and x3's are determined.
    const gram = gramOf(
      [
        [1, 2, 0],
        [0, 0, 1],
        [0, 0, 0],
        [1, 2, 0],
      ],
      [1, 3, 5, 1],
    );
    const solution = solveNormalEquations(gram, 4, [0, 1, 2], 3);
    expect(solution.rank).toBe(2);
    expect(solution.conditionNumber).toBe(Infinity);
    expect(solution.identifiable([1, 0, 0])).toBe(false);
    expect(solution.identifiable([0, 1, 0])).toBe(false);
    expect(solution.identifiable([0, 0, 1])).toBe(true);
    expect(solution.identifiable([1, 2, 0])).toBe(true);
    const c = solution.coefficients;
    expect(c[0]! + 2 * c[1]!).toBeCloseTo(1, 12);
    expect(c[2]).toBeCloseTo(3, 12);
    // Residual: element 3 (y = 5) is in no column's span.
    expect(residualSumOfSquares(gram, 4, [0, 1, 2], 3, c)).toBeCloseTo(25, 10);
  });

  it('treats a zero column as unidentifiable without touching the others', () => {
    // Column 0 is all zero (a parent equal to the reference): y = 2·x1 exactly.
    const gram = gramOf(
      [
        [0, 1],
        [0, 2],
      ],
      [2, 4],
    );
    const solution = solveNormalEquations(gram, 3, [0, 1], 2);
    expect(solution.rank).toBe(1);
    expect(solution.allColumnsZero).toBe(false);
    expect(solution.identifiable([1, 0])).toBe(false);
    expect(solution.identifiable([0, 1])).toBe(true);
    expect(solution.coefficients[0]).toBe(0);
    expect(solution.coefficients[1]).toBeCloseTo(2, 14);
    expect(residualSumOfSquares(gram, 3, [0, 1], 2, solution.coefficients)).toBeCloseTo(0, 12);
  });

  it('is indifferent to columns of very different sizes', () => {
    // A column 1e-9 the size of the other is small, not collinear.
    const gram = gramOf(
      [
        [1, 0],
        [0, 1e-9],
        [1, 0],
      ],
      [3, 5e-9, 3],
    );
    const solution = solveNormalEquations(gram, 3, [0, 1], 2);
    expect(solution.rank).toBe(2);
    expect(solution.conditionNumber).toBeCloseTo(1, 12);
    expect(solution.coefficients[0]).toBeCloseTo(3, 12);
    expect(solution.coefficients[1]).toBeCloseTo(5, 6);
  });

  it('has nothing to solve with no columns or all-zero columns', () => {
    const none = solveNormalEquations(Float64Array.of(4), 1, [], 0);
    expect(none.rank).toBe(0);
    expect(none.conditionNumber).toBe(1);
    expect(residualSumOfSquares(Float64Array.of(4), 1, [], 0, none.coefficients)).toBe(4);
    const zero = solveNormalEquations(new Float64Array(9), 3, [0, 1], 2);
    expect(zero.allColumnsZero).toBe(true);
    expect(zero.rank).toBe(0);
    expect(Array.from(zero.coefficients)).toEqual([0, 0]);
    expect(zero.identifiable([1, 0])).toBe(false);
    expect(zero.identifiable([0, 0])).toBe(true);
  });
});

/** A few rows of x and y: entries spread over orders of magnitude, some exactly zero. */
const entry = fc
  .oneof(fc.constant(0), fc.double({ min: -1e3, max: 1e3, noNaN: true }), fc.double({ min: -1e-6, max: 1e-6, noNaN: true }))
  // Products of the Gram matrix stay far from float64's underflow.
  .filter((x) => x === 0 || Math.abs(x) > 1e-30);
const rowsArbitrary = fc.array(fc.tuple(entry, entry), { minLength: 1, maxLength: 12 });

function expectSameDecisions(fast: NormalEquationsSolution, svd: NormalEquationsSolution): void {
  expect(fast.rank).toBe(svd.rank);
  expect(fast.allColumnsZero).toBe(svd.allColumnsZero);
  for (const probe of [[1], [-2], [0]]) expect(fast.identifiable(probe)).toBe(svd.identifiable(probe));
}

describe('solveNormalEquations in closed form (one column)', () => {
  it('gives what the SVD gives bit for bit, kept or dropped (rank, condition, coefficients, variances)', () => {
    fc.assert(
      fc.property(rowsArbitrary, fc.constantFrom(0, 1e-12, 1, 1e6), (rows, floor) => {
        const gram = gramOf(rows.map(([x]) => [x]), rows.map(([, y]) => y));
        const fast = solveNormalEquations(gram, 2, [0], 1, floor);
        const svd = solveNormalEquations(gram, 2, [0], 1, floor, decomposeBySvd);
        expectSameDecisions(fast, svd);
        expect(fast.coefficients).toEqual(svd.coefficients);
        expect(fast.conditionNumber).toBe(svd.conditionNumber);
        expect(fast.unitVariance([1])).toBe(svd.unitVariance([1]));
        expect(fast.unitVariance([-3])).toBe(svd.unitVariance([-3]));
      }),
      { numRuns: 500 },
    );
  });
});
