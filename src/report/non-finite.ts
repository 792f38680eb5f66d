/**
 * Whether a JSON-ready value holds a NaN or an infinity anywhere: JSON has neither, so
 * such a value needs a replacer (render-json.ts, partial/tensor-json.ts), and one
 * without can take JSON.stringify's fast path.
 */
export function hasNonFinite(value: unknown): boolean {
  if (typeof value === 'number') return !Number.isFinite(value);
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some(hasNonFinite);
  for (const key in value) if (hasNonFinite((value as Record<string, unknown>)[key])) return true;
  return false;
}
