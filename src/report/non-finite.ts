/**
 * Whether a JSON-ready value holds a NaN or an infinity anywhere: JSON has neither, so
 * such a value needs a replacer (render-json.ts), and one without can take
 * JSON.stringify's fast path.
 */
export function hasNonFinite(value: unknown): boolean {
  return holds(value, false);
}

/**
 * Whether the JSON of partial/tensor-json.ts needs its replacer: a NaN or an infinity,
 * or a string starting with "#", anywhere in the value.
 */
export function needsTags(value: unknown): boolean {
  return holds(value, true);
}

function holds(value: unknown, hashStrings: boolean): boolean {
  if (typeof value === 'number') return !Number.isFinite(value);
  if (typeof value === 'string') return hashStrings && value.startsWith('#');
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some((v) => holds(v, hashStrings));
  for (const key in value) if (holds((value as Record<string, unknown>)[key], hashStrings)) return true;
  return false;
}
