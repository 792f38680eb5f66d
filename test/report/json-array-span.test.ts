import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arraySpanAt } from '../../src/report/json-array-span.js';

const bytesOf = (text: string): Uint8Array => new TextEncoder().encode(text);

/** The elements arraySpanAt finds, parsed, or null without the array. */
function elementsAt(text: string, path: readonly string[]): unknown[] | null {
  const bytes = bytesOf(text);
  const span = arraySpanAt(bytes, path);
  if (!span) return null;
  const decoder = new TextDecoder();
  expect(decoder.decode(bytes.subarray(span.open, span.open + 1))).toBe('[');
  expect(decoder.decode(bytes.subarray(span.close, span.close + 1))).toBe(']');
  return span.elements.map(([start, end]) => JSON.parse(decoder.decode(bytes.subarray(start, end))) as unknown);
}

describe('arraySpanAt', () => {
  it('finds the array at a path of keys, not a same-named one elsewhere, in any layout', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 3 }),
        fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 3 }),
        fc.array(fc.jsonValue(), { maxLength: 5 }),
        fc.constantFrom(undefined, 0, 2, '\t'),
        (outer, inner, tensors, space) => {
          // Decoys before it: the same key at the top level and one level deeper under other keys.
          const value = { other: { tensors: ['decoy'] }, tensors: [9, [9]], ...outer, decoy: { report: { tensors: ['x'] } }, report: { ...inner, tensors } };
          const text = JSON.stringify(value, null, space);
          const parsed = JSON.parse(text) as { tensors: unknown; report: { tensors: unknown[] } };
          expect(elementsAt(text, ['report', 'tensors'])).toEqual(parsed.report.tensors);
          expect(elementsAt(text, ['tensors'])).toEqual(Array.isArray(parsed.tensors) ? parsed.tensors : null);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is null without the array, and refuses an array that does not end', () => {
    expect(arraySpanAt(bytesOf('{"report":{"tensors":3}}'), ['report', 'tensors'])).toBeNull();
    expect(arraySpanAt(bytesOf('{"tensors":[1,2]}'), ['report', 'tensors'])).toBeNull();
    expect(arraySpanAt(bytesOf('[{"tensors":[1]}]'), ['tensors'])).toBeNull();
    expect(() => arraySpanAt(bytesOf('{"tensors":[1,{"a":"]'), ['tensors'])).toThrow(SyntaxError);
  });
});
