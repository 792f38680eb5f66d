import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseExact, stringifyExact, stringifyJoined } from '../../src/partial/tensor-json.js';

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

  it('join parts into the text of the object of all their fields, byte for byte', () => {
    // Parts with disjoint keys (some empty, some holding only undefined fields), the
    // values anything JSON-ready; the joined text is the merged object's. No key is an
    // array index: an object lists those first, whatever their order.
    const key = fc.string().filter((k) => !/^(0|[1-9][0-9]*)$/.test(k));
    const parts = fc.uniqueArray(key, { maxLength: 12 }).chain((keys) =>
      fc
        .tuple(
          fc.array(fc.oneof(value, fc.constant(undefined)), { minLength: keys.length, maxLength: keys.length }),
          fc.array(fc.nat(keys.length), { maxLength: 4 }),
        )
        .map(([values, cuts]) => {
          const bounds = [0, ...cuts.sort((a, b) => a - b), keys.length];
          return bounds.slice(1).map((end, i) => Object.fromEntries(keys.slice(bounds[i], end).map((k, j) => [k, values[bounds[i]! + j]])));
        }),
    );
    fc.assert(
      fc.property(parts, (list) => {
        // The merged object built from entries, so that a "__proto__" key stays a field.
        expect(stringifyJoined(list)).toBe(stringifyExact(Object.fromEntries(list.flatMap((part) => Object.entries(part)))));
      }),
      { numRuns: 2000 },
    );
    expect(stringifyJoined([])).toBe('{}');
    expect(stringifyJoined([{}, { a: undefined }, { b: NaN }, {}, { c: '#x' }])).toBe('{"b":"#NaN","c":"##x"}');
  });
});
