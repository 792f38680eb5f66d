import type { FloatFormat } from '../../../src/format/dtype.js';
import { cellOf } from '../../helpers/reference-moments.js';

/** The rounding cells decodeWithCell would write for these stored values. */
export function cellsOf(format: FloatFormat, values: Float64Array): { above: Float64Array; below: Float64Array } {
  const above = new Float64Array(values.length);
  const below = new Float64Array(values.length);
  values.forEach((v, i) => {
    const cell = cellOf(format, v);
    above[i] = cell.above;
    below[i] = cell.below;
  });
  return { above, below };
}
