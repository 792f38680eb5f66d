import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseExact, stringifyExact } from '../../src/partial/tensor-json.js';

/** JSON-ready values: numbers with the non-finite ones (not −0, which JSON cannot hold), and strings, the tags' text among them. */
const value = fc.letrec((tie) => ({
  leaf: fc.oneof(
    fc.double({ noDefaultInfinity: false, noNaN: false }).filter((x) => !Object.is(x, -0)),
    fc.constantFrom(Infinity, -Infinity, NaN),
    fc.string(),
    fc.string().map((s) => `#${s}`),
    fc.constantFrom('#', '##', '#Infinity', '#-Infinity', '#NaN', '##NaN', 'a "#NaN" in quotes', null, true, false),
  ),
  node: fc.oneof({ depthSize: 'small' }, tie('leaf'), fc.array(tie('node'), { maxLength: 5 }), fc.dictionary(fc.string(), tie('node'), { maxKeys: 5 })),
})).node;

describe('stringifyExact / parseExact', () => {
  it('round-trip every number, the non-finite ones too, with and without them in the value', () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(parseExact(stringifyExact(v))).toEqual(v);
      }),
      { numRuns: 2000 },
    );
  });

  it('write plain JSON when nothing needs a tag, and read tags however the string is escaped', () => {
    const plain = { a: [1, 0.1, 'x#'], b: { c: null } };
    expect(stringifyExact(plain)).toBe(JSON.stringify(plain));
    expect(stringifyExact({ a: [Infinity, -Infinity, NaN] })).toBe('{"a":["#Infinity","#-Infinity","#NaN"]}');
    expect(stringifyExact({ name: '#NaN', n: NaN })).toBe('{"name":"##NaN","n":"#NaN"}');
    expect(parseExact('{"name":"##NaN","n":"#NaN"}')).toEqual({ name: '#NaN', n: NaN });
    expect(parseExact('{"a":["\\u0023Infinity", "#NaN"], "b": "#"}')).toEqual({ a: [Infinity, NaN], b: '#' });
    expect(parseExact('["\\u0023-Infinity"]')).toEqual([-Infinity]);
  });
});
