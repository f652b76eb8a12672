import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { pcc, resizeGray, ssim, toGray, type GrayImage } from './metrics';

// Deterministic, non-trivial test images (the Python oracle builds the same ones).
function images(w: number, h: number): [GrayImage, GrayImage] {
  const a = new Float32Array(w * h), b = new Float32Array(w * h);
  for (let i = 0; i < w * h; i++) {
    a[i] = (Math.sin(i * 0.37) + 1) / 2;
    b[i] = Math.min(1, Math.max(0, 0.7 * a[i] + 0.3 * ((Math.cos(i * 1.3) + 1) / 2) - 0.05));
  }
  return [{ width: w, height: h, data: a }, { width: w, height: h, data: b }];
}

const PY = '/usr/bin/python3';
const oracle = `
import numpy as np, json, sys
from skimage.metrics import structural_similarity
w, h = 16, 12
i = np.arange(w*h)
a = ((np.sin(i*0.37)+1)/2).astype(np.float32)
b = np.clip(0.7*a + 0.3*((np.cos(i*1.3)+1)/2) - 0.05, 0, 1).astype(np.float32)
A, B = a.reshape(h, w).astype(np.float64), b.reshape(h, w).astype(np.float64)
print(json.dumps({"ssim": structural_similarity(A, B, data_range=1.0), "pcc": float(np.corrcoef(a, b)[0, 1])}))
`;

describe('metrics', () => {
  it('ssim and pcc match skimage / numpy', () => {
    const want = JSON.parse(execFileSync(PY, ['-c', oracle], { encoding: 'utf8' })) as { ssim: number; pcc: number };
    const [a, b] = images(16, 12);
    expect(Math.abs(ssim(a, b) - want.ssim)).toBeLessThan(1e-5);
    expect(Math.abs(pcc(a.data, b.data) - want.pcc)).toBeLessThan(1e-5);
    expect(want.ssim).toBeGreaterThan(0.1);
    expect(want.ssim).toBeLessThan(0.99);
  });

  it('identical images score 1, a constant image has pcc 0', () => {
    const [a] = images(9, 9);
    expect(ssim(a, a)).toBeCloseTo(1, 6);
    expect(pcc(a.data, a.data)).toBeCloseTo(1, 6);
    expect(pcc(a.data, new Float32Array(81).fill(0.5))).toBe(0);
  });

  it('rejects mismatched sizes', () => {
    const [a] = images(9, 9);
    const [c] = images(8, 9);
    expect(() => ssim(a, c)).toThrow(/sizes differ/);
    expect(() => pcc(a.data, c.data)).toThrow(/lengths differ/);
  });

  it('resizes by box averaging and converts RGB to grey', () => {
    const img = { width: 4, height: 2, data: Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]) };
    expect(Array.from(resizeGray(img, 2, 1).data)).toEqual([(0 + 1 + 4 + 5) / 4, (2 + 3 + 6 + 7) / 4]);
    const up = resizeGray({ width: 2, height: 1, data: Float32Array.from([0, 1]) }, 4, 1);
    expect(Array.from(up.data)).toEqual([0, 0.25, 0.75, 1]);
    const g = toGray([255, 0, 0, 255, 0, 255, 0, 255], 2, 1, 4, 1 / 255);
    expect(g.data[0]).toBeCloseTo(0.2125, 6);
    expect(g.data[1]).toBeCloseTo(0.7154, 6);
  });
});
