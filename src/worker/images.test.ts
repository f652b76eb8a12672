import { describe, expect, it } from 'vitest';
import { batchToRgba, latentsToRgba, meanImage, rgbaToRgb, uint8ToRgba, upscale } from './images';

describe('worker pixel conversions', () => {
  it('decoded [n,H,W,3] floats → RGBA per sample, rounded and clamped', () => {
    const data = Float32Array.from([0, 0.5, 1, 1.2, -0.1, 0.25, /* sample 2 */ 1, 1, 1, 0, 0, 0]);
    const [a, b] = batchToRgba({ n: 2, height: 1, width: 2, data });
    expect(Array.from(a.pixels)).toEqual([0, 128, 255, 255, 255, 0, 64, 255]);
    expect(Array.from(b.pixels)).toEqual([255, 255, 255, 255, 0, 0, 0, 255]);
  });

  it('mean of the decoded samples, pixel by pixel', () => {
    const data = Float32Array.from([0, 0.5, 1, 0.2, 0.4, 0.6, /* sample 2 */ 1, 0.5, 0, 0.4, 0.4, 0.4, /* sample 3 */ 0.5, 0.5, 0.5, 0, 0.1, 0.2]);
    const m = meanImage({ n: 3, height: 1, width: 2, data });
    expect([m.n, m.height, m.width]).toEqual([1, 1, 2]);
    const want = [0.5, 0.5, 0.5, 0.2, 0.3, 0.4];
    want.forEach((v, i) => expect(m.data[i]).toBeCloseTo(v, 6));
  });

  it('latents NCHW: channels as RGB, min–max over the sample', () => {
    // n=1, c=3, 1×2: R = [-1, 1], G = [0, 0], B = [1, -1]
    const [img] = latentsToRgba(Float32Array.from([-1, 1, 0, 0, 1, -1]), 1, 3, 1, 2);
    expect(Array.from(img.pixels)).toEqual([0, 128, 255, 255, 255, 128, 0, 255]);
    // One channel shows as grey; a constant latent is black, not NaN.
    expect(Array.from(latentsToRgba(Float32Array.from([0, 2]), 1, 1, 1, 2)[0].pixels)).toEqual([0, 0, 0, 255, 255, 255, 255, 255]);
    expect(Array.from(latentsToRgba(Float32Array.from([3, 3]), 1, 1, 1, 2)[0].pixels)).toEqual([0, 0, 0, 255, 0, 0, 0, 255]);
  });

  it('grey uint8 → RGBA, upscale by 2, RGBA → RGB', () => {
    const g = uint8ToRgba([10, 200], 2, 1, 1);
    expect(Array.from(g.pixels)).toEqual([10, 10, 10, 255, 200, 200, 200, 255]);
    const up = upscale(g, 2);
    expect([up.width, up.height]).toEqual([4, 2]);
    expect(Array.from(rgbaToRgb(up)).slice(0, 12)).toEqual([10, 10, 10, 10, 10, 10, 200, 200, 200, 200, 200, 200]);
    expect(Array.from(rgbaToRgb(up)).slice(12, 15)).toEqual([10, 10, 10]);
  });
});
