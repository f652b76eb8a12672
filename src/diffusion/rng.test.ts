import { describe, expect, it } from 'vitest';
import { gaussian, Xoshiro128ss } from './rng';

describe('seeded Gaussian noise', () => {
  it('implements xoshiro128** (reference outputs for state 1, 2, 3, 4)', () => {
    // First outputs of the reference C code (also the rand_xoshiro test vector).
    const rng = new Xoshiro128ss([1, 2, 3, 4]);
    const out = Array.from({ length: 10 }, () => rng.next());
    expect(out).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849, 3729100597, 4258142804]);
  });

  it('is deterministic, prefix-stable and seed-dependent (also for seeds beyond 2^32)', () => {
    const a = gaussian(42, 1001);
    expect(Array.from(gaussian(42, 1001))).toEqual(Array.from(a));
    expect(Array.from(gaussian(42, 10))).toEqual(Array.from(a.subarray(0, 10)));
    expect(Array.from(gaussian(43, 10))).not.toEqual(Array.from(a.subarray(0, 10)));
    expect(Array.from(gaussian(2 ** 40 + 42, 10))).not.toEqual(Array.from(a.subarray(0, 10)));
    expect(Array.from(gaussian(-42, 10))).not.toEqual(Array.from(a.subarray(0, 10)));
    expect(() => gaussian(0.5, 4)).toThrow(/safe integer/);
  });

  it('has standard normal statistics', () => {
    const n = 200_000;
    const x = gaussian(7, n);
    let s = 0,
      s2 = 0,
      s4 = 0,
      within1 = 0;
    for (const v of x) {
      s += v;
      s2 += v * v;
      s4 += v ** 4;
      if (Math.abs(v) < 1) within1++;
    }
    const mean = s / n,
      variance = s2 / n - mean * mean;
    // Bounds ≈ 5 standard errors for n = 2e5.
    expect(Math.abs(mean)).toBeLessThan(0.012);
    expect(Math.abs(variance - 1)).toBeLessThan(0.016);
    expect(Math.abs(s4 / n - 3)).toBeLessThan(0.11);
    expect(Math.abs(within1 / n - 0.682689)).toBeLessThan(0.006);
  });
});
