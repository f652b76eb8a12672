// PLMS (CompVis `PLMSSampler`, eta 0, no classifier-free guidance) as an async step iterator.
// Tensor ownership is described in ./sampler.ts.
import * as tf from '@tensorflow/tfjs-core';
import { stepCoefficients } from './schedule';
import { callEps, checkAbort, ddimUpdate, Owned, runStart, type Sampler, type SamplerOptions } from './sampler';

/** CompVis' PLMS is deterministic: it has no eta (the run settings refuse eta ≠ 0 with it, src/engine/settings.ts). */
export type PlmsOptions = SamplerOptions;

/** Adams–Bashforth combination of the current raw ε with the previous ones (newest last). */
function multistep(e: tf.Tensor4D, old: tf.Tensor4D[]): tf.Tensor4D {
  return tf.tidy(() => {
    const n = old.length;
    if (n === 1) return tf.div(tf.sub(tf.mul(e, 3), old[0]), 2);
    if (n === 2) return tf.div(tf.add(tf.sub(tf.mul(e, 23), tf.mul(old[1], 16)), tf.mul(old[0], 5)), 12);
    return tf.div(tf.sub(tf.add(tf.sub(tf.mul(e, 55), tf.mul(old[2], 59)), tf.mul(old[1], 37)), tf.mul(old[0], 9)), 24);
  }) as tf.Tensor4D;
}

/**
 * Yields every step {index, total, t, xt, eps, x0, next} and returns the final latent.
 * The first step uses the pseudo improved Euler correction: one extra ε call at the next timestep
 * on the plain DDIM guess, averaged with the first ε. The last step goes to ᾱ[0].
 * With `init` (img2img) the run starts part-way with an empty history, so its first step is the
 * improved-Euler one (python/cad_ref/diffusion.py `plms_sample(..., x0_init, strength)`).
 */
export async function* plmsSampler(opts: PlmsOptions): Sampler {
  const c = stepCoefficients(opts.schedule, opts.steps, 0);
  const owned = new Owned();
  const all = c.timesteps.length;
  const { start, x: x1 } = runStart(opts, c.timesteps);
  const total = all - start;
  const history: tf.Tensor4D[] = []; // raw ε of up to 3 previous steps, oldest first
  let x = x1 === opts.xT ? x1 : owned.take(x1);
  let result: tf.Tensor4D | undefined;
  try {
    for (let k = 0; k < total; k++) {
      const i = start + k; // index into the full coefficient lists
      checkAbort(opts.signal, k, total);
      const t = c.timesteps[i];
      const e = owned.take(await callEps(opts.eps, x, t));
      let combined: tf.Tensor4D;
      if (history.length === 0) {
        const guess = ddimUpdate(x, e, c, i);
        guess.x0.dispose();
        owned.take(guess.next);
        const tNext = c.timesteps[Math.min(i + 1, all - 1)];
        const e2 = owned.take(await callEps(opts.eps, guess.next, tNext));
        owned.drop(guess.next);
        combined = owned.take(tf.tidy(() => tf.div(tf.add(e, e2), 2) as tf.Tensor4D));
        owned.drop(e2);
      } else {
        combined = owned.take(multistep(e, history));
      }
      const { x0, next } = ddimUpdate(x, combined, c, i);
      owned.take(x0);
      owned.take(next);
      owned.drop(combined);
      yield { index: k, total, t, xt: x, eps: e, x0, next };
      owned.drop(x0);
      if (x !== opts.xT) owned.drop(x);
      x = next;
      history.push(e);
      if (history.length > 3) owned.drop(history.shift() as tf.Tensor4D);
    }
    result = x;
    return x;
  } finally {
    owned.release(result);
  }
}
