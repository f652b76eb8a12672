// DDIM (CompVis `DDIMSampler`, no classifier-free guidance) as an async step iterator.
// Tensor ownership is described in ./sampler.ts.
import type * as tf from '@tensorflow/tfjs-core';
import { SamplerOptionsError, stepCoefficients } from './schedule';
import { callEps, checkAbort, ddimUpdate, Owned, runStart, type Sampler, type SamplerOptions } from './sampler';

export interface DdimOptions extends SamplerOptions {
  /** 0 = deterministic DDIM; 1 ≈ DDPM-like noise. */
  eta?: number;
  /** Unit Gaussian noise for step i (the yielded index; shape of xT), scaled by σ_i; needed when eta > 0. */
  noise?: (i: number) => tf.Tensor4D;
}

/**
 * Yields every step {index, total, t, xt, eps, x0, next} and returns the final latent. With `init`
 * (img2img) only the steps from the start are run, yielded and given noise (python/cad_ref/diffusion.py
 * `ddim_sample(..., x0_init, strength)`).
 */
export async function* ddimSampler(opts: DdimOptions): Sampler {
  const eta = opts.eta ?? 0;
  const c = stepCoefficients(opts.schedule, opts.steps, eta);
  if (eta > 0 && !opts.noise) throw new SamplerOptionsError(`DDIM with eta = ${eta} needs a noise source`);
  const owned = new Owned();
  const { start, x: x1 } = runStart(opts, c.timesteps);
  const total = c.timesteps.length - start;
  let x = x1 === opts.xT ? x1 : owned.take(x1);
  let result: tf.Tensor4D | undefined;
  try {
    for (let k = 0; k < total; k++) {
      const i = start + k; // index into the full coefficient lists
      checkAbort(opts.signal, k, total);
      const t = c.timesteps[i];
      const e = owned.take(await callEps(opts.eps, x, t));
      let noise: tf.Tensor4D | undefined;
      if (c.sigmas[i] !== 0 && opts.noise) {
        noise = owned.take(opts.noise(k));
        if (noise.shape.join() !== x.shape.join()) {
          throw new SamplerOptionsError(`noise for step ${k} has shape [${noise.shape}], the latent [${x.shape}]`);
        }
      }
      const { x0, next } = ddimUpdate(x, e, c, i, noise);
      owned.take(x0);
      owned.take(next);
      if (noise) owned.drop(noise);
      yield { index: k, total, t, xt: x, eps: e, x0, next };
      owned.drop(x0);
      owned.drop(e);
      if (x !== opts.xT) owned.drop(x);
      x = next;
    }
    result = x;
    return x;
  } finally {
    owned.release(result);
  }
}
