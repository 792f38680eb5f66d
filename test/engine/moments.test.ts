import { describe, expect, it } from 'vitest';
import { addMoments, clearMoments, emptyMoments, PROFILE_BINS } from '../../src/engine/moments.js';
import { summarizeProfile } from '../../src/fit/exact-hit-profile.js';

/** Two-parent moments whose profile holds `hits` at the given bins, with the range [first, end) when given. */
function withHits(bins: Record<number, number>, range?: [number, number]): ReturnType<typeof emptyMoments> {
  const moments = emptyMoments(2, 0);
  for (const [bin, count] of Object.entries(bins)) moments.profile!.hits[Number(bin)] = count;
  if (range) [moments.profile!.first, moments.profile!.end] = range;
  moments.informative.count = Math.max(1, Object.values(bins).reduce((a, b) => a + b, 0));
  return moments;
}

describe('the exact-hit profile range', () => {
  it('adds a part over its range and widens the sum to cover it', () => {
    const into = withHits({ 100: 1, 109: 2 }, [100, 110]);
    addMoments(into, withHits({ 10: 3, 19: 4 }, [10, 20]));
    expect(into.profile!.first).toBe(10);
    expect(into.profile!.end).toBe(110);
    expect([10, 19, 100, 109].map((b) => into.profile!.hits[b])).toEqual([3, 4, 1, 2]);
    expect(into.profile!.hits.reduce((a, b) => a + b, 0)).toBe(10);
  });

  it('adds a profile without a range whole, and an empty range adds nothing', () => {
    const into = withHits({ 5: 1 }, [5, 6]);
    const whole = { ...emptyMoments(2, 0), profile: { lo: 0, width: 1, hits: new Float64Array(PROFILE_BINS) } };
    whole.profile.hits[4000] = 7;
    addMoments(into, whole);
    expect(into.profile!.hits[4000]).toBe(7);
    expect(into.profile!.end).toBe(PROFILE_BINS);
    const before = Float64Array.from(into.profile!.hits);
    addMoments(into, withHits({}, [PROFILE_BINS, PROFILE_BINS]));
    expect(into.profile!.hits).toEqual(before);
    expect([into.profile!.first, into.profile!.end]).toEqual([0, PROFILE_BINS]);
  });

  it('is whole after clearing, with every bin 0', () => {
    const moments = withHits({ 2000: 5, 2001: 1 }, [2000, 2002]);
    clearMoments(moments);
    expect(moments.profile!.hits.every((h) => h === 0)).toBe(true);
    expect([moments.profile!.first, moments.profile!.end]).toEqual([0, PROFILE_BINS]);
  });

  it('gives the summary of a profile of zeros for an empty range, or one holding only zeros', () => {
    const zeros = summarizeProfile(withHits({}));
    expect(zeros!.hitShare).toBe(0);
    for (const range of [[0, 0], [PROFILE_BINS, PROFILE_BINS], [1000, 1200]] as [number, number][]) {
      expect(summarizeProfile(withHits({}, range))).toEqual(zeros);
    }
  });

  it('gives the summary of the whole profile', () => {
    const bins = { 1200: 3, 1201: 9, 1202: 9, 1203: 2, 2500: 1 };
    const ranged = summarizeProfile(withHits(bins, [1200, 2501]));
    expect(ranged).toEqual(summarizeProfile(withHits(bins)));
    expect(ranged!.hitShare).toBe(9 / 24);
  });
});
