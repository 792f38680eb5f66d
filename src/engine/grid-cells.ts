import { decodeWithCell, encode, type FloatFormat } from '../format/dtype.js';

/**
 * Rounding cells of values that lie on `grid`, as the grid's own storage would give
 * them: a bf16 merge saved as F32 is judged by bf16's cells (statistics.md).
 */
export function cellsOnGrid(grid: FloatFormat, values: Float64Array, count: number, above: Float64Array, below: Float64Array): void {
  const codes = encode(grid, values.subarray(0, count));
  const scratch = new Float64Array(count);
  decodeWithCell(grid, codes, scratch, above, below, count);
}
