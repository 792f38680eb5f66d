import type { FloatFormat } from '../../../src/format/dtype.js';
import type { LogicalTensor } from '../../../src/format/logical-tensor.js';
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

/** A logical tensor over values in memory, with the cells of `format`. */
export function inMemoryTensor(values: Float64Array, format: FloatFormat): LogicalTensor {
  const cells = cellsOf(format, values);
  return {
    name: 't',
    shape: [values.length],
    elements: values.length,
    encoding: format.dtype,
    storedBytes: values.length * format.bytes,
    // Never rebuilt on a worker in these tests; a kind no reader of raw codes takes.
    recipe: { kind: 'in-memory' } as never,
    read(first, count, out, above, below) {
      out.set(values.subarray(first, first + count));
      above?.set(cells.above.subarray(first, first + count));
      below?.set(cells.below.subarray(first, first + count));
      return Promise.resolve();
    },
  };
}
