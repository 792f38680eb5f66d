import { describe, expect, it } from 'vitest';
import { emptyMoments } from '../../src/engine/moments.js';
import { withParentNoise } from '../../src/fit/parent-noise.js';

describe('withParentNoise', () => {
  it('adds Σ c_j² · parentFloor_j to the floor and the informative floor, and scales floorVar', () => {
    const m = emptyMoments(2, 0);
    m.floor = 4;
    m.floorVar = 2;
    m.parentFloor.set([8, 16]);
    m.informative.floor = 1;
    m.informative.parentFloor.set([2, 4]);
    const out = withParentNoise(m, [0.25, 0.75]);
    // 4 + 0.0625·8 + 0.5625·16 = 4 + 0.5 + 9 = 13.5
    expect(out.floor).toBe(13.5);
    expect(out.floorVar).toBeCloseTo(2 * (13.5 / 4) ** 2, 12);
    // 1 + 0.0625·2 + 0.5625·4 = 3.375
    expect(out.informative.floor).toBe(3.375);
    expect(m.floor).toBe(4);
  });

  it('reads an unidentified weight as 0', () => {
    const m = emptyMoments(2, 0);
    m.floor = 1;
    m.parentFloor.set([8, 16]);
    expect(withParentNoise(m, [1, null]).floor).toBe(9);
  });
});
