import { needsTags } from '../report/non-finite.js';

/**
 * JSON for per-tensor results kept between runs (checkpoints, partial reports) and sent
 * from workers (worker-engine.ts). JSON has no Infinity or NaN (a condition number can
 * be Infinity), so such numbers travel as tagged strings: "#Infinity", "#-Infinity",
 * "#NaN". A string of the data that starts with "#" gets one more in front ("#NaN" a
 * tensor's name travels as "##NaN"), so that no string reads back as a number. Every
 * finite number round-trips exactly (JSON.stringify writes the shortest decimal that
 * reads back as the same double). Without a non-finite number or a string starting with
 * "#", neither side needs a replacer or a reviver, and JSON.stringify and JSON.parse
 * keep V8's fast paths: they are taken only when needed.
 */
const NON_FINITE: Readonly<Record<string, number>> = {
  '#Infinity': Number.POSITIVE_INFINITY,
  '#-Infinity': Number.NEGATIVE_INFINITY,
  '#NaN': Number.NaN,
};

export function stringifyExact(value: unknown): string {
  if (!needsTags(value)) return JSON.stringify(value);
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'number' && !Number.isFinite(v)) return `#${String(v)}`;
    if (typeof v === 'string' && v.startsWith('#')) return `#${v}`;
    return v;
  });
}

/**
 * stringifyExact of the object that has `parts`' fields, in order, without making that
 * object: each part's text, braces cut off, joined. The parts must not share a key, and
 * no key may be an array index ("0", "17": an object lists those first). An
 * object of ~30 fields made by copying parts in is a dictionary in V8 (past 12 fields
 * added by keyed stores), slow to build and slower to stringify: on 100,000 small
 * tensors that was ~13% of a worker's time (node --cpu-prof: Object.assign and
 * JSON.stringify), where each part here is an object literal.
 */
export function stringifyJoined(parts: readonly object[]): string {
  let fields = '';
  for (const part of parts) {
    const text = stringifyExact(part);
    // '{}': a part with no field, or only undefined ones.
    if (text.length > 2) fields += fields.length > 0 ? `,${text.slice(1, -1)}` : text.slice(1, -1);
  }
  return `{${fields}}`;
}

export function parseExact(text: string): unknown {
  // Every tag and escaped string starts "# (or, written by hand, "\u0023): text without either holds none.
  if (!text.includes('"#') && !text.includes('"\\u0023')) return JSON.parse(text);
  return JSON.parse(text, (_key, v: unknown) => {
    if (typeof v !== 'string' || !v.startsWith('#')) return v;
    if (v.startsWith('##')) return v.slice(1);
    return Object.hasOwn(NON_FINITE, v) ? NON_FINITE[v] : v;
  });
}
