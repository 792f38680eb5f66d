import { Matrix, SingularValueDecomposition } from 'ml-matrix';

/**
 * Least squares from a Gram matrix: minimize ‖y − Xc‖² knowing only XᵀX and Xᵀy.
 *
 * The columns of X are parents' difference vectors (and, for the free fit, the
 * reference). Their sizes can differ by orders of magnitude — one parent may differ
 * from the reference in a handful of elements — while what makes a weight unknowable
 * is collinearity, not size. So the Gram matrix is first scaled to unit diagonal (a
 * correlation matrix) and decomposed there; a zero column (a parent bit-identical to
 * the reference over these elements) is taken out before scaling and its coefficient
 * is unidentifiable.
 */

/**
 * An eigenvalue of the unit-diagonal Gram below this share of the largest one is
 * treated as zero. Gram entries are float64 sums whose relative error is far below
 * 1e-13 (chunked sums over ≤ 1e9 products), so directions beneath 1e-12 of the
 * largest eigenvalue cannot be told from rounding of the sums; 1e-12 on the Gram is
 * 1e-6 on the singular values of the column-normalized X.
 */
export const RANK_TOLERANCE = 1e-12;

/**
 * A direction of the parents' differences whose own size is within this many times the
 * suspect's rounding floor is rounding residue, not a parent's contribution: a parent
 * that is itself a rounded blend of the others (C = bf16(0.5·A + 0.5·B)) differs from
 * that blend only by its own rounding, ~1× the floor. Left in, that residue correlates
 * with the suspect's rounding and the fit puts large, confident and wrong weights on
 * it (0.53/0.94/−0.46 for a true 0.3/0.7/0, standard errors 3e-3). A real change of one
 * ulp in 30% of the elements is ~3.6× the floor, so 2 keeps it.
 */
export const COLLINEAR_FLOOR_MULTIPLE = 2;

/** A linear function cᵀx of the coefficients is identifiable when c is this close to orthogonal to the null space. */
const IDENTIFIABLE_TOLERANCE = 1e-6;

export interface NormalEquationsSolution {
  /** Coefficients solving the normal equations (zero along unidentifiable directions). */
  readonly coefficients: Float64Array;
  /** Rank of X used. */
  readonly rank: number;
  /** Ratio of the largest to the smallest singular value of the column-normalized X; Infinity when rank-deficient, 1 for no columns. */
  readonly conditionNumber: number;
  /** True when every column had a zero sum of squares. */
  readonly allColumnsZero: boolean;
  /** Is cᵀ(coefficients) determined by the data? */
  identifiable(c: ArrayLike<number>): boolean;
  /** cᵀ (XᵀX)⁺ c: the variance of cᵀ(coefficients) per unit of noise variance. */
  unitVariance(c: ArrayLike<number>): number;
}

/**
 * Solves (XᵀX) c = Xᵀy for `size` columns. `gram` is row-major `stride`×`stride`; the
 * columns' Gram block is at rows/columns `columns`, Xᵀy at column `target`.
 * `noiseFloor` (the rounding floor over the same elements; 0 to disable) also drops
 * directions no larger than COLLINEAR_FLOOR_MULTIPLE times it.
 */
export function solveNormalEquations(
  gram: Float64Array,
  stride: number,
  columns: readonly number[],
  target: number,
  noiseFloor = 0,
  decompose: CorrelationDecomposition = decomposeCorrelation,
): NormalEquationsSolution {
  const p = columns.length;
  const at = (i: number, j: number): number => gram[columns[i]! * stride + columns[j]!]!;
  const live: number[] = [];
  for (let i = 0; i < p; i++) if (at(i, i) > 0) live.push(i);
  const q = live.length;
  const scale = live.map((i) => Math.sqrt(at(i, i)));

  // Inverse square roots of the eigenvalues kept, with their eigenvectors, in scaled coordinates.
  const kept: { value: number; vector: number[] }[] = [];
  const dropped: number[][] = [];
  if (q > 0) {
    const correlation = new Float64Array(q * q);
    for (let a = 0; a < q; a++) {
      for (let b = 0; b < q; b++) correlation[a * q + b] = at(live[a]!, live[b]!) / (scale[a]! * scale[b]!);
    }
    const { values, vectors } = decompose(correlation, q);
    const largest = Math.max(...values);
    for (let v = 0; v < q; v++) {
      const vector = vectors[v]!;
      // The direction's size, for coefficients scaled so the largest is 1 (one whole
      // parent difference minus a combination of the others): λ / max|x|², x = S⁻¹v.
      let largestCoefficient = 0;
      for (let a = 0; a < q; a++) largestCoefficient = Math.max(largestCoefficient, Math.abs(vector[a]! / scale[a]!));
      const size = values[v]! / (largestCoefficient * largestCoefficient);
      const aboveRounding = noiseFloor <= 0 || size > COLLINEAR_FLOOR_MULTIPLE * noiseFloor;
      if (values[v]! > largest * RANK_TOLERANCE && aboveRounding) kept.push({ value: values[v]!, vector });
      else dropped.push(vector);
    }
  }

  // Null space of XᵀX in coefficient coordinates: zero columns, and dropped directions
  // mapped back through the scaling (x = S⁻¹v), orthonormalized.
  const nullBasis: Float64Array[] = [];
  for (let i = 0; i < p; i++) {
    if (at(i, i) > 0) continue;
    const unit = new Float64Array(p);
    unit[i] = 1;
    nullBasis.push(unit);
  }
  for (const v of dropped) {
    const x = new Float64Array(p);
    for (let a = 0; a < q; a++) x[live[a]!] = v[a]! / scale[a]!;
    orthonormalizeInto(nullBasis, x);
  }

  const rhs = live.map((i, a) => gram[columns[i]! * stride + target]! / scale[a]!);
  const coefficients = new Float64Array(p);
  for (const { value, vector } of kept) {
    let projection = 0;
    for (let a = 0; a < q; a++) projection += vector[a]! * rhs[a]!;
    for (let a = 0; a < q; a++) coefficients[live[a]!]! += (vector[a]! * projection) / value / scale[a]!;
  }

  const rank = kept.length;
  let conditionNumber = 1;
  if (rank < p) conditionNumber = Infinity;
  else if (rank > 0) {
    const values = kept.map((k) => k.value);
    conditionNumber = Math.sqrt(Math.max(...values) / Math.min(...values));
  }

  return {
    coefficients,
    rank,
    conditionNumber,
    allColumnsZero: q === 0,
    identifiable(c) {
      let norm = 0;
      for (let i = 0; i < p; i++) norm += c[i]! * c[i]!;
      if (norm === 0) return true;
      let inNull = 0;
      for (const basis of nullBasis) {
        let dot = 0;
        for (let i = 0; i < p; i++) dot += basis[i]! * c[i]!;
        inNull += dot * dot;
      }
      return Math.sqrt(inNull) <= IDENTIFIABLE_TOLERANCE * Math.sqrt(norm);
    },
    unitVariance(c) {
      let variance = 0;
      for (const { value, vector } of kept) {
        let dot = 0;
        for (let a = 0; a < q; a++) dot += (vector[a]! * c[live[a]!]!) / scale[a]!;
        variance += (dot * dot) / value;
      }
      return variance;
    },
  };
}

/**
 * Eigenvalues (≥ 0) and unit eigenvectors of a q×q correlation matrix (row-major,
 * symmetric, positive semi-definite), as the singular values and right singular
 * vectors of the matrix.
 */
export type CorrelationDecomposition = (correlation: Float64Array, q: number) => { values: number[]; vectors: number[][] };

/** By singular value decomposition (ml-matrix): any q. */
export const decomposeBySvd: CorrelationDecomposition = (correlation, q) => {
  const svd = new SingularValueDecomposition(new Matrix(Array.from({ length: q }, (_, a) => Array.from(correlation.subarray(a * q, (a + 1) * q)))), { autoTranspose: true });
  const vectors = svd.rightSingularVectors;
  return { values: svd.diagonal, vectors: Array.from({ length: q }, (_, v) => vectors.getColumn(v)) };
};

/**
 * In closed form for one column, else by SVD. Why: a sampled tensor is refitted for
 * every bootstrap replicate (×100 replicates × ~2,900 tensors), and two of a two-parent
 * fit's three solves have one column, where building a matrix and iterating an SVD was
 * most of a solve. The 1×1 matrix's own entry with vector 1 is what the SVD returns, bit
 * for bit (test/fit/normal-equations.test.ts checks it), so no full-scan number moves.
 * Two columns stay with the SVD: a 2×2 Jacobi rotation measured ~10% faster refits but
 * moved full-scan numbers by up to 6e-13 relative.
 */
export const decomposeCorrelation: CorrelationDecomposition = (correlation, q) =>
  q === 1 ? { values: [correlation[0]!], vectors: [[1]] } : decomposeBySvd(correlation, q);

/** Adds x to an orthonormal basis (Gram–Schmidt, twice for stability) unless it is already spanned. */
function orthonormalizeInto(basis: Float64Array[], x: Float64Array): void {
  const original = Math.hypot(...x);
  if (original === 0) return;
  for (let pass = 0; pass < 2; pass++) {
    for (const b of basis) {
      let dot = 0;
      for (let i = 0; i < x.length; i++) dot += b[i]! * x[i]!;
      for (let i = 0; i < x.length; i++) x[i]! -= dot * b[i]!;
    }
  }
  const norm = Math.hypot(...x);
  if (norm <= 1e-9 * original) return;
  for (let i = 0; i < x.length; i++) x[i]! /= norm;
  basis.push(x);
}

/**
 * Below this many float64 epsilons of the quadratic form's largest terms, an rss is
 * cancellation residue of evaluating it from the Gram matrix, not a residual: it is
 * reported as 0. (For a bf16 or F32 suspect a real residual at the rounding floor is
 * 1e-10 or more of those terms; only an F64 suspect fitted to float64 precision is
 * affected, and there nothing below float64's own precision can be measured anyway.)
 */
const CANCELLATION_EPSILONS = 64;

/** ‖y − Xc‖² = yᵀy − 2cᵀXᵀy + cᵀXᵀXc from the Gram matrix; 0 when within cancellation residue. */
export function residualSumOfSquares(
  gram: Float64Array,
  stride: number,
  columns: readonly number[],
  target: number,
  c: ArrayLike<number>,
): number {
  let rss = gram[target * stride + target]!;
  let magnitude = Math.abs(rss);
  for (let i = 0; i < columns.length; i++) {
    const ci = c[i]!;
    if (ci === 0) continue;
    const cross = 2 * ci * gram[columns[i]! * stride + target]!;
    rss -= cross;
    magnitude += Math.abs(cross);
    for (let j = 0; j < columns.length; j++) {
      const quadratic = ci * c[j]! * gram[columns[i]! * stride + columns[j]!]!;
      rss += quadratic;
      magnitude += Math.abs(quadratic);
    }
  }
  return rss > CANCELLATION_EPSILONS * Number.EPSILON * magnitude ? rss : 0;
}
