// Low-level decoder (issue 16): preprocessed fMRI → grey image (ridge to image-PCA coefficients) → the
// first-stage latent that starts the sampler (img2img), as MindEye2 / Brain-Diffuser encode their blurry
// reconstruction. Reference: python/cad_ref/lowlevel.py (`lowlevel_latent`):
//   p = x·W + b;  [p = p·norm / max(|p|, 1e-8) when the bundle has coef_norm];  pix = clamp(p·C + mean, 0, 1);  img = pix → [n, 3, R, R] grey, ·2 − 1;  z0 = quant_conv(encoder(img)).
// The tensors are this project's own (`decoding_studio.lowlevel.*`), trained by `npm run train`; the
// authors' checkpoints have none, so every entry point here says so instead of failing later.
import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from './config';
import type { WeightMap } from './weights';
import { checkWeights, LOWLEVEL_COEF_NORM, LOWLEVEL_NAMES, LOWLEVEL_PREFIX, lowLevelShapes } from './layout';
import { vqEncode, type VQParams } from './vq';
import type { EngineModel } from '../engine/pipeline';
import { errorClass } from '../errors';

export { LOWLEVEL_COEF_NORM, LOWLEVEL_NAMES, LOWLEVEL_PREFIX, lowLevelShapes };

/** Prepared low-level decoder: the bundle tensors themselves (already in the [in, out] layout matMul takes). */
export interface LowLevelParams {
  /** Ridge weight [numVoxels, K], from the preprocessed encoder input to K image-PCA coefficients. */
  ridgeWeight: tf.Tensor2D;
  /** Ridge intercept [K]. */
  ridgeBias: tf.Tensor1D;
  /** PCA components [K, R·R], rows over grey pixels in row-major order (R = config.vq.resolution). */
  components: tf.Tensor2D;
  /** PCA mean image [R·R], grey in [0, 1]. */
  mean: tf.Tensor1D;
  /**
   * Optional [1]: the Euclidean norm every predicted coefficient row is rescaled to (ridge shrinks towards the
   * mean image; the training command sets it to a validation-chosen multiple of the training images' median norm).
   */
  coefNorm?: tf.Tensor1D;
}

/** A zero prediction stays zero (the mean image) instead of dividing by zero; python/cad_ref/lowlevel.py NORM_EPS. */
const NORM_EPS = 1e-8;

/** The model has no low-level decoder (or no VQ encoder to go with it): img2img from fMRI is unavailable. */
export class NoLowLevelError extends errorClass('NoLowLevelError') {}

/** Input to the low-level decoder of the wrong shape or length. */
export class LowLevelInputError extends errorClass('LowLevelInputError', 'low-level decoder: ') {}

/**
 * The low-level decoder's tensors from `w`, checked against the config; undefined when the weights have
 * none of them (the authors' checkpoints). K is read from the ridge bias. Throws WeightMismatchError
 * naming every missing / mis-shaped tensor when only some are present or their shapes disagree.
 * No copies are made: the returned tensors are the weight map's own.
 */
export function prepareLowLevel(cfg: ModelConfig, w: WeightMap): LowLevelParams | undefined {
  const names = Object.values(LOWLEVEL_NAMES);
  if (!names.some((n) => w[n])) return undefined;
  const bias = w[LOWLEVEL_NAMES.ridgeBias];
  const k =
    bias && bias.rank === 1 ? bias.shape[0] : (w[LOWLEVEL_NAMES.ridgeWeight]?.shape[1] ?? w[LOWLEVEL_NAMES.components]?.shape[0] ?? 0);
  const shapes = lowLevelShapes(cfg, k);
  if (w[LOWLEVEL_COEF_NORM]) shapes[LOWLEVEL_COEF_NORM] = [1];
  checkWeights(w, shapes, `low-level decoder weights under ${LOWLEVEL_PREFIX}`);
  return {
    ridgeWeight: w[LOWLEVEL_NAMES.ridgeWeight] as tf.Tensor2D,
    ridgeBias: w[LOWLEVEL_NAMES.ridgeBias] as tf.Tensor1D,
    components: w[LOWLEVEL_NAMES.components] as tf.Tensor2D,
    mean: w[LOWLEVEL_NAMES.mean] as tf.Tensor1D,
    coefNorm: w[LOWLEVEL_COEF_NORM] as tf.Tensor1D | undefined,
  };
}

/**
 * Preprocessed fMRI [n, numVoxels] → grey pixels [n, R·R] in [0, 1]: clamp(p·C + mean, 0, 1) with p = x·W + b,
 * each row of p first rescaled to norm coefNorm when the model has one.
 */
export function lowLevelPixels(p: LowLevelParams, x: tf.Tensor2D): tf.Tensor2D {
  const v = p.ridgeWeight.shape[0];
  if (x.rank !== 2 || x.shape[1] !== v) {
    throw new LowLevelInputError(`input must be preprocessed fMRI [n, ${v}], found [${x.shape}]`);
  }
  return tf.tidy(() => {
    let coef = tf.add(tf.matMul(x, p.ridgeWeight), p.ridgeBias) as tf.Tensor2D;
    if (p.coefNorm) coef = tf.mul(coef, tf.div(p.coefNorm, tf.maximum(tf.norm(coef, 'euclidean', 1, true), NORM_EPS)));
    return tf.clipByValue(tf.add(tf.matMul(coef, p.components), p.mean), 0, 1) as tf.Tensor2D;
  });
}

/** Grey pixels [n, R·R] in [0, 1] → the VQ encoder's input NCHW [n, 3, R, R] in [-1, 1] (grey in every channel). */
export function pixelsToImage(cfg: ModelConfig, pix: tf.Tensor2D): tf.Tensor4D {
  const r = cfg.vq.resolution;
  return tf.tidy(() => {
    const grey = tf.reshape(pix, [pix.shape[0], 1, r, r]);
    return tf.sub(tf.mul(tf.tile(grey, [1, cfg.vq.inChannels, 1, 1]), 2), 1) as tf.Tensor4D;
  });
}

/**
 * The tensor form of lowLevelLatent: pixels [n, R·R] and z0 = vqEncode(image) [n, embedDim, h, w] (not
 * quantised, as CompVis VQModelInterface.encode). The caller disposes both.
 */
export function lowLevelLatentTensors(
  cfg: ModelConfig,
  p: LowLevelParams,
  vq: VQParams,
  x: tf.Tensor2D,
): { pixels: tf.Tensor2D; latent: tf.Tensor4D } {
  if (!vq.encoder)
    throw new NoLowLevelError(
      'this model has a low-level decoder but no VQ encoder (first_stage_model.encoder.*, quant_conv) to turn its image into a latent; npm run convert keeps them whenever the low-level tensors are given',
    );
  const pixels = lowLevelPixels(p, x);
  const latent = tf.tidy(() => vqEncode(cfg, vq, pixelsToImage(cfg, pixels)));
  return { pixels, latent };
}

/** Whether the model can start the sampler from fMRI: it carries the low-level tensors and the VQ encoder. */
export function hasLowLevel(model: EngineModel): boolean {
  return !!model.lowlevel && !!model.vq.encoder;
}

/**
 * Low-level reconstruction and latent for preprocessed fMRI (the encoder's input: wrap-padded and
 * z-scored, `preprocessFmri`), one vector of numVoxels values or n of them back to back.
 * Returns pixels [n, R·R] grey in [0, 1] (row-major) and latent NCHW [n, embedDim, h, w] (h = R / 2^(levels−1)).
 * Throws NoLowLevelError when the model has no low-level decoder or no VQ encoder, LowLevelInputError
 * when the input length is not a positive multiple of numVoxels.
 */
export async function lowLevelLatent(
  model: EngineModel,
  fmriPreprocessed: Float32Array,
): Promise<{ pixels: Float32Array; latent: Float32Array }> {
  const p = model.lowlevel;
  if (!p) {
    throw new NoLowLevelError(
      `model ${model.config.name} has no low-level decoder (${LOWLEVEL_PREFIX}* tensors): ` +
        'it cannot start from an fMRI-predicted latent; use init "noise" or a model trained by npm run train',
    );
  }
  const v = model.config.encoder.numVoxels;
  if (fmriPreprocessed.length === 0 || fmriPreprocessed.length % v !== 0) {
    throw new LowLevelInputError(
      `preprocessed fMRI must hold n × ${v} values (the padded encoder input), found ${fmriPreprocessed.length}`,
    );
  }
  const x = tf.tensor2d(fmriPreprocessed, [fmriPreprocessed.length / v, v]);
  try {
    const { pixels, latent } = lowLevelLatentTensors(model.config, p, model.vq, x);
    try {
      const [pix, z] = (await Promise.all([pixels.data(), latent.data()])) as Float32Array[];
      return { pixels: pix, latent: z };
    } finally {
      tf.dispose([pixels, latent]);
    }
  } finally {
    x.dispose();
  }
}
