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
    const { values, vectors } = decomposeCorrelation(correlation, q);
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

/** Sweeps after which Jacobi's method stops even if not converged (it converges quadratically). */
const MAX_SWEEPS = 60;

/**
 * Eigenvalues (≥ 0, largest first) and unit eigenvectors of a q×q correlation matrix
 * (row-major, symmetric, positive semi-definite), by cyclic Jacobi rotations.
 *
 * Why Jacobi, and not a library's SVD: the matrices here are 1×1 to ~5×5, and Jacobi's
 * method is the accurate one for them: it finds each eigenvalue of a positive definite
 * matrix to high relative accuracy (Demmel & Veselić, 1992), which is what the rank test
 * above needs of the small ones. It is also ~50 lines: ml-matrix's SVD was 150 KB of
 * CommonJS parsed on every worker thread (~50 ms each) and ~160 ms of optimising
 * compilation per thread, for a 2×2 or 3×3 matrix per fit. A rotation zeroes an
 * off-diagonal entry; one below float64's precision of its diagonal pair's geometric
 * mean is treated as zero (the stopping rule that keeps the relative accuracy).
 */
export function decomposeCorrelation(correlation: Float64Array, q: number): { values: number[]; vectors: number[][] } {
  const a = correlation.slice(0, q * q);
  const v = new Float64Array(q * q);
  for (let i = 0; i < q; i++) v[i * q + i] = 1;
  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    let rotated = false;
    for (let p = 0; p < q - 1; p++) {
      for (let r = p + 1; r < q; r++) {
        const apr = a[p * q + r]!;
        const app = a[p * q + p]!;
        const arr = a[r * q + r]!;
        if (Math.abs(apr) <= Number.EPSILON * Math.sqrt(Math.abs(app * arr))) {
          a[p * q + r] = 0;
          a[r * q + p] = 0;
          continue;
        }
        rotated = true;
        // The rotation J = [c s; −s c] in the (p, r) plane with (JᵀAJ)[p][r] = 0 (Golub &
        // Van Loan, Algorithm 8.5.1): t = s/c, the smaller root of t² + 2τt − 1 = 0. The
        // diagonal pair moves by ∓t·a[p][r] (not recomputed from c and s, which would lose
        // a small eigenvalue's relative accuracy).
        const tau = (arr - app) / (2 * apr);
        const t = Math.abs(tau) > 1e150 ? 1 / (2 * tau) : (tau >= 0 ? 1 : -1) / (Math.abs(tau) + Math.sqrt(1 + tau * tau));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = t * c;
        for (let k = 0; k < q; k++) {
          if (k !== p && k !== r) {
            const akp = a[k * q + p]!;
            const akr = a[k * q + r]!;
            a[k * q + p] = a[p * q + k] = c * akp - s * akr;
            a[k * q + r] = a[r * q + k] = s * akp + c * akr;
          }
          const vkp = v[k * q + p]!;
          const vkr = v[k * q + r]!;
          v[k * q + p] = c * vkp - s * vkr;
          v[k * q + r] = s * vkp + c * vkr;
        }
        a[p * q + p] = app - t * apr;
        a[r * q + r] = arr + t * apr;
        a[p * q + r] = a[r * q + p] = 0;
      }
    }
    if (!rotated) break;
  }
  // Plain loops, not Array.from with a callback: this runs three times per fit, for every
  // tensor and expert slice, and those helpers were half its time (cpu-prof, 0.25 GB trio).
  const order: number[] = [];
  for (let i = 0; i < q; i++) order.push(i);
  if (q > 1) order.sort((i, j) => a[j * q + j]! - a[i * q + i]!);
  const values: number[] = [];
  const vectors: number[][] = [];
  for (const i of order) {
    // A semi-definite matrix's zero eigenvalue can come out a rounding error below 0.
    values.push(Math.max(0, a[i * q + i]!));
    const vector: number[] = [];
    for (let k = 0; k < q; k++) vector.push(v[k * q + i]!);
    vectors.push(vector);
  }
  return { values, vectors };
}

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
