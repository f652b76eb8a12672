// Reconstruction metrics as in the authors' eval_metrics.py (MinD-Vis / CAD, spec model.md §6.1),
// on grey images at the ground-truth resolution, values in [0, 1]:
//  - pcc: np.corrcoef of the flattened images;
//  - ssim: skimage.metrics.structural_similarity(data_range=255) with its defaults (7×7 uniform window,
//    K1 0.01, K2 0.03, sample covariance, mean over the interior where the window fits);
//  - 2-way pairwise identification: for reconstruction i, the fraction of other GT j ≠ i that score
//    worse against it than its own GT i (pair_wise_score, chance 0.5);
//  - 50-way identification top-1: argmax over all GT j of pcc(recon i, GT j) equals i (chance 1/n);
//  - class accuracy: top-1 of a small pixel classifier on the reconstruction against the GT label.

export class MetricInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetricInputError';
  }
}

/** Grey image, row-major [height, width]. */
export interface GreyImage {
  height: number;
  width: number;
  data: Float64Array;
}

export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new MetricInputError(`pcc: lengths differ (${a.length} vs ${b.length})`);
  const n = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) { ma += a[i]; mb += b[i]; }
  ma /= n; mb /= n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma, db = b[i] - mb;
    sab += da * db; saa += da * da; sbb += db * db;
  }
  return sab / Math.sqrt(saa * sbb); // NaN for a constant image, as np.corrcoef
}

const SSIM_WIN = 7;
const SSIM_K1 = 0.01;
const SSIM_K2 = 0.03;

/** skimage structural_similarity for one channel; images in [0, dataRange]. */
export function ssim(a: GreyImage, b: GreyImage, dataRange = 1): number {
  if (a.height !== b.height || a.width !== b.width) {
    throw new MetricInputError(`ssim: image sizes differ (${a.height}×${a.width} vs ${b.height}×${b.width})`);
  }
  const h = a.height, w = a.width, r = (SSIM_WIN - 1) / 2;
  if (h < SSIM_WIN || w < SSIM_WIN) throw new MetricInputError(`ssim: images must be at least ${SSIM_WIN}×${SSIM_WIN}, got ${h}×${w}`);
  const np = SSIM_WIN * SSIM_WIN, covNorm = np / (np - 1);
  const c1 = (SSIM_K1 * dataRange) ** 2, c2 = (SSIM_K2 * dataRange) ** 2;
  const A = a.data, B = b.data;
  let total = 0;
  // Only the interior is averaged (skimage crops `r` pixels), so every window lies fully inside.
  for (let y = r; y < h - r; y++) {
    for (let x = r; x < w - r; x++) {
      let sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
      for (let dy = -r; dy <= r; dy++) {
        const row = (y + dy) * w;
        for (let dx = -r; dx <= r; dx++) {
          const va = A[row + x + dx], vb = B[row + x + dx];
          sa += va; sb += vb; saa += va * va; sbb += vb * vb; sab += va * vb;
        }
      }
      const ux = sa / np, uy = sb / np;
      const vx = covNorm * (saa / np - ux * ux), vy = covNorm * (sbb / np - uy * uy), vxy = covNorm * (sab / np - ux * uy);
      total += ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
    }
  }
  return total / ((h - 2 * r) * (w - 2 * r));
}

/** score[i][j] = metric(recon i, GT j), a dense n×n table. */
export function scoreMatrix(recons: GreyImage[], gts: GreyImage[], metric: (a: GreyImage, b: GreyImage) => number): Float64Array[] {
  if (recons.length !== gts.length) throw new MetricInputError(`${recons.length} reconstructions but ${gts.length} ground-truth images`);
  return recons.map((r) => Float64Array.from(gts.map((g) => metric(r, g))));
}

/** Mean over i of the fraction of j ≠ i with score[i][i] > score[i][j] (larger is better). */
export function pairwise2way(score: Float64Array[]): number {
  const n = score.length;
  if (n < 2) throw new MetricInputError(`2-way identification needs at least 2 images, got ${n}`);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    let count = 0;
    for (let j = 0; j < n; j++) if (j !== i && score[i][i] > score[i][j]) count++;
    sum += count / (n - 1);
  }
  return sum / n;
}

/** Fraction of i with argmax_j score[i][j] = i (first maximum wins on ties, as np.argmax). */
export function identificationTop1(score: Float64Array[]): number {
  let correct = 0;
  score.forEach((row, i) => {
    if (row.every((v, j) => (j < i ? row[i] > v : row[i] >= v))) correct++;
  });
  return correct / score.length;
}

/** Linear pixel classifier: logits = W·x + b over the flattened grey image in [0, 1]. */
export interface PixelClassifier {
  numClasses: number;
  numPixels: number;
  /** [numClasses, numPixels] row-major. */
  weight: Float32Array;
  bias: Float32Array;
}

export function classify(clf: PixelClassifier, img: GreyImage): number {
  if (img.data.length !== clf.numPixels) {
    throw new MetricInputError(`classifier expects ${clf.numPixels} pixels, image has ${img.height}×${img.width} = ${img.data.length}`);
  }
  let best = -1, bestLogit = -Infinity;
  for (let c = 0; c < clf.numClasses; c++) {
    let s = clf.bias[c];
    const off = c * clf.numPixels;
    for (let p = 0; p < clf.numPixels; p++) s += clf.weight[off + p] * img.data[p];
    if (s > bestLogit) { bestLogit = s; best = c; }
  }
  return best;
}

export interface ReconstructionMetrics {
  top1_50way: number;
  pair2way_pcc: number;
  pair2way_ssim: number;
  class_acc: number;
  pcc: number;
  ssim: number;
  n_test: number;
}

/** All metrics for one set of reconstructions (recon i belongs to GT i with label labels[i]). */
export function evaluateReconstructions(recons: GreyImage[], gts: GreyImage[], labels: ArrayLike<number>, clf: PixelClassifier): ReconstructionMetrics {
  if (labels.length !== gts.length) throw new MetricInputError(`${gts.length} images but ${labels.length} labels`);
  const pcc = scoreMatrix(recons, gts, (a, b) => pearson(a.data, b.data));
  const ss = scoreMatrix(recons, gts, (a, b) => ssim(a, b));
  const n = recons.length;
  let meanPcc = 0, meanSsim = 0, correct = 0;
  for (let i = 0; i < n; i++) {
    meanPcc += pcc[i][i] / n;
    meanSsim += ss[i][i] / n;
    if (classify(clf, recons[i]) === labels[i]) correct++;
  }
  return {
    top1_50way: identificationTop1(pcc), pair2way_pcc: pairwise2way(pcc), pair2way_ssim: pairwise2way(ss),
    class_acc: correct / n, pcc: meanPcc, ssim: meanSsim, n_test: n,
  };
}

/** Mean of each metric over several sample sets (e.g. several diffusion samples per fMRI). */
export function meanMetrics(runs: ReconstructionMetrics[]): ReconstructionMetrics {
  if (runs.length === 0) throw new MetricInputError('no metric runs to average');
  const keys = ['top1_50way', 'pair2way_pcc', 'pair2way_ssim', 'class_acc', 'pcc', 'ssim'] as const;
  const out = { ...runs[0] };
  for (const k of keys) out[k] = runs.reduce((s, r) => s + r[k], 0) / runs.length;
  return out;
}

/**
 * An [H, W, C] image (C = 1 or 3, any range the caller states as [0, 1]) → grey at outH×outW:
 * mean of the channels, then box averaging for integer down-scaling, or bilinear
 * (half-pixel centres, like PIL/torch align_corners=false) otherwise.
 */
export function toGrey(pixels: ArrayLike<number>, height: number, width: number, channels: number, outH: number, outW: number): GreyImage {
  if (pixels.length !== height * width * channels) {
    throw new MetricInputError(`image of ${height}×${width}×${channels} needs ${height * width * channels} values, got ${pixels.length}`);
  }
  const grey = new Float64Array(height * width);
  for (let p = 0; p < height * width; p++) {
    let s = 0;
    for (let c = 0; c < channels; c++) s += pixels[p * channels + c];
    grey[p] = s / channels;
  }
  if (height === outH && width === outW) return { height, width, data: grey };
  const out = new Float64Array(outH * outW);
  if (height % outH === 0 && width % outW === 0) {
    const fy = height / outH, fx = width / outW;
    for (let y = 0; y < outH; y++) for (let x = 0; x < outW; x++) {
      let s = 0;
      for (let dy = 0; dy < fy; dy++) for (let dx = 0; dx < fx; dx++) s += grey[(y * fy + dy) * width + x * fx + dx];
      out[y * outW + x] = s / (fy * fx);
    }
  } else {
    const sample = (yy: number, xx: number): number => grey[Math.min(height - 1, Math.max(0, yy)) * width + Math.min(width - 1, Math.max(0, xx))];
    for (let y = 0; y < outH; y++) for (let x = 0; x < outW; x++) {
      const sy = Math.max(0, (y + 0.5) * height / outH - 0.5), sx = Math.max(0, (x + 0.5) * width / outW - 0.5);
      const y0 = Math.floor(sy), x0 = Math.floor(sx), wy = sy - y0, wx = sx - x0;
      out[y * outW + x] = (1 - wy) * ((1 - wx) * sample(y0, x0) + wx * sample(y0, x0 + 1)) + wy * ((1 - wx) * sample(y0 + 1, x0) + wx * sample(y0 + 1, x0 + 1));
    }
  }
  return { height: outH, width: outW, data: out };
}
