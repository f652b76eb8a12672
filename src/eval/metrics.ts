// Reconstruction metrics as in the authors' eval_metrics.py (MinD-Vis / CAD, spec model.md §6.1),
// on grey images at the ground-truth resolution, values in [0, 1]:
//  - pcc: np.corrcoef of the flattened images;
//  - ssim: skimage.metrics.structural_similarity(data_range=255) with its defaults (7×7 uniform window,
//    K1 0.01, K2 0.03, sample covariance, mean over the interior where the window fits);
//  - 2-way pairwise identification: for reconstruction i, the fraction of other GT j ≠ i that score
//    worse against it than its own GT i (pair_wise_score, chance 0.5);
//  - 50-way identification top-1: argmax over all GT j of pcc(recon i, GT j) equals i (chance 1/n);
//  - class accuracy: top-1 of a small pixel classifier on the reconstruction against the GT label
//    ("pixel-logistic class");
//  - CNN class: n_way_top_k_acc (top-1) with the small Fashion-MNIST CNN (src/eval/cnn.ts) in place of the
//    authors' ViT-H/14: the label is the CNN's class of the TRUE image, the reconstruction is right when its
//    softmax ranks that class first among it and n−1 other classes (nWayTop1);
//  - novelty identification (Shirakawa et al. 2024, "spurious reconstruction"): the rank of the own GT by pcc
//    among the test images AND every training image (noveltyIdentification); a decoder that retrieves
//    training look-alikes fails it.
// Every metric is also kept per test image (`per_item`), so several samples per fMRI can be read as the mean
// over samples or as the max over samples (an fMRI counts as correct when any of its samples is).
import { errorClass } from '../errors';

export class MetricInputError extends errorClass('MetricInputError') {}

/** Grey image, row-major [height, width]. */
export interface GreyImage {
  height: number;
  width: number;
  data: Float64Array;
}

/**
 * Pearson correlation of two equally long vectors (images flattened in the same order), as np.corrcoef[0, 1];
 * NaN when either is constant. Throws MetricInputError when the lengths differ. Used by the pair-wise PCC
 * identification of the authors' eval_metrics.py (spec §6.1).
 */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new MetricInputError(`pcc: lengths differ (${a.length} vs ${b.length})`);
  const n = a.length;
  let ma = 0,
    mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0,
    saa = 0,
    sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma,
      db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return sab / Math.sqrt(saa * sbb); // NaN for a constant image, as np.corrcoef
}

const SSIM_WIN = 7;
const SSIM_K1 = 0.01;
const SSIM_K2 = 0.03;

/**
 * skimage.metrics.structural_similarity for one grey channel (7×7 uniform window, K1 0.01, K2 0.03, sample
 * covariance, mean over the valid window positions), images [H, W] with values in [0, dataRange], as the
 * authors' eval_metrics.py uses it (spec §6.1); checked against skimage in metrics.synthetic.test.ts.
 */
export function ssim(a: GreyImage, b: GreyImage, dataRange = 1): number {
  if (a.height !== b.height || a.width !== b.width) {
    throw new MetricInputError(`ssim: image sizes differ (${a.height}×${a.width} vs ${b.height}×${b.width})`);
  }
  const h = a.height,
    w = a.width,
    r = (SSIM_WIN - 1) / 2;
  if (h < SSIM_WIN || w < SSIM_WIN) throw new MetricInputError(`ssim: images must be at least ${SSIM_WIN}×${SSIM_WIN}, got ${h}×${w}`);
  const np = SSIM_WIN * SSIM_WIN,
    covNorm = np / (np - 1);
  const c1 = (SSIM_K1 * dataRange) ** 2,
    c2 = (SSIM_K2 * dataRange) ** 2;
  const A = a.data,
    B = b.data;
  let total = 0;
  // Only the interior is averaged (skimage crops `r` pixels), so every window lies fully inside.
  for (let y = r; y < h - r; y++) {
    for (let x = r; x < w - r; x++) {
      let sa = 0,
        sb = 0,
        saa = 0,
        sbb = 0,
        sab = 0;
      for (let dy = -r; dy <= r; dy++) {
        const row = (y + dy) * w;
        for (let dx = -r; dx <= r; dx++) {
          const va = A[row + x + dx],
            vb = B[row + x + dx];
          sa += va;
          sb += vb;
          saa += va * va;
          sbb += vb * vb;
          sab += va * vb;
        }
      }
      const ux = sa / np,
        uy = sb / np;
      const vx = covNorm * (saa / np - ux * ux),
        vy = covNorm * (sbb / np - uy * uy),
        vxy = covNorm * (sab / np - ux * uy);
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

/**
 * 2-way identification: mean over reconstructions i of the fraction of other stimuli j ≠ i with
 * score[i][i] > score[i][j] (score[i][j]: reconstruction i against ground truth j, larger is better). Chance 0.5.
 * As the authors' eval_metrics.py pair-wise scores (spec §6.1). Throws MetricInputError below 2 images.
 */
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

/**
 * n-way top-1 identification over the n candidates: fraction of i with argmax_j score[i][j] = i (first maximum
 * wins on ties, as np.argmax). Chance 1/n.
 */
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
  let best = -1,
    bestLogit = -Infinity;
  for (let c = 0; c < clf.numClasses; c++) {
    let s = clf.bias[c];
    const off = c * clf.numPixels;
    for (let p = 0; p < clf.numPixels; p++) s += clf.weight[off + p] * img.data[p];
    if (s > bestLogit) {
      bestLogit = s;
      best = c;
    }
  }
  return best;
}

/**
 * n_way_top_k_acc of the authors' eval_metrics.py for top-1, as its exact expectation: the authors draw
 * `num_trials` random sets of n−1 classes other than `classId` and count a trial correct when probs[classId] is
 * the largest of the n picked values. With m other classes scoring strictly higher, a trial is correct iff none
 * of them is picked, so the expectation is C(K−1−m, n−1) / C(K−1, n−1) (K = probs.length). For n = K it is 0 or 1
 * (argmax, ties in favour of the class) and equals the authors' value for any number of trials.
 */
export function nWayTop1(probs: ArrayLike<number>, classId: number, nWay: number): number {
  const k = probs.length;
  if (!(Number.isInteger(classId) && classId >= 0 && classId < k))
    throw new MetricInputError(`n-way top-1: class ${classId} outside 0..${k - 1}`);
  if (!(Number.isInteger(nWay) && nWay >= 2 && nWay <= k))
    throw new MetricInputError(`n-way top-1: n must be an integer in 2..${k}, got ${nWay}`);
  let higher = 0;
  for (let c = 0; c < k; c++) if (c !== classId && probs[c] > probs[classId]) higher++;
  // ∏_{t=0}^{n−2} (K−1−m−t)/(K−1−t): probability that n−1 draws without replacement avoid all m higher classes
  let p = 1;
  for (let t = 0; t < nWay - 1; t++) p *= Math.max(0, k - 1 - higher - t) / (k - 1 - t);
  return p;
}

/** Per test image: rank (1 = best) and percentile of the own GT among all candidates, by pcc. */
export interface NoveltyResult {
  /** 1 + the number of candidates scoring strictly higher than the own GT (ties count in its favour). */
  rank: Int32Array;
  /** Fraction of the other candidates scoring strictly lower than the own GT (1 best, chance 0.5). */
  percentile: Float64Array;
  numCandidates: number;
}

/**
 * Novelty identification test of Shirakawa et al. (2024, "spurious reconstruction"): reconstruction i is
 * compared by pixel correlation with every candidate of [gts…, gallery…] (the test images AND the training
 * images), and the own GT i is ranked among them. A decoder that draws training look-alikes puts training
 * images first and fails it even when it identifies well among the test images alone.
 */
export function noveltyIdentification(recons: GreyImage[], gts: GreyImage[], gallery: GreyImage[]): NoveltyResult {
  if (recons.length !== gts.length) throw new MetricInputError(`${recons.length} reconstructions but ${gts.length} ground-truth images`);
  const candidates = [...gts, ...gallery],
    n = recons.length,
    total = candidates.length;
  if (total < 2) throw new MetricInputError('novelty identification needs at least 2 candidates');
  const rank = new Int32Array(n),
    percentile = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const own = pearson(recons[i].data, gts[i].data);
    let higher = 0,
      lower = 0;
    candidates.forEach((c, j) => {
      if (j === i) return;
      const v = pearson(recons[i].data, c.data);
      if (v > own) higher++;
      else if (v < own) lower++;
    });
    rank[i] = 1 + higher;
    percentile[i] = lower / (total - 1);
  }
  return { rank, percentile, numCandidates: total };
}

/** Optional inputs of the semantic and novelty metrics. */
export interface EvaluateOptions {
  /** CNN softmax of each reconstruction [n, K] row-major (src/eval/cnn.ts `probabilities`). */
  cnnProbs?: ArrayLike<number>;
  /** CNN class of each TRUE test image [n]: the label of the n-way test (the authors' protocol). */
  cnnGtClass?: ArrayLike<number>;
  /** n of the n-way test; default K (all classes: deterministic). */
  nWay?: number;
  /** Training images: with them the novelty identification test is run (candidates = gts + gallery). */
  gallery?: GreyImage[];
}

/** Per-test-image values of the metrics (1/0 for the top-1 kinds); absent keys were not computed. */
export interface PerItemMetrics {
  top1_50way: number[];
  pair2way_pcc: number[];
  pair2way_ssim: number[];
  class_acc: number[];
  pcc: number[];
  ssim: number[];
  cnn_class_acc?: number[];
  novelty_top1?: number[];
  novelty_percentile?: number[];
}

export interface ReconstructionMetrics {
  top1_50way: number;
  pair2way_pcc: number;
  pair2way_ssim: number;
  /** pixel-logistic class accuracy (classifier.npz), 10-way against the true label. */
  class_acc: number;
  pcc: number;
  ssim: number;
  /** CNN n-way top-1 (nWayTop1 with the CNN's class of the true image as label); with cnnProbs only. */
  cnn_class_acc?: number;
  /** n of cnn_class_acc. */
  cnn_n_way?: number;
  /** Novelty test: fraction whose own GT ranks first among test + training images; with a gallery only. */
  novelty_top1?: number;
  /** Novelty test: mean percentile of the own GT among the test + training images (chance 0.5). */
  novelty_percentile?: number;
  /** Number of novelty candidates (test + training images). */
  novelty_candidates?: number;
  n_test: number;
  per_item?: PerItemMetrics;
}

/** Keys of ReconstructionMetrics that are means over test images (and can be averaged or maxed over samples). */
export const ITEM_METRICS = [
  'top1_50way',
  'pair2way_pcc',
  'pair2way_ssim',
  'class_acc',
  'pcc',
  'ssim',
  'cnn_class_acc',
  'novelty_top1',
  'novelty_percentile',
] as const;

const mean = (v: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i];
  return s / v.length;
};

/** All metrics for one set of reconstructions (recon i belongs to GT i with label labels[i]). */
export function evaluateReconstructions(
  recons: GreyImage[],
  gts: GreyImage[],
  labels: ArrayLike<number>,
  clf: PixelClassifier,
  opts: EvaluateOptions = {},
): ReconstructionMetrics {
  if (labels.length !== gts.length) throw new MetricInputError(`${gts.length} images but ${labels.length} labels`);
  const pcc = scoreMatrix(recons, gts, (a, b) => pearson(a.data, b.data));
  const ss = scoreMatrix(recons, gts, (a, b) => ssim(a, b));
  const n = recons.length;
  if (n < 2) throw new MetricInputError(`2-way identification needs at least 2 images, got ${n}`);
  // per-item forms of identificationTop1 / pairwise2way (their means are exactly those functions)
  const frac = (row: Float64Array, i: number): number => {
    let count = 0;
    for (let j = 0; j < n; j++) if (j !== i && row[i] > row[j]) count++;
    return count / (n - 1);
  };
  const item: PerItemMetrics = {
    top1_50way: pcc.map((row, i) => (row.every((v, j) => (j < i ? row[i] > v : row[i] >= v)) ? 1 : 0)),
    pair2way_pcc: pcc.map(frac),
    pair2way_ssim: ss.map(frac),
    class_acc: recons.map((r, i) => (classify(clf, r) === labels[i] ? 1 : 0)),
    pcc: pcc.map((row, i) => row[i]),
    ssim: ss.map((row, i) => row[i]),
  };
  const out: ReconstructionMetrics = {
    top1_50way: mean(item.top1_50way),
    pair2way_pcc: mean(item.pair2way_pcc),
    pair2way_ssim: mean(item.pair2way_ssim),
    class_acc: mean(item.class_acc),
    pcc: mean(item.pcc),
    ssim: mean(item.ssim),
    n_test: n,
    per_item: item,
  };
  if (opts.cnnProbs || opts.cnnGtClass) {
    const { cnnProbs: probs, cnnGtClass: gtClass } = opts;
    if (!probs || !gtClass) throw new MetricInputError('the CNN class metric needs both cnnProbs and cnnGtClass');
    const k = probs.length / n;
    if (!Number.isInteger(k) || gtClass.length !== n)
      throw new MetricInputError(`CNN class: ${probs.length} probabilities and ${gtClass.length} GT classes for ${n} images`);
    const nWay = opts.nWay ?? k;
    item.cnn_class_acc = recons.map((_, i) =>
      nWayTop1(Array.prototype.slice.call(probs, i * k, (i + 1) * k) as number[], gtClass[i], nWay),
    );
    out.cnn_class_acc = mean(item.cnn_class_acc);
    out.cnn_n_way = nWay;
  }
  if (opts.gallery) {
    const nov = noveltyIdentification(recons, gts, opts.gallery);
    item.novelty_top1 = Array.from(nov.rank, (r) => (r === 1 ? 1 : 0));
    item.novelty_percentile = Array.from(nov.percentile);
    out.novelty_top1 = mean(item.novelty_top1);
    out.novelty_percentile = mean(item.novelty_percentile);
    out.novelty_candidates = nov.numCandidates;
  }
  return out;
}

/** Mean of each metric over several sample sets (e.g. several diffusion samples per fMRI): the per-sample reading. */
export function meanMetrics(runs: ReconstructionMetrics[]): ReconstructionMetrics {
  if (runs.length === 0) throw new MetricInputError('no metric runs to average');
  const out: ReconstructionMetrics = { ...runs[0] };
  delete out.per_item;
  for (const k of ITEM_METRICS) {
    if (runs.some((r) => r[k] === undefined)) {
      delete out[k];
      continue;
    }
    out[k] = runs.reduce((s, r) => s + (r[k] as number), 0) / runs.length;
  }
  return out;
}

/**
 * Max over samples: per test image the best value over the sample sets (for the top-1 kinds: correct when any
 * sample is), then the mean over test images, as the paper's "max over samples" reading. Needs per_item.
 */
export function maxOverSamples(runs: ReconstructionMetrics[]): ReconstructionMetrics {
  if (runs.length === 0) throw new MetricInputError('no metric runs to combine');
  const out: ReconstructionMetrics = { ...runs[0] };
  delete out.per_item;
  for (const k of ITEM_METRICS) {
    const items = runs.map((r) => r.per_item?.[k]);
    if (items.some((v) => v === undefined)) {
      delete out[k];
      continue;
    }
    const n = (items[0] as number[]).length;
    let s = 0;
    for (let i = 0; i < n; i++) s += Math.max(...items.map((v) => (v as number[])[i]));
    out[k] = s / n;
  }
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
    const fy = height / outH,
      fx = width / outW;
    for (let y = 0; y < outH; y++)
      for (let x = 0; x < outW; x++) {
        let s = 0;
        for (let dy = 0; dy < fy; dy++) for (let dx = 0; dx < fx; dx++) s += grey[(y * fy + dy) * width + x * fx + dx];
        out[y * outW + x] = s / (fy * fx);
      }
  } else {
    const sample = (yy: number, xx: number): number =>
      grey[Math.min(height - 1, Math.max(0, yy)) * width + Math.min(width - 1, Math.max(0, xx))];
    for (let y = 0; y < outH; y++)
      for (let x = 0; x < outW; x++) {
        const sy = Math.max(0, ((y + 0.5) * height) / outH - 0.5),
          sx = Math.max(0, ((x + 0.5) * width) / outW - 0.5);
        const y0 = Math.floor(sy),
          x0 = Math.floor(sx),
          wy = sy - y0,
          wx = sx - x0;
        out[y * outW + x] =
          (1 - wy) * ((1 - wx) * sample(y0, x0) + wx * sample(y0, x0 + 1)) +
          wy * ((1 - wx) * sample(y0 + 1, x0) + wx * sample(y0 + 1, x0 + 1));
      }
  }
  return { height: outH, width: outW, data: out };
}
