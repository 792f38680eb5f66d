/**
 * Where the array at a path of keys lies in JSON text given as UTF-8 bytes, and where
 * each of its elements lies, without parsing anything: so a document too long for one string
 * (V8's strings stop at 2^29 − 24 characters) can be parsed piece by piece. Only the
 * structure is followed (strings with their escapes, and nesting); the pieces are
 * checked when they are parsed.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

export interface ArraySpan {
  /** Index of the array's '['. */
  readonly open: number;
  /** Index of its ']'. */
  readonly close: number;
  /** Each element's [start, end) byte range. */
  readonly elements: readonly (readonly [number, number])[];
}

/** JSON text up to this many bytes is parsed as one string (see parseJsonBytes). */
export const WHOLE_PARSE_BYTES = 1 << 28;

/**
 * `parse` (JSON.parse with a reviver, say) of JSON text given as UTF-8 bytes, whatever
 * their length: past `wholeBelow` bytes the array at `path` is cut out of the text, the
 * rest parsed, each element parsed on its own and the array put back. A reviver sees
 * the same values either way. A byte-order mark is kept, so it is refused as JSON.parse
 * refuses it in the whole text. Throws SyntaxError on text that is not JSON.
 */
export function parseJsonBytes(bytes: Uint8Array, path: readonly string[], parse: (text: string) => unknown, wholeBelow = WHOLE_PARSE_BYTES): unknown {
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  const span = bytes.length < wholeBelow ? null : arraySpanAt(bytes, path);
  if (!span) return parse(decoder.decode(bytes));
  const outline = parse(`${decoder.decode(bytes.subarray(0, span.open))}[]${decoder.decode(bytes.subarray(span.close + 1))}`);
  const elements = span.elements.map(([start, end]) => parse(decoder.decode(bytes.subarray(start, end))));
  // The span was found along `path`, so every object on it is there.
  let holder = outline as Record<string, unknown>;
  for (const key of path.slice(0, -1)) holder = holder[key] as Record<string, unknown>;
  holder[path.at(-1)!] = elements;
  return outline;
}

/**
 * The array at `path` (keys of nested objects from the top-level one: ['report',
 * 'tensors'] is value.report.tensors), or null when there is none.
 */
export function arraySpanAt(bytes: Uint8Array, path: readonly string[]): ArraySpan | null {
  const encoder = new TextEncoder();
  const wanted = path.map((key) => encoder.encode(key));
  let depth = 0;
  // The containers from the outside in that lie on the path (the top-level one always).
  let onPath = 0;
  // The next container opened is the value of a key on the path.
  let entering = false;
  for (let i = 0; i < bytes.length; ) {
    const c = bytes[i]!;
    if (c === QUOTE) {
      const end = stringEnd(bytes, i);
      const key = wanted[depth - 1];
      if (depth >= 1 && depth === onPath && key && end - i - 2 === key.length && key.every((b, k) => bytes[i + 1 + k] === b)) {
        let j = skipSpace(bytes, end);
        if (bytes[j] === COLON) {
          j = skipSpace(bytes, j + 1);
          if (depth === wanted.length && bytes[j] === OPEN_BRACKET) return elementsFrom(bytes, j);
          if (depth < wanted.length && bytes[j] === OPEN_BRACE) entering = true;
          i = j;
          continue;
        }
      }
      i = end;
      continue;
    }
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++;
      if (depth === 1 || entering) onPath = depth;
      entering = false;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
      if (onPath > depth) onPath = depth;
    }
    i++;
  }
  return null;
}

function elementsFrom(bytes: Uint8Array, open: number): ArraySpan {
  const elements: [number, number][] = [];
  let i = skipSpace(bytes, open + 1);
  if (bytes[i] === CLOSE_BRACKET) return { open, close: i, elements };
  for (;;) {
    const end = valueEnd(bytes, i);
    elements.push([i, end]);
    i = skipSpace(bytes, end);
    if (bytes[i] === COMMA) {
      i = skipSpace(bytes, i + 1);
      continue;
    }
    if (bytes[i] === CLOSE_BRACKET) return { open, close: i, elements };
    throw new SyntaxError(`JSON: expected ',' or ']' at byte ${i}`);
  }
}

/** The index just past the value that starts at `i`. */
function valueEnd(bytes: Uint8Array, i: number): number {
  const c = bytes[i];
  if (c === QUOTE) return stringEnd(bytes, i);
  if (c === OPEN_BRACE || c === OPEN_BRACKET) {
    let depth = 0;
    for (let j = i; j < bytes.length; ) {
      const b = bytes[j]!;
      if (b === QUOTE) {
        j = stringEnd(bytes, j);
        continue;
      }
      if (b === OPEN_BRACE || b === OPEN_BRACKET) depth++;
      else if ((b === CLOSE_BRACE || b === CLOSE_BRACKET) && --depth === 0) return j + 1;
      j++;
    }
    throw new SyntaxError(`JSON: unterminated value from byte ${i}`);
  }
  // A number or a literal: up to the next delimiter.
  let j = i;
  while (j < bytes.length && bytes[j] !== COMMA && bytes[j] !== CLOSE_BRACKET && bytes[j] !== CLOSE_BRACE && !isSpace(bytes[j]!)) j++;
  if (j === i) throw new SyntaxError(`JSON: expected a value at byte ${i}`);
  return j;
}

/** The index just past the string whose opening quote is at `i`. */
function stringEnd(bytes: Uint8Array, i: number): number {
  for (let j = i + 1; j < bytes.length; j++) {
    const b = bytes[j]!;
    if (b === BACKSLASH) j++;
    else if (b === QUOTE) return j + 1;
  }
  throw new SyntaxError(`JSON: unterminated string from byte ${i}`);
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

function skipSpace(bytes: Uint8Array, i: number): number {
  while (i < bytes.length && isSpace(bytes[i]!)) i++;
  return i;
}
