/**
 * Cheap sketches for layer stacking ("frankenmerges"): to find, for each suspect
 * tensor, the parent tensor of the same shape — under any name or layer index — that
 * it copies, every tensor is first reduced to SKETCH_ROWS seeded random projections
 * Σ_i σ_r(i)·x_i with signs σ_r(i) = ±1 drawn from a hash of the element's index.
 * Projections are linear, so ‖S(s) − S(p)‖² estimates ‖s − p‖² (each row has
 * expectation ‖s − p‖², relative spread √(2/rows) ≈ 0.35 of the mean), and they are
 * additive over element ranges like the moments. A copy gives a distance of exactly 0
 * (same values, same order of additions), a fine-tune of the same layer ~1e-4 of the
 * norm, a different layer ~2: a gap no estimation error can bridge. Candidates that
 * survive the sketch then get an exact check (elements bit-equal), which needs a read.
 */
export const SKETCH_ROWS = 16;

export interface TensorSketch {
  /** Σ σ_r(i)·x_i per row. */
  readonly rows: Float64Array;
  /** Σ x_i² (the norm the relative distance is measured against). */
  norm2: number;
  elements: number;
}

export function emptySketch(): TensorSketch {
  return { rows: new Float64Array(SKETCH_ROWS), norm2: 0, elements: 0 };
}

/**
 * Adds `count` values whose first is the tensor's element `firstIndex`. One 32-bit
 * hash per element supplies the sixteen signs (bits 0…15 of a murmur3-style finaliser,
 * which mixes every input bit into every output bit). Non-finite values are skipped.
 */
export function accumulateSketch(values: Float64Array, count: number, firstIndex: number, sketch: TensorSketch): void {
  const rows = sketch.rows;
  for (let i = 0; i < count; i++) {
    const x = values[i]!;
    if (!Number.isFinite(x)) continue;
    let h = (firstIndex + i) | 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h ^= h >>> 16;
    for (let r = 0; r < SKETCH_ROWS; r++) rows[r]! += (h >>> r) & 1 ? x : -x;
    sketch.norm2 += x * x;
  }
  sketch.elements += count;
}

/** ‖S(a) − S(b)‖² / (rows · ‖a‖²): estimates ‖a − b‖²/‖a‖²; 0 for copies, Infinity when a is zero and b is not. */
export function sketchDistance(a: TensorSketch, b: TensorSketch): number {
  let sum = 0;
  for (let r = 0; r < SKETCH_ROWS; r++) {
    const d = a.rows[r]! - b.rows[r]!;
    sum += d * d;
  }
  if (sum === 0) return 0;
  return a.norm2 > 0 ? sum / (SKETCH_ROWS * a.norm2) : Infinity;
}
