import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decomposeCorrelation,
  residualSumOfSquares,
  solveNormalEquations,
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

/** Entries of a column: spread over orders of magnitude, some exactly zero. */
const entry = fc
  .oneof(fc.constant(0), fc.double({ min: -1e3, max: 1e3, noNaN: true }), fc.double({ min: -1e-6, max: 1e-6, noNaN: true }))
  // Products of the Gram matrix stay far from float64's underflow.
  .filter((x) => x === 0 || Math.abs(x) > 1e-30);

/** A correlation matrix (unit diagonal) from the Gram of q columns of n rows; zero columns left out. */
function correlationOf(columns: number[][]): { matrix: Float64Array; q: number } {
  const live = columns.filter((c) => c.some((x) => x !== 0));
  const q = live.length;
  const dot = (x: number[], y: number[]): number => x.reduce((sum, xi, i) => sum + xi * y[i]!, 0);
  const matrix = new Float64Array(q * q);
  for (let a = 0; a < q; a++) {
    for (let b = 0; b < q; b++) matrix[a * q + b] = dot(live[a]!, live[b]!) / Math.sqrt(dot(live[a]!, live[a]!) * dot(live[b]!, live[b]!));
  }
  return { matrix, q };
}

describe('decomposeCorrelation (Jacobi)', () => {
  it('finds the closed-form eigenpairs of 2×2 and equicorrelated 3×3 matrices', () => {
    // [[1, r], [r, 1]]: 1 ± r with (1, ±1)/√2.
    const two = decomposeCorrelation(Float64Array.of(1, 0.3, 0.3, 1), 2);
    expect(two.values[0]).toBeCloseTo(1.3, 15);
    expect(two.values[1]).toBeCloseTo(0.7, 15);
    expect(Math.abs(two.vectors[0]![0]!)).toBeCloseTo(Math.SQRT1_2, 15);
    expect(two.vectors[0]![0]! * two.vectors[0]![1]!).toBeCloseTo(0.5, 15);
    expect(two.vectors[1]![0]! * two.vectors[1]![1]!).toBeCloseTo(-0.5, 15);
    // ρ off the diagonal: 1 + 2ρ with (1, 1, 1)/√3, and 1 − ρ twice.
    const rho = -0.4;
    const three = decomposeCorrelation(Float64Array.of(1, rho, rho, rho, 1, rho, rho, rho, 1), 3);
    expect(three.values[0]).toBeCloseTo(1 - rho, 14);
    expect(three.values[1]).toBeCloseTo(1 - rho, 14);
    expect(three.values[2]).toBeCloseTo(1 + 2 * rho, 14);
    for (const x of three.vectors[2]!) expect(Math.abs(x)).toBeCloseTo(1 / Math.sqrt(3), 14);
    // A 1×1 matrix is its own eigenvalue, with vector 1.
    expect(decomposeCorrelation(Float64Array.of(1), 1)).toEqual({ values: [1], vectors: [[1]] });
  });

  it('keeps a nearly singular matrix\'s small eigenvalue to its last bits', () => {
    // [[1, b], [b, 1]] with b = 1 − 1e-12 (as stored): eigenvalues 1 ± b, and 1 − b is
    // exact in float64. Recomputing the diagonal from cos and sin would leave ~1e-16 of
    // absolute error, 1e-4 of this eigenvalue.
    const b = 1 - 1e-12;
    const { values } = decomposeCorrelation(Float64Array.of(1, b, b, 1), 2);
    expect(values[1]).toBe(1 - b);
    expect(values[0]).toBe(1 + b);
  });

  it('gives orthonormal eigenvectors with A·v = λ·v, eigenvalues largest first and summing to the trace', () => {
    const column = fc.array(entry, { minLength: 6, maxLength: 6 });
    fc.assert(
      fc.property(fc.array(column, { minLength: 1, maxLength: 5 }), fc.boolean(), (columns, collinear) => {
        // An exact multiple of a (non-zero) column makes the matrix singular.
        const singular = collinear && columns[0]!.some((x) => x !== 0);
        if (singular) columns.push(columns[0]!.map((x) => 2 * x));
        const { matrix, q } = correlationOf(columns);
        if (q === 0) return;
        const { values, vectors } = decomposeCorrelation(matrix, q);
        const largest = values[0]!;
        let trace = 0;
        for (let i = 0; i < q; i++) trace += matrix[i * q + i]!;
        expect(Math.abs(values.reduce((a, b) => a + b, 0) - trace)).toBeLessThan(1e-13 * q);
        for (let i = 0; i < q; i++) {
          expect(values[i]!).toBeGreaterThanOrEqual(0);
          if (i > 0) expect(values[i]!).toBeLessThanOrEqual(values[i - 1]!);
          for (let j = 0; j < q; j++) {
            let dot = 0;
            for (let k = 0; k < q; k++) dot += vectors[i]![k]! * vectors[j]![k]!;
            expect(Math.abs(dot - (i === j ? 1 : 0))).toBeLessThan(1e-14);
          }
          for (let k = 0; k < q; k++) {
            let product = 0;
            for (let m = 0; m < q; m++) product += matrix[k * q + m]! * vectors[i]![m]!;
            expect(Math.abs(product - values[i]! * vectors[i]![k]!)).toBeLessThan(1e-14 * Math.max(1, largest));
          }
        }
        if (singular) expect(values[q - 1]!).toBeLessThan(1e-14 * largest);
      }),
      { numRuns: 500 },
    );
  });
});
