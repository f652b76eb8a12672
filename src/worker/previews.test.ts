import { describe, expect, it } from 'vitest';
import { FrameCache, frameBytes, makeFrame, type Frame } from './previews';

const frame = (position: number, n = 2): Frame =>
  makeFrame(
    position,
    { n, height: 4, width: 4, data: Float32Array.from({ length: n * 48 }, (_, k) => (k % 7) / 7) },
    new Float32Array(n * 3 * 4),
    [3, 2, 2],
  );

describe('frames', () => {
  it('a frame of several samples has the mean and the sd map; one sample has neither', () => {
    const f = frame(0, 2);
    expect(f.preview.x0).toHaveLength(2);
    expect(f.preview.mean?.width).toBe(4);
    expect(f.preview.std?.width).toBe(4);
    expect(f.preview.stdMax).toBeGreaterThan(0);
    const one = frame(0, 1);
    expect(one.preview.mean).toBeUndefined();
    expect(one.preview.std).toBeUndefined();
    // no ground truth: no scores
    expect(f.preview.metrics).toBeUndefined();
  });

  it('the cache evicts the least recently used frames past its byte budget, keeps the newest and the pinned final', () => {
    const size = frameBytes(frame(0));
    const cache = new FrameCache(size * 3);
    for (let p = 0; p < 3; p++) cache.set(frame(p));
    cache.get(0); // 0 becomes most recently used
    cache.set(frame(3));
    expect([0, 1, 2, 3].map((p) => cache.has(p))).toEqual([true, false, true, true]);
    cache.pin(frame(9));
    for (let p = 10; p < 20; p++) cache.set(frame(p));
    expect(cache.has(9)).toBe(true);
    expect(cache.get(9)?.preview.position).toBe(9);
    const tiny = new FrameCache(1);
    tiny.set(frame(5));
    expect(tiny.has(5)).toBe(true); // the newest frame always stays
  });
});
