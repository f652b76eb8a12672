// Image similarity for the compare view: Pearson correlation and SSIM on grey images in [0, 1].
// SSIM follows skimage.metrics.structural_similarity defaults (7×7 uniform window, K1 0.01, K2 0.03,
// sample covariance, mean over windows that lie fully inside the image), so numbers match Python tools.

export interface GrayImage {
  width: number;
  height: number;
  /** Row-major values in [0, 1]. */
  data: Float32Array;
}

/** RGB(A) interleaved → grey with skimage's rgb2gray weights (ITU-R 709 luma). */
export function toGray(pixels: ArrayLike<number>, width: number, height: number, channels: number, scale = 1): GrayImage {
  const data = new Float32Array(width * height);
  for (let i = 0; i < width * height; i++) {
    const o = i * channels;
    data[i] = channels === 1
      ? pixels[o] * scale
      : (0.2125 * pixels[o] + 0.7154 * pixels[o + 1] + 0.0721 * pixels[o + 2]) * scale;
  }
  return { width, height, data };
}

/** Resample to width×height: box average for integer down-scaling, bilinear (half-pixel centres) otherwise. */
export function resizeGray(img: GrayImage, width: number, height: number): GrayImage {
  if (img.width === width && img.height === height) return img;
  const out = new Float32Array(width * height);
  const fx = img.width / width;
  const fy = img.height / height;
  if (Number.isInteger(fx) && Number.isInteger(fy) && fx >= 1 && fy >= 1) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let s = 0;
        for (let dy = 0; dy < fy; dy++) for (let dx = 0; dx < fx; dx++) s += img.data[(y * fy + dy) * img.width + x * fx + dx];
        out[y * width + x] = s / (fx * fy);
      }
    }
    return { width, height, data: out };
  }
  for (let y = 0; y < height; y++) {
    const sy = Math.min(img.height - 1, Math.max(0, (y + 0.5) * fy - 0.5));
    const y0 = Math.floor(sy), y1 = Math.min(img.height - 1, y0 + 1), wy = sy - y0;
    for (let x = 0; x < width; x++) {
      const sx = Math.min(img.width - 1, Math.max(0, (x + 0.5) * fx - 0.5));
      const x0 = Math.floor(sx), x1 = Math.min(img.width - 1, x0 + 1), wx = sx - x0;
      const at = (yy: number, xx: number) => img.data[yy * img.width + xx];
      out[y * width + x] = (1 - wy) * ((1 - wx) * at(y0, x0) + wx * at(y0, x1)) + wy * ((1 - wx) * at(y1, x0) + wx * at(y1, x1));
    }
  }
  return { width, height, data: out };
}

/** Pearson correlation of two equal-length vectors; 0 when either is constant. */
export function pcc(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`pcc: lengths differ (${a.length} vs ${b.length})`);
  const n = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) { ma += a[i]; mb += b[i]; }
  ma /= n; mb /= n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma, db = b[i] - mb;
    sab += da * db; saa += da * da; sbb += db * db;
  }
  return saa === 0 || sbb === 0 ? 0 : sab / Math.sqrt(saa * sbb);
}

/** Mean SSIM of two grey images of the same size with values in [0, dataRange]. */
export function ssim(a: GrayImage, b: GrayImage, dataRange = 1, win = 7): number {
  if (a.width !== b.width || a.height !== b.height) {
    throw new Error(`ssim: sizes differ (${a.width}×${a.height} vs ${b.width}×${b.height})`);
  }
  if (a.width < win || a.height < win) throw new Error(`ssim: images must be at least ${win}×${win}`);
  const c1 = (0.01 * dataRange) ** 2, c2 = (0.03 * dataRange) ** 2;
  const np = win * win, covNorm = np / (np - 1);
  const w = a.width;
  let total = 0, count = 0;
  for (let y = 0; y + win <= a.height; y++) {
    for (let x = 0; x + win <= w; x++) {
      let sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
      for (let dy = 0; dy < win; dy++) {
        for (let dx = 0; dx < win; dx++) {
          const i = (y + dy) * w + x + dx;
          const va = a.data[i], vb = b.data[i];
          sa += va; sb += vb; saa += va * va; sbb += vb * vb; sab += va * vb;
        }
      }
      const ua = sa / np, ub = sb / np;
      const vxa = covNorm * (saa / np - ua * ua), vxb = covNorm * (sbb / np - ub * ub), cab = covNorm * (sab / np - ua * ub);
      total += ((2 * ua * ub + c1) * (2 * cab + c2)) / ((ua * ua + ub * ub + c1) * (vxa + vxb + c2));
      count++;
    }
  }
  return total / count;
}
