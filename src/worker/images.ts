// Pixel conversions done in the worker so the main thread only blits ImageData.
import type { RgbaImage } from '../engine/protocol';
import type { ImageBatch } from '../engine/types';
import { toRgb8 } from '../io/png';

/**
 * Decoded images [n, H, W, 3] in [0, 1] → one RGBA image per sample, each channel quantised as toRgb8 (clamp, round
 * to nearest): the same 8-bit values as the PNGs of `npm run decode`.
 */
export function batchToRgba(batch: ImageBatch): RgbaImage[] {
  const { n, height, width, data } = batch;
  const out: RgbaImage[] = [];
  const size = width * height * 3;
  for (let s = 0; s < n; s++) {
    const rgb = toRgb8(data.subarray(s * size, (s + 1) * size));
    const pixels = new Uint8ClampedArray(width * height * 4);
    for (let i = 0; i < width * height; i++) {
      pixels[i * 4] = rgb[i * 3];
      pixels[i * 4 + 1] = rgb[i * 3 + 1];
      pixels[i * 4 + 2] = rgb[i * 3 + 2];
      pixels[i * 4 + 3] = 255;
    }
    out.push({ width, height, pixels });
  }
  return out;
}

/**
 * Per-pixel standard deviation over the n decoded samples of their grey (channel-mean) images: [H·W], population sd
 * (np.std(grey, axis=0), ddof 0), in the images' [0, 1] units. Zero everywhere for one sample.
 */
export function pixelStd(batch: ImageBatch): Float32Array {
  const { n, height, width, data } = batch;
  const plane = height * width;
  const out = new Float32Array(plane);
  const grey = new Float64Array(n);
  for (let p = 0; p < plane; p++) {
    // Two passes (mean, then squared deviations): no cancellation when the samples nearly agree.
    let mean = 0;
    for (let s = 0; s < n; s++) {
      const b = (s * plane + p) * 3;
      grey[s] = (data[b] + data[b + 1] + data[b + 2]) / 3;
      mean += grey[s];
    }
    mean /= n;
    let ss = 0;
    for (let s = 0; s < n; s++) ss += (grey[s] - mean) ** 2;
    out[p] = Math.sqrt(ss / n);
  }
  return out;
}

/** A non-negative map [H·W] → grey RGBA with 0 black and `max` white (max 0: all black). */
export function mapToRgba(map: Float32Array, width: number, height: number, max: number): RgbaImage {
  const pixels = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    const v = max > 0 ? Math.round(Math.min(1, map[i] / max) * 255) : 0;
    pixels[i * 4] = pixels[i * 4 + 1] = pixels[i * 4 + 2] = v;
    pixels[i * 4 + 3] = 255;
  }
  return { width, height, pixels };
}

/** Pixel mean of the n decoded images (the studio's "mean of samples" view, as `npm run eval`'s sample-mean reading). */
export function meanImage(batch: ImageBatch): ImageBatch {
  const { n, height, width, data } = batch;
  const size = height * width * 3;
  const out = new Float32Array(size);
  for (let s = 0; s < n; s++) for (let i = 0; i < size; i++) out[i] += data[s * size + i];
  for (let i = 0; i < size; i++) out[i] /= n;
  return { n: 1, height, width, data: out };
}

/**
 * Latents NCHW [n, c, h, w] → RGBA per sample: channels 0–2 as R, G, B (a single channel as grey),
 * each sample min–max normalised over all its channels so relative channel strength stays visible.
 */
export function latentsToRgba(latents: Float32Array, n: number, c: number, h: number, w: number): RgbaImage[] {
  const plane = h * w;
  const out: RgbaImage[] = [];
  for (let s = 0; s < n; s++) {
    const base = s * c * plane;
    const shown = Math.min(c, 3);
    let lo = Infinity,
      hi = -Infinity;
    for (let i = 0; i < shown * plane; i++) {
      const v = latents[base + i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const scale = hi > lo ? 255 / (hi - lo) : 0;
    const pixels = new Uint8ClampedArray(plane * 4);
    for (let i = 0; i < plane; i++) {
      for (let k = 0; k < 3; k++) pixels[i * 4 + k] = (latents[base + Math.min(k, shown - 1) * plane + i] - lo) * scale + 0.5;
      pixels[i * 4 + 3] = 255;
    }
    out.push({ width: w, height: h, pixels });
  }
  return out;
}

/** uint8 image [H, W, C] (C = 1 or 3) → RGBA. */
export function uint8ToRgba(data: ArrayLike<number>, width: number, height: number, channels: number): RgbaImage {
  const pixels = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    for (let k = 0; k < 3; k++) pixels[i * 4 + k] = data[i * channels + (channels === 1 ? 0 : k)];
    pixels[i * 4 + 3] = 255;
  }
  return { width, height, pixels };
}

/** Nearest-neighbour upscale by an integer factor (small latents and 32-px images in exported GIFs). */
export function upscale(img: RgbaImage, factor: number): RgbaImage {
  if (factor <= 1) return img;
  const width = img.width * factor,
    height = img.height * factor;
  const pixels = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const s = (Math.floor(y / factor) * img.width + Math.floor(x / factor)) * 4;
      pixels.set(img.pixels.subarray(s, s + 4), (y * width + x) * 4);
    }
  }
  return { width, height, pixels };
}

/** RGBA → packed RGB (for PNG export). */
export function rgbaToRgb(img: RgbaImage): Uint8Array {
  const out = new Uint8Array(img.width * img.height * 3);
  for (let i = 0; i < img.width * img.height; i++) {
    out[i * 3] = img.pixels[i * 4];
    out[i * 3 + 1] = img.pixels[i * 4 + 1];
    out[i * 3 + 2] = img.pixels[i * 4 + 2];
  }
  return out;
}
