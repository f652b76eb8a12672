// Classifier-free guidance as a denoiser: CompVis `PLMSSampler.p_sample_plms` / `DDIMSampler.p_sample_ddim`
// with `unconditional_guidance_scale` (reference: python/cad_ref/diffusion.py `guided_eps`):
//   x_in = cat([x, x]); c_in = cat([c_uncond, c]); ε_u, ε_c = apply(x_in, t, c_in).chunk(2)
//   ε = ε_u + g·(ε_c − ε_u)
import * as tf from '@tensorflow/tfjs-core';
import { SamplerOptionsError } from './schedule';
import type { EpsFn } from './sampler';

/** One UNet call: latents NCHW [N, C, h, w], timestep t, context [N, 77, D] → ε [N, C, h, w] (a new tensor). */
export type ApplyModel = (x: tf.Tensor4D, t: number, context: tf.Tensor3D) => tf.Tensor4D;

/**
 * The guided denoiser for conditioning `c` [B, 77, D] and the null context `cNull` [77, D] or [1, 77, D]
 * (repeated over the batch): ONE batched call on [x, x] with context [c_null, c] (unconditional first, as
 * CompVis), then ε_u + scale·(ε_c − ε_u). scale = 1 is a plain conditional call (no null context needed).
 * `c` and `cNull` stay the caller's and must outlive the returned function's use; the context batch it
 * builds is kept until `dispose()` is called. Throws SamplerOptionsError for a non-finite or negative
 * scale, or a null context whose shape does not match c's tokens.
 */
export function guidedEps(apply: ApplyModel, c: tf.Tensor3D, cNull: tf.Tensor | undefined, scale: number): EpsFn & { dispose(): void } {
  if (!(Number.isFinite(scale) && scale >= 0)) throw new SamplerOptionsError(`guidance scale must be a finite number ≥ 0 (got ${scale})`);
  if (scale === 1)
    return Object.assign((x: tf.Tensor4D, t: number) => apply(x, t, c), {
      dispose() {
        /* nothing held */
      },
    });
  if (!cNull) throw new SamplerOptionsError(`guidance ${scale} ≠ 1 needs a null context`);
  const [b, L, D] = c.shape;
  const tokens = cNull.shape.slice(-2);
  if (!(cNull.size === L * D && tokens[0] === L && tokens[1] === D)) {
    throw new SamplerOptionsError(`null context has shape [${cNull.shape}]; the conditioning's tokens are [${L}, ${D}]`);
  }
  const cIn = tf.tidy(() => tf.concat([tf.tile(tf.reshape(cNull, [1, L, D]), [b, 1, 1]), c], 0) as tf.Tensor3D);
  const eps = (x: tf.Tensor4D, t: number): tf.Tensor4D =>
    tf.tidy(() => {
      const out = apply(tf.concat([x, x], 0) as tf.Tensor4D, t, cIn);
      const [eU, eC] = tf.split(out, 2, 0) as [tf.Tensor4D, tf.Tensor4D];
      return tf.add(eU, tf.mul(tf.sub(eC, eU), scale)) as tf.Tensor4D;
    });
  return Object.assign(eps, {
    dispose() {
      cIn.dispose();
    },
  });
}
