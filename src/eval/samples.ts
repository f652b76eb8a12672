// Scores of a generative decoder that draws several samples per fMRI vector. Two readings, both reported:
//  - per sample: every metric on each sample set, then averaged over the sets (the authors' protocol);
//  - max over samples: per fMRI the best of its samples (correct when any sample is), the paper's other reading;
//  - sample mean: the pixel mean of the samples scored as one reconstruction, a Monte-Carlo estimate of the
//    posterior mean; it is blurrier, which pixel correlation and the linear pixel classifier both reward.
import { evaluateReconstructions, maxOverSamples, meanMetrics, MetricInputError, toGrey, type GreyImage, type PixelClassifier,
  type ReconstructionMetrics } from './metrics';
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
export async function evaluateWithExtras(recons: GreyImage[], gts: GreyImage[], labels: ArrayLike<number>, clf: PixelClassifier,
  opts: SampleScoreOptions = {}, gtCnnClass?: Int32Array): Promise<ReconstructionMetrics> {
  if (!opts.cnn) return evaluateReconstructions(recons, gts, labels, clf, { gallery: opts.gallery });
  const side = opts.cnn.imageSize;
  const gtClass = gtCnnClass ?? await opts.cnn.classify(stackGrey(gts, side), gts.length);
  const probs = await opts.cnn.probabilities(stackGrey(recons, side), recons.length);
  return evaluateReconstructions(recons, gts, labels, clf, { cnnProbs: probs, cnnGtClass: gtClass, gallery: opts.gallery });
}

/**
 * images[i] holds `numSamples` RGB images [side, side, 3] in [0, 1] for ground truth i, back to back (the layout
 * of reconstructBatch); they are turned grey at the ground-truth resolution before scoring.
 */
export async function scoreSamples(images: Float32Array[], numSamples: number, gts: GreyImage[], labels: ArrayLike<number>,
  clf: PixelClassifier, opts: SampleScoreOptions = {}): Promise<SampleScores> {
  if (images.length !== gts.length) throw new MetricInputError(`${images.length} reconstructions for ${gts.length} ground-truth images`);
  if (!(Number.isInteger(numSamples) && numSamples >= 1)) throw new MetricInputError(`numSamples must be a positive integer, got ${numSamples}`);
  const side = Math.sqrt(images[0].length / (3 * numSamples));
  if (!Number.isInteger(side)) throw new MetricInputError(`${images[0].length} values are not ${numSamples} square RGB image(s)`);
  const size = side * side * 3;
  const { height, width } = gts[0];
  const grey = images.map((img) => {
    if (img.length !== size * numSamples) throw new MetricInputError(`reconstruction of ${img.length} values, expected ${size * numSamples}`);
    return Array.from({ length: numSamples }, (_, s) => toGrey(img.subarray(s * size, (s + 1) * size), side, side, 3, height, width));
  });
  const gtClass = opts.cnn ? await opts.cnn.classify(stackGrey(gts, opts.cnn.imageSize), gts.length) : undefined;
  const perSample: ReconstructionMetrics[] = [];
  for (let s = 0; s < numSamples; s++) perSample.push(await evaluateWithExtras(grey.map((g) => g[s]), gts, labels, clf, opts, gtClass));
  let sampleMean: ReconstructionMetrics | null = null;
  if (numSamples > 1) {
    const means = grey.map((g) => {
      const data = new Float64Array(height * width);
      for (const img of g) for (let p = 0; p < data.length; p++) data[p] += img.data[p] / numSamples;
      return { height, width, data };
    });
    sampleMean = await evaluateWithExtras(means, gts, labels, clf, opts, gtClass);
  }
  return { perSample, meanOverSamples: meanMetrics(perSample), maxOverSamples: maxOverSamples(perSample), sampleMean };
}
