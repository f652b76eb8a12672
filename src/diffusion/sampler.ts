// What the PLMS and DDIM step iterators share: their options, the per-step record, the DDIM update
// (CompVis `p_sample_ddim` / `get_x_prev_and_pred_x0`) and tensor bookkeeping.
//
// Tensor ownership:
//  - `xT` and `init.x0` stay the caller's; the sampler never disposes them. The img2img start latent it
//    makes from them is the sampler's (the first step's `xt`).
//  - `eps(x, t)` and `noise(i)` must return NEW tensors; the sampler takes them over and disposes them.
//  - The tensors of a yielded step are the sampler's and stay valid only until the consumer resumes the
//    iterator (next() / return()); clone what must outlive that. A step's `next` is the following
//    step's `xt`.
//  - The returned final latent (the last step's `next`) belongs to the caller.
//  - Stopping early (return(), break out of for-await, an abort or an error) releases everything the
//    sampler holds.
import * as tf from '@tensorflow/tfjs-core';
import { img2imgStartIndex, SamplerOptionsError, type Schedule, type StepCoefficients } from './schedule';

/** The denoiser: ε̂(x_t, t) for latents NCHW [B, C, h, w] at integer timestep t. */
export type EpsFn = (x: tf.Tensor4D, t: number) => tf.Tensor4D | Promise<tf.Tensor4D>;

export interface SamplerOptions {
  schedule: Schedule;
  /** Requested steps S, 1..T; the real count is ddimTimesteps(S).length (uniform spacing: S = 12 → 13). */
  steps: number;
  eps: EpsFn;
  /** Initial noise NCHW [B, C, h, w]; every sample of the batch is denoised independently. */
  xT: tf.Tensor4D;
  /**
   * img2img (diffusers' img2img pipelines, CompVis scripts/img2img.py): start at the step whose t is
   * nearest to strength·T (img2imgStartIndex) from √ᾱ_t·x0 + √(1−ᾱ_t)·xT and run only the remaining
   * steps. `x0` is the init latent, shape of xT. strength ∈ (0, 1]. Without it: the whole run from xT.
   */
  init?: { x0: tf.Tensor4D; strength: number };
  /** Checked before every step; an aborted signal ends the run with an error named 'AbortError'. */
  signal?: AbortSignal;
}

export interface SamplerStep {
  /** 0-based index among the steps run and their number (img2img: only the steps after the start). */
  index: number;
  total: number;
  /** Timestep of this step (descending over the run). */
  t: number;
  /** Latent input of the step. */
  xt: tf.Tensor4D;
  /** Raw ε̂(x_t, t), not the PLMS combination. */
  eps: tf.Tensor4D;
  /** Predicted x0. */
  x0: tf.Tensor4D;
  /** Latent after the step. */
  next: tf.Tensor4D;
}

export type Sampler = AsyncGenerator<SamplerStep, tf.Tensor4D, undefined>;

export function checkAbort(signal: AbortSignal | undefined, index: number, total: number): void {
  if (signal?.aborted) throw new DOMException(`sampling cancelled before step ${index + 1} of ${total}`, 'AbortError');
}

/** Calls the denoiser and checks it kept the latent's shape. */
export async function callEps(eps: EpsFn, x: tf.Tensor4D, t: number): Promise<tf.Tensor4D> {
  const e = await eps(x, t);
  if (e === x) throw new Error('eps function returned its input tensor; it must return a new tensor');
  if (!tf.util.arraysEqual(e.shape, x.shape)) {
    e.dispose();
    throw new Error(`eps function returned shape [${e.shape}] for a latent of shape [${x.shape}]`);
  }
  return e;
}

/**
 * x0 = (x − √(1−ᾱ_t)·ε)/√ᾱ_t; next = √ᾱ_prev·x0 + √(1−ᾱ_prev−σ²)·ε + σ·noise.
 * Scalars are rounded to float32 as PyTorch's float32 buffers are, so CPU results match it bit for bit
 * or nearly.
 */
export function ddimUpdate(
  x: tf.Tensor4D,
  e: tf.Tensor4D,
  c: StepCoefficients,
  i: number,
  noise?: tf.Tensor4D,
): { x0: tf.Tensor4D; next: tf.Tensor4D } {
  const f = Math.fround;
  const sigma = c.sigmas[i];
  const sqrtA = f(Math.sqrt(c.alphas[i]));
  const sqrtAPrev = f(Math.sqrt(c.alphasPrev[i]));
  const dirScale = f(Math.sqrt(f(f(1 - c.alphasPrev[i]) - f(sigma * sigma))));
  return tf.tidy(() => {
    const x0 = tf.div(tf.sub(x, tf.mul(e, c.sqrtOneMinusAlphas[i])), sqrtA) as tf.Tensor4D;
    let next = tf.add(tf.mul(x0, sqrtAPrev), tf.mul(e, dirScale));
    if (noise && sigma !== 0) next = tf.add(next, tf.mul(noise, sigma));
    return { x0, next: next as tf.Tensor4D };
  });
}

/**
 * x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·noise (diffusers `add_noise`), with the two scalars rounded to float32 as
 * PyTorch computes them from the float32 ᾱ buffer. Returns a new tensor; the inputs stay the caller's.
 */
export function noisedInit(x0: tf.Tensor4D, noise: tf.Tensor4D, alphaCumprod: number): tf.Tensor4D {
  const f = Math.fround;
  const a = f(Math.sqrt(alphaCumprod)),
    b = f(Math.sqrt(f(1 - alphaCumprod)));
  return tf.tidy(() => tf.add(tf.mul(x0, a), tf.mul(noise, b)) as tf.Tensor4D);
}

/**
 * Where a run starts: index 0 and xT, or for img2img the start index and the noised init latent (a new
 * tensor the caller of this function owns). `timesteps` is the full list in sampling order.
 */
export function runStart(opts: SamplerOptions, timesteps: readonly number[]): { start: number; x: tf.Tensor4D } {
  if (!opts.init) return { start: 0, x: opts.xT };
  const { x0, strength } = opts.init;
  if (!tf.util.arraysEqual(x0.shape, opts.xT.shape)) {
    throw new SamplerOptionsError(`init latent has shape [${x0.shape}], the noise xT [${opts.xT.shape}]; they must match`);
  }
  const start = img2imgStartIndex(timesteps, strength, opts.schedule.numTimesteps);
  return { start, x: noisedInit(x0, opts.xT, opts.schedule.alphasCumprod[timesteps[start]]) };
}

/** Tensors the sampler owns; whatever is still held when it stops is disposed, except its result. */
export class Owned {
  private live = new Set<tf.Tensor>();

  take<T extends tf.Tensor>(t: T): T {
    this.live.add(t);
    return t;
  }

  drop(t: tf.Tensor): void {
    if (this.live.delete(t)) t.dispose();
  }

  /** Disposes everything except `keep` (the returned latent, now the caller's). */
  release(keep?: tf.Tensor): void {
    for (const t of this.live) if (t !== keep) t.dispose();
    this.live.clear();
  }
}
