// Scores of a generative decoder that draws several samples per fMRI vector. Two readings, both reported:
//  - per sample: every metric on each sample set, then averaged over the sets (the authors' protocol);
//  - max over samples: per fMRI the best of its samples (correct when any sample is), the paper's other reading;
//  - sample mean: the pixel mean of the samples scored as one reconstruction, a Monte-Carlo estimate of the
//    posterior mean; it is blurrier, which pixel correlation and the linear pixel classifier both reward.
import {
  evaluateReconstructions,
  maxOverSamples,
  meanMetrics,
  MetricInputError,
  pearson,
  ssim,
  toGrey,
  type GreyImage,
  type PixelClassifier,
  type ReconstructionMetrics,
} from './metrics';
import { stackGrey, type CnnClassifier } from './cnn';

export interface SampleScores {
  perSample: ReconstructionMetrics[];
  /** Mean over `perSample`. */
  meanOverSamples: ReconstructionMetrics;
  /** Per test image the best sample (maxOverSamples); equals meanOverSamples for one sample. */
  maxOverSamples: ReconstructionMetrics;
  /** Metrics of the pixel-mean image; null for one sample. */
  sampleMean: ReconstructionMetrics | null;
}

/** The semantic and novelty inputs of scoreSamples; each metric is computed only when its input is given. */
export interface SampleScoreOptions {
  /** The CNN of the "CNN class" metric (its class of each GT image is the label; all-class n-way). */
  cnn?: CnnClassifier;
  /** Training images for the novelty identification test (candidates = GTs + these). */
  gallery?: GreyImage[];
}

/**
 * Scores of a set of reconstructions with the optional CNN and novelty metrics (evaluateReconstructions), the CNN
 * run on the active tfjs backend.
 */
export async function evaluateWithExtras(
  recons: GreyImage[],
  gts: GreyImage[],
  labels: ArrayLike<number>,
  clf: PixelClassifier,
  opts: SampleScoreOptions = {},
  gtCnnClass?: Int32Array,
): Promise<ReconstructionMetrics> {
  if (!opts.cnn) return evaluateReconstructions(recons, gts, labels, clf, { gallery: opts.gallery });
  const side = opts.cnn.imageSize;
  const gtClass = gtCnnClass ?? (await opts.cnn.classify(stackGrey(gts, side), gts.length));
  const probs = await opts.cnn.probabilities(stackGrey(recons, side), recons.length);
  return evaluateReconstructions(recons, gts, labels, clf, { cnnProbs: probs, cnnGtClass: gtClass, gallery: opts.gallery });
}

/** PCC and SSIM of one reconstruction against its ground truth (the per-image entries of evaluateReconstructions). */
export interface PixelScore {
  pcc: number;
  ssim: number;
}

/** Spread of one metric over the n samples of one fMRI: min, max, mean and population sd (np.std, ddof 0). */
export interface Spread {
  min: number;
  max: number;
  mean: number;
  sd: number;
}

/** The studio's scores of one fMRI's samples: the same functions `npm run eval` runs (scoreSamples). */
export interface SampleSetScores {
  perSample: PixelScore[];
  /** The pixel-mean image scored as one reconstruction; null for one sample. */
  mean: PixelScore | null;
  /** Spread of each metric over the samples (sd 0 for one sample). */
  spread: { pcc: Spread; ssim: Spread };
}

/**
 * `numSamples` float RGB images [side, side, 3] in [0, 1], back to back (decodeLatents / reconstructBatch layout),
 * → grey [outH, outW] (toGrey: channel mean, then down-scaled to the ground truth's resolution). The one pixel
 * conversion of both the studio and `npm run eval`; it scores the float images, before any 8-bit quantisation.
 */
export function greySamples(images: Float32Array, numSamples: number, outH: number, outW: number): GreyImage[] {
  if (!(Number.isInteger(numSamples) && numSamples >= 1))
    throw new MetricInputError(`numSamples must be a positive integer, got ${numSamples}`);
  const side = Math.sqrt(images.length / (3 * numSamples));
  if (!Number.isInteger(side)) throw new MetricInputError(`${images.length} values are not ${numSamples} square RGB image(s)`);
  const size = side * side * 3;
  return Array.from({ length: numSamples }, (_, s) => toGrey(images.subarray(s * size, (s + 1) * size), side, side, 3, outH, outW));
}

/** Pixel mean of grey samples (the "sample mean" reading): Σ_s x_s / n, accumulated in that order. */
export function sampleMeanGrey(grey: GreyImage[]): GreyImage {
  const { height, width } = grey[0];
  const data = new Float64Array(height * width);
  for (const img of grey) for (let p = 0; p < data.length; p++) data[p] += img.data[p] / grey.length;
  return { height, width, data };
}

/** Ground truth as grey in [0, 1] from 8-bit channels [H, W, C] (C = 1, 3 or 4 with alpha ignored): Σ_c v_c / (255·C). */
export function greyGroundTruth(pixels: ArrayLike<number>, height: number, width: number, channels: number): GreyImage {
  const used = channels === 4 ? 3 : channels;
  const data = new Float64Array(height * width);
  for (let p = 0; p < data.length; p++) {
    let s = 0;
    for (let c = 0; c < used; c++) s += pixels[p * channels + c];
    data[p] = s / (255 * used);
  }
  return { height, width, data };
}

/** PCC and SSIM of one grey reconstruction against a grey ground truth of the same size. */
export function pixelScore(recon: GreyImage, gt: GreyImage): PixelScore {
  return { pcc: pearson(recon.data, gt.data), ssim: ssim(recon, gt) };
}

/** min, max, mean and population sd of `values` (np.min, np.max, np.mean, np.std). */
export function spreadOf(values: number[]): Spread {
  if (values.length === 0) throw new MetricInputError('spread of no values');
  const mean = values.reduce((a, v) => a + v, 0) / values.length;
  const sd = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length);
  return { min: Math.min(...values), max: Math.max(...values), mean, sd };
}

/**
 * Scores of one fMRI's `numSamples` float RGB images (greySamples layout) against its grey ground truth: per sample,
 * the pixel mean, and the spread over samples. The studio's numbers; scoreSamples computes the same per-image values
 * for `npm run eval` from the same greySamples / sampleMeanGrey / pearson / ssim.
 */
export function scoreSampleSet(images: Float32Array, numSamples: number, gt: GreyImage): SampleSetScores {
  const grey = greySamples(images, numSamples, gt.height, gt.width);
  const perSample = grey.map((g) => pixelScore(g, gt));
  return {
    perSample,
    mean: numSamples > 1 ? pixelScore(sampleMeanGrey(grey), gt) : null,
    spread: { pcc: spreadOf(perSample.map((s) => s.pcc)), ssim: spreadOf(perSample.map((s) => s.ssim)) },
  };
}

/**
 * images[i] holds `numSamples` RGB images [side, side, 3] in [0, 1] for ground truth i, back to back (the layout
 * of reconstructBatch); they are turned grey at the ground-truth resolution (greySamples) before scoring.
 */
export async function scoreSamples(
  images: Float32Array[],
  numSamples: number,
  gts: GreyImage[],
  labels: ArrayLike<number>,
  clf: PixelClassifier,
  opts: SampleScoreOptions = {},
): Promise<SampleScores> {
  if (images.length !== gts.length) throw new MetricInputError(`${images.length} reconstructions for ${gts.length} ground-truth images`);
  if (!(Number.isInteger(numSamples) && numSamples >= 1))
    throw new MetricInputError(`numSamples must be a positive integer, got ${numSamples}`);
  const expected = images[0].length;
  const { height, width } = gts[0];
  const grey = images.map((img) => {
    if (img.length !== expected) throw new MetricInputError(`reconstruction of ${img.length} values, expected ${expected}`);
    return greySamples(img, numSamples, height, width);
  });
  const gtClass = opts.cnn ? await opts.cnn.classify(stackGrey(gts, opts.cnn.imageSize), gts.length) : undefined;
  const perSample: ReconstructionMetrics[] = [];
  for (let s = 0; s < numSamples; s++)
    perSample.push(
      await evaluateWithExtras(
        grey.map((g) => g[s]),
        gts,
        labels,
        clf,
        opts,
        gtClass,
      ),
    );
  const sampleMean = numSamples > 1 ? await evaluateWithExtras(grey.map(sampleMeanGrey), gts, labels, clf, opts, gtClass) : null;
  return { perSample, meanOverSamples: meanMetrics(perSample), maxOverSamples: maxOverSamples(perSample), sampleMean };
}
