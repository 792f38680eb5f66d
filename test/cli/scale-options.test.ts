import { describe, expect, it } from 'vitest';
import { parseScaleOptions } from '../../src/cli/scale-options.js';

describe('parseScaleOptions', () => {
  it('turns --threads, 1-based --shard and --checkpoint into analyze options', () => {
    expect(parseScaleOptions({})).toEqual({});
    expect(parseScaleOptions({ threads: '0', shard: '2/8', checkpoint: 'run.ckpt' })).toEqual({
      threads: 0,
      shard: { index: 1, count: 8 },
      checkpoint: 'run.ckpt',
    });
  });

  it.each([
    [{ threads: '-1' }, "--threads: expected a whole number from 0 to 1024, got '-1'"],
    [{ threads: '2.5' }, "--threads: expected a whole number from 0 to 1024, got '2.5'"],
    [{ shard: '0/4' }, "--shard: expected i/N with 1 ≤ i ≤ N (e.g. 1/4), got '0/4'"],
    [{ shard: '5/4' }, "--shard: expected i/N with 1 ≤ i ≤ N (e.g. 1/4), got '5/4'"],
    [{ shard: '1' }, "--shard: expected i/N with 1 ≤ i ≤ N (e.g. 1/4), got '1'"],
    [{ checkpoint: ' ' }, '--checkpoint: give a file name'],
  ])('refuses %o', (options, message) => {
    expect(() => parseScaleOptions(options)).toThrow(message);
  });
});
