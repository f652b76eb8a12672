import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { batchToRgba, latentsToRgba, mapToRgba, meanImage, pixelStd, rgbaToRgb, uint8ToRgba, upscale } from './images';
import { toRgb8 } from '../io/png';

describe('worker pixel conversions', () => {
  it('decoded [n,H,W,3] floats → RGBA per sample, rounded and clamped', () => {
    const data = Float32Array.from([0, 0.5, 1, 1.2, -0.1, 0.25, /* sample 2 */ 1, 1, 1, 0, 0, 0]);
    const [a, b] = batchToRgba({ n: 2, height: 1, width: 2, data });
    expect(Array.from(a.pixels)).toEqual([0, 128, 255, 255, 255, 0, 64, 255]);
    expect(Array.from(b.pixels)).toEqual([255, 255, 255, 255, 0, 0, 0, 255]);
  });

  it('quantises exactly as the PNGs of npm run decode (toRgb8: round to nearest, no +0.5 bias)', () => {
    const data = Float32Array.from([63.2 / 255, 63.6 / 255, 0.999, 0.0019, 0.002, 1.5]);
    const [a] = batchToRgba({ n: 1, height: 1, width: 2, data });
    expect(Array.from(a.pixels)).toEqual([63, 64, 255, 255, 0, 1, 255, 255]);
    expect(rgbaToRgb(a)).toEqual(toRgb8(data));
  });

  it('per-pixel sd over samples of the grey images matches numpy np.std(axis=0)', () => {
    const n = 3,
      h = 2,
      w = 3;
    const data = Float32Array.from({ length: n * h * w * 3 }, (_, k) => ((k * 37) % 101) / 100);
    const sd = pixelStd({ n, height: h, width: w, data });
    const py = `import numpy as np, json, sys; a = np.array(json.loads(sys.argv[1]), dtype=np.float32).reshape(${n}, ${h}, ${w}, 3)
print(json.dumps(a.astype(np.float64).mean(axis=3).std(axis=0).ravel().tolist()))`;
    const want = JSON.parse(execFileSync('/usr/bin/python3', ['-c', py, JSON.stringify(Array.from(data))]).toString()) as number[];
    expect(sd).toHaveLength(h * w);
    want.forEach((v, i) => expect(sd[i]).toBeCloseTo(v, 6));
    // hand-checked: two samples 0 and 1 everywhere → sd 0.5; one sample → 0
    expect(Array.from(pixelStd({ n: 2, height: 1, width: 1, data: Float32Array.from([0, 0, 0, 1, 1, 1]) }))).toEqual([0.5]);
    expect(Array.from(pixelStd({ n: 1, height: 1, width: 1, data: Float32Array.from([0.3, 0.6, 0.9]) }))).toEqual([0]);
  });

  it('an sd map is shown black at 0 and white at its max', () => {
    const img = mapToRgba(Float32Array.from([0, 0.1, 0.2]), 3, 1, 0.2);
    expect(Array.from(img.pixels)).toEqual([0, 0, 0, 255, 128, 128, 128, 255, 255, 255, 255, 255]);
    expect(Array.from(mapToRgba(new Float32Array(2), 2, 1, 0).pixels.filter((_, i) => i % 4 !== 3))).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('mean of the decoded samples, pixel by pixel', () => {
    const data = Float32Array.from([
      0, 0.5, 1, 0.2, 0.4, 0.6, /* sample 2 */ 1, 0.5, 0, 0.4, 0.4, 0.4, /* sample 3 */ 0.5, 0.5, 0.5, 0, 0.1, 0.2,
    ]);
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
