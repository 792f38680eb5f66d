/**
 * Strict reader of a safetensors header: 8-byte little-endian length N, N bytes of UTF-8
 * JSON (padded with spaces), then the data area. Anything the reference implementation
 * (huggingface/safetensors, tensor.rs) would refuse is refused here too, plus a few
 * things it lets through (unknown keys, duplicate keys) because a header that two tools
 * read differently could show provcheck different weights from the ones a user loads.
 */
import { MalformedInputError } from '../errors.js';
import type { ByteSource } from '../source/byte-source.js';
import { byteLengthOf, isKnownDType } from './dtype.js';
import type { ShardDescriptor, TensorDescriptor } from './model-layout.js';

/**
 * The reference implementation's limit (MAX_HEADER_SIZE in tensor.rs): a file it cannot
 * load is not one provcheck should vouch for, and the cap bounds the one allocation a
 * hostile length prefix could otherwise make arbitrarily large. Real headers are far
 * smaller: ~0.4 MB for all 94 shards of a 400B-parameter checkpoint together.
 */
export const MAX_HEADER_BYTES = 100_000_000;

/**
 * numpy (NPY_MAXDIMS since 2.0) and PyTorch stop at 64 dimensions, so any file those
 * libraries wrote fits; weights in practice have rank 5 at most. A longer shape is garbage.
 */
export const MAX_RANK = 64;

/**
 * A million tensors in one file is ~10x the largest public checkpoints in total (across
 * all their shards). The cap bounds the descriptors built per file before any other
 * check can fail; the header cap alone would allow about two million tiny entries.
 */
export const MAX_TENSORS_PER_FILE = 1_000_000;

/**
 * Element counts up to 2^47 keep `elements × bits` (at most 64 bits each) an exact
 * float64 integer; a single tensor that large would be a 64 TiB payload at 4 bits.
 */
const MAX_ELEMENTS = 2 ** 47;

const ENTRY_KEYS = ['dtype', 'shape', 'data_offsets'] as const;
const PREFIX_BYTES = 8;

/** One parsed file: its shard descriptor and its tensors in on-disk order. */
export interface ParsedShard {
  readonly shard: ShardDescriptor;
  readonly tensors: readonly TensorDescriptor[];
}

interface Entry {
  name: string;
  dtype: string;
  shape: readonly number[];
  elements: number;
  begin: number;
  end: number;
}

/**
 * Reads and validates the header of the safetensors file behind `source`. `file` is its
 * path relative to the model root (recorded in the descriptor); messages name
 * `source.name`. Reads only the header, never tensor data.
 */
export async function parseSafetensorsHeader(source: ByteSource, file: string): Promise<ParsedShard> {
  const fail = (problem: string): never => {
    throw new MalformedInputError(source.name, problem);
  };
  if (source.size < PREFIX_BYTES) {
    fail(`file is ${source.size} bytes, shorter than the 8-byte header length prefix: not a safetensors file`);
  }
  const prefix = await source.read(0, PREFIX_BYTES);
  const declared = new DataView(prefix.buffer, prefix.byteOffset, PREFIX_BYTES).getBigUint64(0, true);
  if (declared === 0n) fail('header length is 0: not a safetensors file');
  if (declared > BigInt(MAX_HEADER_BYTES)) {
    fail(`header length ${declared} exceeds the ${MAX_HEADER_BYTES}-byte limit: not a safetensors file, or a corrupt one`);
  }
  const headerLength = Number(declared);
  const dataStart = PREFIX_BYTES + headerLength;
  if (dataStart > source.size) {
    fail(`header length ${headerLength} runs past the end of the file (${source.size} bytes): truncated or not a safetensors file`);
  }

  const headerBytes = await source.read(PREFIX_BYTES, dataStart);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    return fail('header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (error) {
    return fail(`header is not valid JSON (${oneLine(error instanceof Error ? error.message : String(error))})`);
  }
  if (!isPlainObject(header)) fail(`header JSON is ${describe(header)}, not an object`);
  const duplicate = firstDuplicateKey(text);
  if (duplicate !== null) fail(`header JSON repeats the key ${quote(duplicate)}`);

  const dataSize = source.size - dataStart;
  const { metadata, entries } = readEntries(header as Record<string, unknown>, dataSize, fail);
  checkCoverage(entries, dataSize, fail);

  const shard: ShardDescriptor = {
    file,
    source,
    size: source.size,
    dataStart,
    metadata,
    tensorNames: entries.map((e) => e.name),
  };
  const tensors = entries.map(
    (e): TensorDescriptor => ({
      name: e.name,
      dtype: e.dtype,
      shape: e.shape,
      elements: e.elements,
      shard,
      start: dataStart + e.begin,
      byteLength: e.end - e.begin,
    }),
  );
  return { shard, tensors };
}

function readEntries(
  header: Record<string, unknown>,
  dataSize: number,
  fail: (problem: string) => never,
): { metadata: Readonly<Record<string, string>>; entries: Entry[] } {
  // Pairs, not assignment: a key "__proto__" must stay a plain key.
  const metadata: [string, string][] = [];
  const entries: Entry[] = [];
  const shapes = new ShapeTable();
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isPlainObject(value)) fail(`__metadata__ is ${describe(value)}, not an object of strings`);
      for (const [key, text] of Object.entries(value as Record<string, unknown>)) {
        if (typeof text !== 'string') fail(`__metadata__ value for ${quote(key)} is ${describe(text)}, not a string`);
        metadata.push([key, text as string]);
      }
      continue;
    }
    if (entries.length === MAX_TENSORS_PER_FILE) fail(`more than ${MAX_TENSORS_PER_FILE} tensors in one file`);
    entries.push(readEntry(name, value, dataSize, fail, shapes));
  }
  return { metadata: Object.fromEntries(metadata), entries };
}

/**
 * One frozen array per distinct shape of a file: a per-expert checkpoint repeats a few
 * shapes over 100k+ tensors, and an array each (~64 B with its elements) was held for
 * the whole run (heap snapshot after aligning the 100,000-tensor bench trio, three
 * models: 162.1 -> 142.9 MB).
 */
class ShapeTable {
  private readonly known = new Map<string, readonly number[]>();

  /** `shape` (already checked: whole numbers), or the equal one seen before. */
  intern(shape: readonly number[]): readonly number[] {
    const key = shape.join(',');
    let known = this.known.get(key);
    if (known === undefined) {
      known = Object.freeze([...shape]);
      this.known.set(key, known);
    }
    return known;
  }
}

function readEntry(name: string, value: unknown, dataSize: number, fail: (problem: string) => never, shapes: ShapeTable): Entry {
  const tensor = `tensor ${quote(name)}`;
  if (!isPlainObject(value)) fail(`${tensor}: entry is ${describe(value)}, not an object`);
  const entry = value as Record<string, unknown>;
  for (const key of Object.keys(entry)) {
    if (!(ENTRY_KEYS as readonly string[]).includes(key)) fail(`${tensor}: unexpected key ${quote(key)}`);
  }
  for (const key of ENTRY_KEYS) {
    if (!Object.hasOwn(entry, key)) fail(`${tensor}: missing ${quote(key)}`);
  }

  const dtype = entry.dtype;
  if (typeof dtype !== 'string') return fail(`${tensor}: dtype is ${describe(dtype)}, not a string`);
  if (!isKnownDType(dtype)) fail(`${tensor}: unknown dtype ${quote(dtype)}`);

  const shape = entry.shape;
  if (!Array.isArray(shape)) return fail(`${tensor}: shape is ${describe(shape)}, not an array`);
  if (shape.length > MAX_RANK) fail(`${tensor}: shape has ${shape.length} dimensions, more than ${MAX_RANK}`);
  let elements = 1;
  for (const dim of shape as unknown[]) {
    if (!isCount(dim)) fail(`${tensor}: shape ${compact(shape)} has a dimension that is not a non-negative integer`);
    elements *= dim as number;
    if (elements > MAX_ELEMENTS) fail(`${tensor}: shape ${compact(shape)} has more than 2^47 elements`);
  }

  const offsets = entry.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !isCount(offsets[0]) || !isCount(offsets[1])) {
    return fail(`${tensor}: data_offsets ${compact(offsets)} is not a pair of non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) fail(`${tensor}: data_offsets [${begin}, ${end}) end before they begin`);
  if (end > dataSize) {
    fail(`${tensor}: data_offsets [${begin}, ${end}) run past the end of the data area (${dataSize} bytes): truncated file?`);
  }

  const bytes = byteLengthOf(dtype, elements);
  if (bytes === null) fail(`${tensor}: ${elements} ${dtype} elements do not fill a whole number of bytes`);
  if (bytes !== end - begin) {
    fail(`${tensor}: shape ${compact(shape)} of ${dtype} needs ${bytes} bytes but data_offsets [${begin}, ${end}) hold ${end - begin}`);
  }
  return { name, dtype, shape: shapes.intern(shape as number[]), elements, begin, end };
}

/**
 * The data area must be tiled exactly: sorted by offset, each tensor begins where the
 * previous one ended, the first at 0 and the last at the end of the file. Bytes that
 * belong to no tensor could hide anything; overlapping tensors are two views of one
 * payload. This is the reference implementation's rule (Metadata::validate).
 */
function checkCoverage(entries: Entry[], dataSize: number, fail: (problem: string) => never): void {
  // Stable: empty tensors at the same offset keep their header order.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: Entry | null = null;
  for (const entry of entries) {
    if (entry.begin > covered) {
      const after = previous ? `after tensor ${quote(previous.name)}` : 'at the start of the data area';
      fail(`data bytes [${covered}, ${entry.begin}) ${after} belong to no tensor`);
    }
    if (entry.begin < covered && previous) {
      fail(
        `tensors ${quote(previous.name)} [${previous.begin}, ${previous.end}) and ${quote(entry.name)} [${entry.begin}, ${entry.end}) overlap`,
      );
    }
    covered = entry.end;
    previous = entry;
  }
  if (covered < dataSize) {
    fail(`the last ${dataSize - covered} bytes of the file belong to no tensor (data area is ${dataSize} bytes, tensors end at ${covered})`);
  }
}

/**
 * The first key that some object in `text` (valid JSON) repeats, or null. JSON.parse
 * keeps the last of duplicate keys silently; other readers keep the first. A header has
 * one entry object per tensor (100,000 in a per-expert checkpoint's file), so the walk
 * makes no set per object (see ObjectKeys) and parses only keys that hold an escape.
 */
function firstDuplicateKey(text: string): string | null {
  // The keys of each open object; null for an open array.
  const open: (ObjectKeys | null)[] = [];
  const spare: ObjectKeys[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const stringStart = i;
      let escaped = false;
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) {
          escaped = true;
          i += 2;
        } else if (d === 0x22) break;
        else i++;
      }
      i++;
      const keys = open[open.length - 1];
      if (keys) {
        let j = i;
        while (j < n && isJsonSpace(text.charCodeAt(j))) j++;
        if (text.charCodeAt(j) === 0x3a /* : */) {
          const key = escaped ? (JSON.parse(text.slice(stringStart, i)) as string) : text.slice(stringStart + 1, i - 1);
          if (!keys.add(key)) return key;
        }
      }
      continue;
    }
    if (c === 0x7b /* { */) open.push(spare.pop() ?? new ObjectKeys());
    else if (c === 0x5b /* [ */) open.push(null);
    else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      const closed = open.pop();
      if (closed) spare.push(closed.cleared());
    }
    i++;
  }
  return null;
}

/**
 * The keys of one JSON object: a list searched in turn while short (an entry has three),
 * a set once longer (the header's top level has one per tensor). Reused once cleared.
 */
class ObjectKeys {
  private static readonly LIST_KEYS = 16;
  private readonly list: string[] = [];
  private set: Set<string> | null = null;

  /** Adds `key`; false when the object already had it. */
  add(key: string): boolean {
    if (this.set !== null) {
      if (this.set.has(key)) return false;
      this.set.add(key);
      return true;
    }
    for (const known of this.list) if (known === key) return false;
    this.list.push(key);
    if (this.list.length > ObjectKeys.LIST_KEYS) this.set = new Set(this.list);
    return true;
  }

  cleared(): this {
    this.list.length = 0;
    this.set = null;
    return this;
  }
}

function isJsonSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function isPlainObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${truncate(JSON.stringify(value) ?? String(value))}`;
}

/** JSON quoting escapes control characters, so a hostile name cannot break the line. */
function quote(text: string): string {
  return truncate(JSON.stringify(text));
}

function compact(value: unknown): string {
  return truncate(JSON.stringify(value) ?? String(value));
}

function truncate(text: string): string {
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

function oneLine(text: string): string {
  return truncate(text.replace(/\s+/g, ' '));
}
