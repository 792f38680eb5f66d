import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MalformedInputError } from '../../src/errors.js';
import { DTYPE_BITS } from '../../src/format/dtype.js';
import { MAX_HEADER_BYTES, parseSafetensorsHeader } from '../../src/format/safetensors-header.js';
import { MemorySource } from '../../src/source/memory-source.js';
import { serializeSafetensors, type SerializeOptions, type TensorBytes } from '../helpers/safetensors-writer.js';

const FILE = 'shard.safetensors';

function tensor(name: string, dtype: string, shape: number[], bytes?: number): TensorBytes {
  const elements = shape.reduce((a, b) => a * b, 1);
  const length = bytes ?? (elements * DTYPE_BITS[dtype]!) / 8;
  return { name, dtype, shape, data: Uint8Array.from({ length }, (_, i) => (i * 31 + name.length) % 256) };
}

function parse(bytes: Uint8Array) {
  return parseSafetensorsHeader(new MemorySource(bytes, FILE), FILE);
}

/** The parser's complaint about a file: asserts the class and that the message names the file. */
async function problemWith(bytes: Uint8Array): Promise<string> {
  const error = await parse(bytes).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MalformedInputError);
  const malformed = error as MalformedInputError;
  expect(malformed.file).toBe(FILE);
  expect(malformed.message).toBe(`${FILE}: ${malformed.problem}`);
  expect(malformed.message).not.toContain('\n');
  return malformed.problem;
}

function withHeader(headerText: string, tensors: TensorBytes[] = [], options: SerializeOptions = {}): Uint8Array {
  return serializeSafetensors(tensors, { ...options, headerText });
}

/** A file whose header bytes are given raw (for encodings the writer cannot produce). */
function rawHeaderFile(header: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + header.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.byteLength), true);
  out.set(header, 8);
  return out;
}

describe('parseSafetensorsHeader: well-formed files', () => {
  it('describes each tensor with absolute offsets, in on-disk order', async () => {
    const tensors = [tensor('b.weight', 'BF16', [2, 3]), tensor('a.bias', 'F32', [3]), tensor('scalar', 'F64', [])];
    const bytes = serializeSafetensors(tensors, { metadata: { format: 'pt', note: 'x' } });
    const { shard, tensors: parsed } = await parse(bytes);
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    expect(shard.file).toBe(FILE);
    expect(shard.size).toBe(bytes.byteLength);
    expect(shard.dataStart).toBe(8 + headerLength);
    expect(shard.metadata).toEqual({ format: 'pt', note: 'x' });
    expect(shard.tensorNames).toEqual(['b.weight', 'a.bias', 'scalar']);
    expect(parsed.map((t) => [t.name, t.dtype, t.shape, t.elements, t.start, t.byteLength])).toEqual([
      ['b.weight', 'BF16', [2, 3], 6, shard.dataStart, 12],
      ['a.bias', 'F32', [3], 3, shard.dataStart + 12, 12],
      ['scalar', 'F64', [], 1, shard.dataStart + 24, 8],
    ]);
    expect(parsed.every((t) => t.shard === shard)).toBe(true);
    expect([...bytes.subarray(parsed[1]!.start, parsed[1]!.start + 12)]).toEqual([...tensors[1]!.data]);
  });

  it('gives tensors of one shape one frozen shape array, and each other shape its own', async () => {
    const tensors = [
      tensor('experts.0', 'BF16', [2, 3]),
      tensor('experts.1', 'BF16', [2, 3]),
      tensor('flat', 'BF16', [23]),
      tensor('split', 'BF16', [2, 3, 1]),
      tensor('other', 'F32', [3, 2]),
      tensor('scalar', 'F32', []),
    ];
    const { tensors: parsed } = await parse(serializeSafetensors(tensors));
    const shapeOf = (name: string): readonly number[] => parsed.find((t) => t.name === name)!.shape;
    expect(shapeOf('experts.0')).toBe(shapeOf('experts.1'));
    expect(parsed.map((t) => [t.name, t.shape])).toEqual(tensors.map((t) => [t.name, t.shape]));
    expect(new Set(parsed.map((t) => t.shape)).size).toBe(5);
    for (const t of parsed) expect(Object.isFrozen(t.shape)).toBe(true);
  });

  it('orders by offset even when the header lists tensors in another order', async () => {
    const a = tensor('a', 'U8', [4]);
    const b = tensor('b', 'U8', [2]);
    const header = '{"b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]},"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}';
    const { shard, tensors } = await parse(withHeader(header, [a, b]));
    expect(shard.tensorNames).toEqual(['a', 'b']);
    expect(tensors.map((t) => t.start - shard.dataStart)).toEqual([0, 4]);
  });

  it('accepts empty tensors, an empty file and sub-byte dtypes that fill whole bytes', async () => {
    const tensors = [tensor('w', 'F32', [2]), tensor('empty', 'F16', [3, 0]), tensor('zero', 'BF16', [0]), tensor('f4', 'F4', [4]), tensor('f6', 'F6_E3M2', [4])];
    const { tensors: parsed } = await parse(serializeSafetensors(tensors));
    expect(parsed.map((t) => [t.name, t.elements, t.byteLength])).toEqual([
      ['w', 2, 8],
      ['empty', 0, 0],
      ['zero', 0, 0],
      ['f4', 4, 2],
      ['f6', 4, 3],
    ]);
    const empty = await parse(serializeSafetensors([]));
    expect(empty.tensors).toEqual([]);
    expect(empty.shard.dataStart).toBe(16);
  });

  it('keeps "__proto__" as a plain name and metadata key', async () => {
    const header = '{"__metadata__":{"__proto__":"x"},"__proto__":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}';
    const { shard, tensors } = await parse(withHeader(header, [tensor('__proto__', 'U8', [1])]));
    expect(Object.getPrototypeOf(shard.metadata)).toBe(Object.prototype);
    expect(Object.entries(shard.metadata)).toEqual([['__proto__', 'x']]);
    expect(tensors.map((t) => t.name)).toEqual(['__proto__']);
  });

  it('round-trips any well-formed file: names, dtypes, shapes, offsets and metadata', async () => {
    const dtypes = Object.keys(DTYPE_BITS);
    const entry = fc.record({
      dtype: fc.constantFrom(...dtypes),
      shape: fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 4 }),
    });
    const model = fc.record({
      // A prefix keeps names from looking like array indexes, which objects enumerate first.
      names: fc.uniqueArray(fc.string({ maxLength: 12, unit: 'grapheme' }).map((s) => `t.${s}`), { maxLength: 8 }),
      entries: fc.array(entry, { minLength: 8, maxLength: 8 }),
      metadata: fc.option(fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 })), { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(model, async ({ names, entries, metadata }) => {
        const tensors = names.map((name, i) => {
          const { dtype, shape } = entries[i]!;
          // Sub-byte dtypes need an element count that fills whole bytes.
          const fixedShape = (shape.reduce((a, b) => a * b, 1) * DTYPE_BITS[dtype]!) % 8 === 0 ? shape : [...shape, 0];
          return tensor(name, dtype, fixedShape);
        });
        const bytes = serializeSafetensors(tensors, metadata ? { metadata } : {});
        const { shard, tensors: parsed } = await parse(bytes);
        expect(shard.metadata).toEqual(metadata ?? {});
        let at = shard.dataStart;
        expect(parsed.map((t) => [t.name, t.dtype, t.shape, t.start, t.byteLength])).toEqual(
          tensors.map((t) => {
            const start = at;
            at += t.data.byteLength;
            return [t.name, t.dtype, t.shape, start, t.data.byteLength];
          }),
        );
        expect(at).toBe(bytes.byteLength);
      }),
      { numRuns: 200 },
    );
  });
});

describe('parseSafetensorsHeader: malformed files', () => {
  const w = tensor('w', 'F32', [2]);

  it('a file shorter than the length prefix', async () => {
    expect(await problemWith(new Uint8Array(5))).toBe(
      'file is 5 bytes, shorter than the 8-byte header length prefix: not a safetensors file',
    );
  });

  it('a header length of 0, past the end, or over the cap', async () => {
    expect(await problemWith(serializeSafetensors([w], { headerLength: 0n }))).toBe('header length is 0: not a safetensors file');
    const file = serializeSafetensors([w]);
    expect(await problemWith(serializeSafetensors([w], { headerLength: BigInt(file.byteLength) }))).toBe(
      `header length ${file.byteLength} runs past the end of the file (${file.byteLength} bytes): truncated or not a safetensors file`,
    );
    expect(await problemWith(serializeSafetensors([w], { headerLength: BigInt(MAX_HEADER_BYTES + 1) }))).toBe(
      'header length 100000001 exceeds the 100000000-byte limit: not a safetensors file, or a corrupt one',
    );
    expect(await problemWith(serializeSafetensors([w], { headerLength: 2n ** 64n - 1n }))).toContain(
      'header length 18446744073709551615 exceeds the 100000000-byte limit',
    );
  });

  it('a header that is not UTF-8, not JSON, or not an object', async () => {
    expect(await problemWith(rawHeaderFile(Uint8Array.from([0x7b, 0xff, 0x7d, 0x20, 0x20, 0x20, 0x20, 0x20])))).toBe(
      'header is not valid UTF-8',
    );
    expect(await problemWith(withHeader('{"w":'))).toMatch(/^header is not valid JSON \(.+\)$/);
    expect(await problemWith(withHeader('{"w":\n\n'))).toMatch(/^header is not valid JSON \(.+\)$/);
    expect(await problemWith(withHeader('[1,2]'))).toBe('header JSON is an array, not an object');
    expect(await problemWith(withHeader('null'))).toBe('header JSON is null, not an object');
    expect(await problemWith(withHeader('"x"'))).toBe('header JSON is string "x", not an object');
  });

  it('a header padded with something other than spaces', async () => {
    const header = new TextEncoder().encode('{}\0\0\0\0\0\0');
    expect(await problemWith(rawHeaderFile(header))).toMatch(/^header is not valid JSON/);
  });

  it('__metadata__ that is not an object of strings', async () => {
    expect(await problemWith(withHeader('{"__metadata__":["pt"]}'))).toBe('__metadata__ is an array, not an object of strings');
    expect(await problemWith(withHeader('{"__metadata__":{"format":"pt","step":100}}'))).toBe(
      '__metadata__ value for "step" is number 100, not a string',
    );
  });

  it('repeated keys, at the top level or inside an entry', async () => {
    const entry = '{"dtype":"F32","shape":[2],"data_offsets":[0,8]}';
    expect(await problemWith(withHeader(`{"w":${entry},"w" :${entry}}`, [w]))).toBe('header JSON repeats the key "w"');
    expect(await problemWith(withHeader('{"w":{"dtype":"F32","shape":[2],"dtype":"F16","data_offsets":[0,8]}}', [w]))).toBe(
      'header JSON repeats the key "dtype"',
    );
    // Spelled with an escape, the key is the same key.
    expect(await problemWith(withHeader(`{"w":${entry},"\\u0077":${entry}}`, [w]))).toBe('header JSON repeats the key "w"');
    // In an object of more keys than are searched one by one (then a set is).
    const many = Array.from({ length: 40 }, (_, k) => `"k${k}":"v"`);
    expect(await problemWith(withHeader(`{"__metadata__":{${[...many, '"k3":"again"'].join(',')}}}`))).toBe('header JSON repeats the key "k3"');
    expect(await problemWith(withHeader(`{"__metadata__":{${[...many.slice(0, 5), '"k3":"again"'].join(',')}}}`))).toBe('header JSON repeats the key "k3"');
    expect((await parse(withHeader(`{"__metadata__":{${many.join(',')}}}`))).shard.metadata.k39).toBe('v');
    // The same key in different objects, and key-like strings inside arrays, are fine.
    const fine = '{"__metadata__":{"w":"[\\"w\\",\\"dtype\\"]"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
    expect((await parse(withHeader(fine, [w]))).tensors.map((t) => t.name)).toEqual(['w']);
  });

  it('entries that are not objects, with unknown or missing keys', async () => {
    expect(await problemWith(withHeader('{"w":5}', [w]))).toBe('tensor "w": entry is number 5, not an object');
    expect(await problemWith(withHeader('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"offsets":[0,8]}}', [w]))).toBe(
      'tensor "w": unexpected key "offsets"',
    );
    expect(await problemWith(withHeader('{"w":{"dtype":"F32","data_offsets":[0,8]}}', [w]))).toBe('tensor "w": missing "shape"');
  });

  it('unknown or mistyped dtypes', async () => {
    expect(await problemWith(withHeader('{"w":{"dtype":"F17","shape":[2],"data_offsets":[0,8]}}', [w]))).toBe(
      'tensor "w": unknown dtype "F17"',
    );
    expect(await problemWith(withHeader('{"w":{"dtype":"toString","shape":[2],"data_offsets":[0,8]}}', [w]))).toBe(
      'tensor "w": unknown dtype "toString"',
    );
    expect(await problemWith(withHeader('{"w":{"dtype":32,"shape":[2],"data_offsets":[0,8]}}', [w]))).toBe(
      'tensor "w": dtype is number 32, not a string',
    );
  });

  it('bad shapes', async () => {
    const withShape = (shape: string) => withHeader(`{"w":{"dtype":"F32","shape":${shape},"data_offsets":[0,8]}}`, [w]);
    expect(await problemWith(withShape('"2"'))).toBe('tensor "w": shape is string "2", not an array');
    expect(await problemWith(withShape('[-2]'))).toBe('tensor "w": shape [-2] has a dimension that is not a non-negative integer');
    expect(await problemWith(withShape('[1.5]'))).toBe('tensor "w": shape [1.5] has a dimension that is not a non-negative integer');
    expect(await problemWith(withShape('[null]'))).toBe('tensor "w": shape [null] has a dimension that is not a non-negative integer');
    expect(await problemWith(withShape(JSON.stringify(new Array(65).fill(1))))).toBe('tensor "w": shape has 65 dimensions, more than 64');
    expect(await problemWith(withShape('[16777216,16777216]'))).toBe('tensor "w": shape [16777216,16777216] has more than 2^47 elements');
  });

  it('bad data_offsets', async () => {
    const withOffsets = (offsets: string) => withHeader(`{"w":{"dtype":"F32","shape":[2],"data_offsets":${offsets}}}`, [w]);
    expect(await problemWith(withOffsets('[0]'))).toBe('tensor "w": data_offsets [0] is not a pair of non-negative integers');
    expect(await problemWith(withOffsets('[0,8,8]'))).toBe('tensor "w": data_offsets [0,8,8] is not a pair of non-negative integers');
    expect(await problemWith(withOffsets('[-8,0]'))).toBe('tensor "w": data_offsets [-8,0] is not a pair of non-negative integers');
    expect(await problemWith(withOffsets('{"0":0,"1":8}'))).toBe(
      'tensor "w": data_offsets {"0":0,"1":8} is not a pair of non-negative integers',
    );
    expect(await problemWith(withOffsets('[8,0]'))).toBe('tensor "w": data_offsets [8, 0) end before they begin');
    expect(await problemWith(withOffsets('[0,16]'))).toBe(
      'tensor "w": data_offsets [0, 16) run past the end of the data area (8 bytes): truncated file?',
    );
  });

  it('a byte length that does not match shape and dtype', async () => {
    expect(await problemWith(serializeSafetensors([tensor('w', 'F32', [3], 8)]))).toBe(
      'tensor "w": shape [3] of F32 needs 12 bytes but data_offsets [0, 8) hold 8',
    );
    expect(await problemWith(serializeSafetensors([tensor('w', 'F4', [3], 2)]))).toBe(
      'tensor "w": 3 F4 elements do not fill a whole number of bytes',
    );
  });

  it('overlapping tensors, gaps and trailing bytes', async () => {
    const a = tensor('a', 'F32', [2]);
    const b = tensor('b', 'F32', [2]);
    const c = tensor('c', 'U8', [4]);
    expect(await problemWith(serializeSafetensors([a, b, c], { offsets: { b: [4, 12] } }))).toBe(
      'tensors "a" [0, 8) and "b" [4, 12) overlap',
    );
    expect(await problemWith(serializeSafetensors([c], { offsets: { c: [4, 8] }, trailing: new Uint8Array(4) }))).toBe(
      'data bytes [0, 4) at the start of the data area belong to no tensor',
    );
    expect(await problemWith(serializeSafetensors([a, b, c], { offsets: { b: [12, 20] }, trailing: new Uint8Array(4) }))).toBe(
      'data bytes [8, 12) after tensor "a" belong to no tensor',
    );
    expect(await problemWith(serializeSafetensors([a, b], { trailing: new Uint8Array(3) }))).toBe(
      'the last 3 bytes of the file belong to no tensor (data area is 19 bytes, tensors end at 16)',
    );
    expect(await problemWith(serializeSafetensors([], { trailing: new Uint8Array(1) }))).toBe(
      'the last 1 bytes of the file belong to no tensor (data area is 1 bytes, tensors end at 0)',
    );
    // An empty tensor placed inside another one is an overlap too.
    const e = tensor('e', 'F32', [0]);
    expect(await problemWith(serializeSafetensors([a, e], { offsets: { e: [4, 4] } }))).toBe(
      'tensors "a" [0, 8) and "e" [4, 4) overlap',
    );
  });

  it('keeps hostile names on one line', async () => {
    const name = 'evil\nname';
    const header = JSON.stringify({ [name]: { dtype: 'F99', shape: [1], data_offsets: [0, 1] } });
    expect(await problemWith(withHeader(header, [tensor(name, 'U8', [1])]))).toBe('tensor "evil\\nname": unknown dtype "F99"');
  });
});
