import { describe, expect, it } from 'vitest';
import { eachInLanes, mapInLanes } from '../../src/engine/lanes.js';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('eachInLanes, mapInLanes', () => {
  it('runs at most `lanes` at once, starts items in order, returns results in order', async () => {
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const seen: number[] = [];
    const items = Array.from({ length: 23 }, (_, i) => i);
    const squares: number[] = [];
    const work = async (item: number): Promise<number> => {
      started.push(item);
      most = Math.max(most, ++running);
      await tick((item * 7) % 5);
      running--;
      return item * item;
    };
    await eachInLanes(items, 4, work, (result, index) => {
      seen.push(index);
      squares[index] = result;
    });
    expect(squares).toEqual(items.map((i) => i * i));
    expect(started).toEqual(items);
    expect(most).toBe(4);
    expect(seen.sort((a, b) => a - b)).toEqual(items);
    // Arriving out of order (the delays differ), kept in order by mapInLanes.
    started.length = 0;
    expect(await mapInLanes(items, 3, work)).toEqual(items.map((i) => i * i));
    expect(await mapInLanes([], 4, () => Promise.resolve(1))).toEqual([]);
  });

  it('rejects with the first failure and starts nothing after it', async () => {
    const started: number[] = [];
    const run = mapInLanes(Array.from({ length: 10 }, (_, i) => i), 2, async (item) => {
      started.push(item);
      await tick(1);
      if (item === 3) throw new Error('item 3 failed');
      return item;
    });
    await expect(run).rejects.toThrow('item 3 failed');
    await tick(20);
    expect(started).toEqual([0, 1, 2, 3, 4]);

    // A failure of `done` too.
    const begun: number[] = [];
    const failing = eachInLanes(Array.from({ length: 10 }, (_, i) => i), 2, async (item) => {
      begun.push(item);
      await tick(1);
      return item;
    }, (result) => {
      if (result === 1) throw new Error('done failed on 1');
    });
    await expect(failing).rejects.toThrow('done failed on 1');
    await tick(20);
    expect(begun).toEqual([0, 1, 2]);
  });

  it('takes a lane count that is not a whole number of at least 1 as one lane', async () => {
    for (const lanes of [Number.NaN, 0, -3, 0.5]) {
      let running = 0;
      let most = 0;
      const results = await mapInLanes([1, 2, 3], lanes, async (item) => {
        most = Math.max(most, ++running);
        await tick(1);
        running--;
        return item * 10;
      });
      expect([lanes, results, most]).toEqual([lanes, [10, 20, 30], 1]);
    }
  });
});
