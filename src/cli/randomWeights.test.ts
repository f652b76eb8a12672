import { describe, expect, it } from 'vitest';
import { randomInit, randomValues } from './randomWeights';

describe('random benchmark weights', () => {
  it('norm gains are ones, matrices fan-in scaled, biases small', () => {
    expect(randomInit('model.diffusion_model.input_blocks.1.1.norm.weight', [192])).toEqual({ ones: true });
    expect(randomInit('x.proj.weight', [64, 256])).toEqual({ ones: false, std: 1 / 16 });
    expect(randomInit('x.proj.bias', [64])).toEqual({ ones: false, std: 0.01 });
  });

  it('draws the same values for the same name and seed, with the rule’s spread', () => {
    const a = randomValues('x.conv.weight', [32, 16, 3, 3], 1);
    expect(Array.from(a.slice(0, 8))).toEqual(Array.from(randomValues('x.conv.weight', [32, 16, 3, 3], 1).slice(0, 8)));
    expect(a[0]).not.toBe(randomValues('x.conv.weight', [32, 16, 3, 3], 2)[0]);
    expect(a[0]).not.toBe(randomValues('y.conv.weight', [32, 16, 3, 3], 1)[0]);
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const sd = Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length);
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(sd).toBeGreaterThan(0.9 / 12);
    expect(sd).toBeLessThan(1.1 / 12);
    expect(a.every(Number.isFinite)).toBe(true);
  });
});
