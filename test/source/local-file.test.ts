import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { IoError, MalformedInputError } from '../../src/errors.js';
import { LocalFileSource } from '../../src/source/local-file.js';

let dir: string;
const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) % 256);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'provcheck-local-file-'));
  await writeFile(join(dir, 'data.bin'), bytes);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('LocalFileSource', () => {
  it('reads exact ranges, into a new buffer or a given one', async () => {
    const source = await LocalFileSource.open(join(dir, 'data.bin'), 'data');
    try {
      expect(source.name).toBe('data');
      expect(source.size).toBe(1000);
      expect([...(await source.read(10, 20))]).toEqual([...bytes.subarray(10, 20)]);
      expect((await source.read(1000, 1000)).byteLength).toBe(0);
      const into = new Uint8Array(64).fill(255);
      const view = await source.read(990, 1000, into);
      expect(view.buffer).toBe(into.buffer);
      expect([...view]).toEqual([...bytes.subarray(990, 1000)]);
      expect(into[10]).toBe(255);
      // Overlapping reads in flight at once do not disturb each other (positional reads).
      const [a, b] = await Promise.all([source.read(0, 500), source.read(250, 1000)]);
      expect([...a]).toEqual([...bytes.subarray(0, 500)]);
      expect([...b]).toEqual([...bytes.subarray(250, 1000)]);
    } finally {
      await source.close();
    }
  });

  it('names the path when no name is given', async () => {
    const source = await LocalFileSource.open(join(dir, 'data.bin'));
    expect(source.name).toBe(join(dir, 'data.bin'));
    await source.close();
  });

  it('refuses requests outside the file or larger than the buffer', async () => {
    const source = await LocalFileSource.open(join(dir, 'data.bin'), 'data');
    try {
      await expect(source.read(990, 1001)).rejects.toThrow(new RangeError('data: read of bytes [990, 1001) outside the source (1000 bytes)'));
      await expect(source.read(-1, 5)).rejects.toBeInstanceOf(RangeError);
      await expect(source.read(6, 5)).rejects.toBeInstanceOf(RangeError);
      await expect(source.read(0.5, 5)).rejects.toBeInstanceOf(RangeError);
      await expect(source.read(0, 10, new Uint8Array(9))).rejects.toThrow(
        'data: buffer of 9 bytes cannot hold bytes [0, 10)',
      );
    } finally {
      await source.close();
    }
  });

  it('a file that shrank after opening is an IoError naming the file and the range', async () => {
    const path = join(dir, 'shrinks.bin');
    await writeFile(path, bytes);
    const source = await LocalFileSource.open(path, 'shrinks.bin');
    try {
      await truncate(path, 600);
      const failure = await source.read(500, 700).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(IoError);
      expect((failure as IoError).message).toBe(
        'shrinks.bin: file ended at byte 600 while reading bytes [500, 700) (it had 1000 bytes when opened)',
      );
    } finally {
      await source.close();
    }
  });

  it('a missing file is an IoError; a folder is not a regular file', async () => {
    const missing = await LocalFileSource.open(join(dir, 'nope.bin'), 'nope.bin').catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(IoError);
    expect((missing as IoError).message).toBe('nope.bin: cannot open for reading (ENOENT)');
    const folder = await LocalFileSource.open(dir, 'the-dir').catch((error: unknown) => error);
    expect(folder).toBeInstanceOf(MalformedInputError);
    expect((folder as MalformedInputError).message).toBe('the-dir: not a regular file');
  });

  it('close is idempotent and later reads fail', async () => {
    const source = await LocalFileSource.open(join(dir, 'data.bin'), 'data');
    await source.close();
    await source.close();
    await expect(source.read(0, 1)).rejects.toThrow('data: read after close');
  });

  it('serves runs of small reads in file order from windows, and any small read exactly', async () => {
    // 3 MiB: several windows, and reads that straddle a window's end.
    const big = Uint8Array.from({ length: 3 << 20 }, (_, i) => (i * 131 + (i >> 12)) % 251);
    const path = join(dir, 'big.bin');
    await writeFile(path, big);
    const source = await LocalFileSource.open(path, 'big.bin');
    try {
      // Reads this small are synchronous: every system call is an fs.readSync, spied on
      // node:fs itself and synced into the ES module bindings local-file.ts imports.
      const fs = createRequire(import.meta.url)('node:fs') as typeof import('node:fs');
      const reads = vi.spyOn(fs, 'readSync');
      syncBuiltinESMExports();
      // A thousand neighbouring 512-byte tensors, as a per-expert checkpoint stores them.
      for (let t = 0; t < 1000; t++) {
        const got = await source.read(t * 512, (t + 1) * 512);
        if (got.some((v, i) => v !== big[t * 512 + i])) throw new Error(`tensor ${t} read wrong`);
      }
      // 512 KB in 256 KiB windows.
      expect(reads.mock.calls.length).toBe(2);
      // A lone small read far from the run is read as asked, not as a window.
      await source.read(2_000_000, 2_000_512);
      expect(reads.mock.calls.length).toBe(3);
      expect((reads.mock.calls[2] as unknown[])[3]).toBe(512);
      reads.mockRestore();
      syncBuiltinESMExports();
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: big.length }), fc.integer({ min: 0, max: 70_000 }), async (start, length) => {
          const end = Math.min(big.length, start + length);
          expect(Buffer.from(await source.read(start, end)).equals(Buffer.from(big.subarray(start, end)))).toBe(true);
        }),
        { numRuns: 300 },
      );
    } finally {
      await source.close();
    }
  });
  it("reads a file's header, its first two reads from byte 0, exactly and on the thread pool", async () => {
    const source = await LocalFileSource.open(join(dir, 'data.bin'), 'data');
    const fs = createRequire(import.meta.url)('node:fs') as typeof import('node:fs');
    const reads = vi.spyOn(fs, 'readSync');
    syncBuiltinESMExports();
    try {
      // The length prefix, then the JSON it announces: no synchronous read, so that the
      // shards opened together wait on the disk together.
      const prefix = source.read(0, 8);
      expect([...(await prefix)]).toEqual([...bytes.subarray(0, 8)]);
      expect([...(await source.read(8, 300))]).toEqual([...bytes.subarray(8, 300)]);
      expect(reads).not.toHaveBeenCalled();
      // Then the next small reads in file order come from a window again, read synchronously.
      expect([...(await source.read(300, 400))]).toEqual([...bytes.subarray(300, 400)]);
      expect([...(await source.read(400, 450))]).toEqual([...bytes.subarray(400, 450)]);
      expect(reads).toHaveBeenCalledTimes(1);
      expect((reads.mock.calls[0] as unknown[])[3]).toBe(700);
    } finally {
      reads.mockRestore();
      syncBuiltinESMExports();
      await source.close();
    }
  });

  it('windows of many files read at once, in any order, each serve their own bytes', async () => {
    // More files than the thread keeps windows for, so windows are dropped and their
    // buffers handed to other files while reads of every file are in flight.
    const files = 11;
    const size = 600_000;
    const contents = Array.from({ length: files }, (_, f) => Uint8Array.from({ length: size }, (_, i) => (i * (f + 3) + f * 17 + (i >> 9)) % 253));
    const sources = await Promise.all(
      contents.map(async (content, f) => {
        const path = join(dir, `many-${f}.bin`);
        await writeFile(path, content);
        return LocalFileSource.open(path, `many-${f}.bin`);
      }),
    );
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.integer({ min: 0, max: files - 1 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 65_536 })), { minLength: 1, maxLength: 60 }),
          async (plans) => {
            // Each plan: a run of small reads in file order through one file, all runs at once.
            const cursor = new Map<number, number>();
            await Promise.all(
              plans.map(async ([f, reads, length]) => {
                let at = cursor.get(f) ?? 0;
                for (let r = 0; r < reads; r++) {
                  if (at + length > size) at = 0;
                  const start = at;
                  const got = await sources[f]!.read(start, start + length);
                  if (!Buffer.from(got).equals(Buffer.from(contents[f]!.subarray(start, start + length)))) {
                    throw new Error(`file ${f}: bytes [${start}, ${start + length}) read wrong`);
                  }
                  at += length + (r % 3) * 1000;
                }
                cursor.set(f, at);
              }),
            );
          },
        ),
        { numRuns: 60 },
      );
    } finally {
      await Promise.all(sources.map((source) => source.close()));
    }
  });
});
