// Reference decoders on the synthetic set (spec data.md §3.9): ridge from voxels to the 64 image PCs
// (PCA fitted on pretraining-pool images by the generator), and the same decoder trained with the
// image↔fMRI pairing shuffled, which must land at chance.
import { mat, type Mat } from './linalg';
import { fitRidgeMulti, DEFAULT_ALPHAS } from './ridge';
import type { GreyImage } from './metrics';
import type { ReferenceModels, SynthDataset } from './data';
import { mulberry32 } from '../diffusion/rng';

export type BaselineName = 'ridge' | 'shuffled';

export interface BaselineRun {
  method: BaselineName;
  alpha: number;
  looMse: Record<string, number>;
  recons: GreyImage[];
}

export function permutation(n: number, seed: number): Int32Array {
  const rand = mulberry32(seed),
    p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

function pcaCoordinates(ds: SynthDataset, models: ReferenceModels): Mat {
  const { mean, components, numComponents: k, numPixels: p } = models.pca;
  if (p !== ds.imageSize * ds.imageSize) throw new Error(`pca64.npz has ${p} pixels, images are ${ds.imageSize}×${ds.imageSize}`);
  const out = mat(ds.numTrain, k),
    centred = new Float64Array(p);
  for (let s = 0; s < ds.numTrain; s++) {
    const off = ds.trainImageIndex[s] * p;
    for (let i = 0; i < p; i++) centred[i] = ds.trainImages[off + i] / 255 - mean[i];
    for (let c = 0; c < k; c++) {
      let v = 0;
      for (let i = 0; i < p; i++) v += components[c * p + i] * centred[i];
      out.data[s * k + c] = v;
    }
  }
  return out;
}

function toImages(coords: Mat, models: ReferenceModels, size: number): GreyImage[] {
  const { mean, components, numComponents: k, numPixels: p } = models.pca;
  return Array.from({ length: coords.rows }, (_, r) => {
    const img = Float64Array.from(mean);
    for (let c = 0; c < k; c++) {
      const v = coords.data[r * k + c];
      for (let i = 0; i < p; i++) img[i] += v * components[c * p + i];
    }
    for (let i = 0; i < p; i++) img[i] = Math.min(1, Math.max(0, img[i])); // a reconstruction is an image in [0, 1]
    return { height: size, width: size, data: img };
  });
}

/**
 * Fits the requested baselines on the training samples and reconstructs `test` ([n, V] z-scores,
 * by default the trial-averaged test set). α is chosen per baseline by leave-one-out error.
 */
export function runBaselines(
  ds: SynthDataset,
  models: ReferenceModels,
  which: BaselineName[],
  opts: { seed?: number; test?: Float32Array; alphas?: number[] } = {},
): BaselineRun[] {
  const V = ds.numVoxels;
  const x = mat(ds.numTrain, V, Float64Array.from(ds.train));
  const target = pcaCoordinates(ds, models);
  const targets = which.map((w) => {
    if (w === 'ridge') return target;
    const perm = permutation(ds.numTrain, opts.seed ?? 0),
      k = target.cols,
      shuffled = mat(target.rows, k);
    for (let s = 0; s < target.rows; s++) shuffled.data.set(target.data.subarray(perm[s] * k, perm[s] * k + k), s * k);
    return shuffled;
  });
  const fits = fitRidgeMulti(x, targets, opts.alphas ?? DEFAULT_ALPHAS);
  const test = opts.test ?? ds.testAvg;
  const xt = mat(test.length / V, V, Float64Array.from(test));
  return fits.map((f, i) => ({
    method: which[i],
    alpha: f.alpha,
    looMse: f.looMse,
    recons: toImages(f.predict(xt), models, ds.imageSize),
  }));
}

/** The trial-averaged test fMRI, one vector per test image (the inputs a decoder is scored on). */
export function testFmri(ds: SynthDataset): Float32Array[] {
  const V = ds.numVoxels;
  return Array.from({ length: ds.numTest }, (_, i) => ds.testAvg.slice(i * V, (i + 1) * V));
}

/**
 * The 1,200 distinct training images (images_32.npz train_images) as grey [0, 1]: the extra candidates of the
 * novelty identification test.
 */
export function trainGallery(ds: SynthDataset): GreyImage[] {
  const p = ds.imageSize * ds.imageSize,
    n = ds.trainImages.length / p;
  return Array.from({ length: n }, (_, i) => ({
    height: ds.imageSize,
    width: ds.imageSize,
    data: Float64Array.from(ds.trainImages.subarray(i * p, (i + 1) * p), (v) => v / 255),
  }));
}

/** Ground-truth test images as grey [0, 1]. */
export function testGroundTruth(ds: SynthDataset): GreyImage[] {
  const p = ds.imageSize * ds.imageSize;
  return Array.from({ length: ds.numTest }, (_, i) => ({
    height: ds.imageSize,
    width: ds.imageSize,
    data: Float64Array.from(ds.testImages.subarray(i * p, (i + 1) * p), (v) => v / 255),
  }));
}

/** A permutation of 0..n−1 with no fixed point (Sattolo's algorithm: one n-cycle), from a seeded LCG. */
export function derangement(n: number, seed: number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  let state = (seed * 2654435761 + 1) >>> 0;
  const next = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * i); // j < i: Sattolo, so every element moves
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}
