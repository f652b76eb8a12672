// The canvases repaint after Chromium restores a lost 2-D context (it clears GPU-backed canvases when its GPU
// process restarts; in the studio that followed a WebGPU device loss and left Done runs with black images).
import { createElement } from 'react';
import { act } from 'react';
import { createRoot } from 'react-dom/client';
import { afterEach, describe, expect, it } from 'vitest';
import type { RgbaImage } from '../engine/protocol';
import { RgbaCanvas, VoxelPlot } from './widgets';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const host = document.createElement('div');
document.body.append(host);
const root = createRoot(host);
afterEach(() => act(() => root.render(null)));

function gradient(width: number, height: number): RgbaImage {
  const pixels = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) pixels.set([i % 256, 255 - (i % 256), 77, 255], i * 4);
  return { width, height, pixels };
}

function pixelsOf(canvas: HTMLCanvasElement): Uint8ClampedArray {
  return canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
}

/** What Chromium does to a GPU-backed canvas it lost and restored: the bitmap cleared, then `contextrestored`. */
function loseAndRestore(canvas: HTMLCanvasElement) {
  canvas.getContext('2d')!.clearRect(0, 0, canvas.width, canvas.height);
  canvas.dispatchEvent(new Event('contextrestored'));
}

describe('usePaintedCanvas', () => {
  it('RgbaCanvas paints its image, and paints it again after a context restore', async () => {
    const image = gradient(16, 16);
    await act(() => root.render(createElement(RgbaCanvas, { image, label: 'x', testId: 'c' })));
    const canvas = host.querySelector('canvas')!;
    expect([canvas.width, canvas.height]).toEqual([16, 16]);
    expect(pixelsOf(canvas)).toEqual(image.pixels);
    canvas.getContext('2d')!.clearRect(0, 0, 16, 16);
    expect(pixelsOf(canvas).every((v) => v === 0)).toBe(true);
    loseAndRestore(canvas);
    expect(pixelsOf(canvas)).toEqual(image.pixels);
  });

  it('repaints the image on screen now, not the one it first painted', async () => {
    const first = gradient(8, 8),
      second = gradient(4, 4);
    await act(() => root.render(createElement(RgbaCanvas, { image: first, label: 'x' })));
    await act(() => root.render(createElement(RgbaCanvas, { image: second, label: 'x' })));
    const canvas = host.querySelector('canvas')!;
    loseAndRestore(canvas);
    expect([canvas.width, canvas.height]).toEqual([4, 4]);
    expect(pixelsOf(canvas)).toEqual(second.pixels);
  });

  it('VoxelPlot draws its envelope again after a context restore', async () => {
    const voxels = Float32Array.from({ length: 2000 }, (_, i) => Math.sin(i / 50));
    await act(() => root.render(createElement(VoxelPlot, { voxels })));
    const canvas = host.querySelector('canvas')!;
    const drawn = pixelsOf(canvas).slice();
    expect(drawn.some((v) => v > 0)).toBe(true);
    loseAndRestore(canvas);
    expect(pixelsOf(canvas)).toEqual(drawn);
  });
});
