import { describe, expect, it } from 'vitest';
import { MemorySource } from '../../src/source/memory-source.js';

describe('MemorySource', () => {
  const bytes = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);

  it('reads ranges as copies, never views of its own bytes', async () => {
    const source = new MemorySource(bytes, 'mem');
    expect(source.size).toBe(8);
    const first = await source.read(2, 5);
    expect([...first]).toEqual([3, 4, 5]);
    first[0] = 99;
    expect([...(await source.read(2, 5))]).toEqual([3, 4, 5]);
    const into = new Uint8Array(4);
    const view = await source.read(6, 8, into);
    expect(view.buffer).toBe(into.buffer);
    expect([...into]).toEqual([7, 8, 0, 0]);
  });

  it('refuses requests outside its bytes', async () => {
    const source = new MemorySource(bytes);
    await expect(source.read(4, 9)).rejects.toThrow(new RangeError('memory: read of bytes [4, 9) outside the source (8 bytes)'));
    await expect(source.read(0, 4, new Uint8Array(3))).rejects.toBeInstanceOf(RangeError);
    await source.close();
  });
});
