/**
 * JSON for per-tensor results kept between runs (checkpoints, partial reports). JSON has
 * no Infinity or NaN (a condition number can be Infinity), so such numbers travel as
 * tagged strings; every finite number round-trips exactly (JSON.stringify writes the
 * shortest decimal that reads back as the same double).
 */
const NON_FINITE: Readonly<Record<string, number>> = {
  '#Infinity': Number.POSITIVE_INFINITY,
  '#-Infinity': Number.NEGATIVE_INFINITY,
  '#NaN': Number.NaN,
};

export function stringifyExact(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'number' && !Number.isFinite(v)) return `#${String(v)}`;
    return v;
  });
}

export function parseExact(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => (typeof v === 'string' && Object.hasOwn(NON_FINITE, v) ? NON_FINITE[v] : v));
}
