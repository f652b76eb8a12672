// Scores of a generative decoder that draws several samples per fMRI vector. Two readings, both reported:
//  - per sample: every metric on each sample set, then averaged over the sets (the authors' protocol);
//  - sample mean: the pixel mean of the samples scored as one reconstruction, a Monte-Carlo estimate of the
//    posterior mean; it is blurrier, which pixel correlation and the linear pixel classifier both reward.
import { evaluateReconstructions, meanMetrics, MetricInputError, toGrey, type GreyImage, type PixelClassifier, type ReconstructionMetrics } from './metrics';

export interface SampleScores {
  perSample: ReconstructionMetrics[];
  /** Mean over `perSample`. */
  meanOverSamples: ReconstructionMetrics;
  /** Metrics of the pixel-mean image; null for one sample. */
  sampleMean: ReconstructionMetrics | null;
}

/**
 * images[i] holds `numSamples` RGB images [side, side, 3] in [0, 1] for ground truth i, back to back (the layout
 * of reconstructBatch); they are turned grey at the ground-truth resolution before scoring.
 */
export function scoreSamples(images: Float32Array[], numSamples: number, gts: GreyImage[], labels: ArrayLike<number>,
  clf: PixelClassifier): SampleScores {
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
  const perSample = Array.from({ length: numSamples }, (_, s) => evaluateReconstructions(grey.map((g) => g[s]), gts, labels, clf));
  let sampleMean: ReconstructionMetrics | null = null;
  if (numSamples > 1) {
    const means = grey.map((g) => {
      const data = new Float64Array(height * width);
      for (const img of g) for (let p = 0; p < data.length; p++) data[p] += img.data[p] / numSamples;
      return { height, width, data };
    });
    sampleMean = evaluateReconstructions(means, gts, labels, clf);
  }
  return { perSample, meanOverSamples: meanMetrics(perSample), sampleMean };
}
