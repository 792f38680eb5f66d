import { hasNonFinite } from '../report/non-finite.js';

/**
 * JSON for per-tensor results kept between runs (checkpoints, partial reports) and sent
 * from workers (worker-engine.ts). JSON has no Infinity or NaN (a condition number can
 * be Infinity), so such numbers travel as tagged strings; every finite number
 * round-trips exactly (JSON.stringify writes the shortest decimal that reads back as
 * the same double). Without a non-finite number, neither side needs a replacer or a
 * reviver, and JSON.stringify and JSON.parse keep V8's fast paths: they are taken only
 * when needed.
 */
const NON_FINITE: Readonly<Record<string, number>> = {
  '#Infinity': Number.POSITIVE_INFINITY,
  '#-Infinity': Number.NEGATIVE_INFINITY,
  '#NaN': Number.NaN,
};

export function stringifyExact(value: unknown): string {
  if (!hasNonFinite(value)) return JSON.stringify(value);
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'number' && !Number.isFinite(v)) return `#${String(v)}`;
    return v;
  });
}

export function parseExact(text: string): unknown {
  // Every tag is a string starting "# (or, written by hand, "\u0023): text without either holds none.
  if (!text.includes('"#') && !text.includes('"\\u0023')) return JSON.parse(text);
  return JSON.parse(text, (_key, v: unknown) => (typeof v === 'string' && Object.hasOwn(NON_FINITE, v) ? NON_FINITE[v] : v));
}

