// The engine's public contract: what the worker, the CLIs and the UI exchange.
// Arrays that leave the engine are plain typed arrays in PyTorch layout (spec §10), so they cross
// the worker boundary (transferable) and can be written as .npy unchanged.
import type { ModelConfig } from '../model/config';

export type SamplerName = 'plms' | 'ddim';
export type BackendName = 'webgpu' | 'wasm' | 'cpu';

export interface DecodeOptions {
  sampler: SamplerName;
  /** Requested steps S; the authors' uniform discretisation may run more (S=12 → 13). */
  steps: number;
  /** DDIM only (PLMS requires 0). */
  eta: number;
  /** Seeds x_T and DDIM's per-step noise. */
  seed: number;
  /** Samples drawn from the same conditioning. */
  numSamples: number;
  /** Optional x_T, NCHW [numSamples, C, h, w], instead of the seed. */
  noise?: Float32Array;
}

/** One sampler step, as yielded while decoding. Latents NCHW [n, C, h, w]. */
export interface StepEvent {
  /** 0-based step index and the real number of steps. */
  index: number;
  total: number;
  /** Diffusion timestep t of this step (descending). */
  t: number;
  /** Latent input to this step (x_t). */
  xt: Float32Array;
  /** Raw UNet noise prediction ε(x_t, t, c). */
  eps: Float32Array;
  /** Predicted x0 at this step. */
  x0: Float32Array;
  /** Latent after this step (x_{t_prev}). */
  next: Float32Array;
  /** Wall time of this step. */
  ms: number;
}

/** Decoded images, [n, H, W, 3] in [0, 1]. */
export interface ImageBatch {
  n: number;
  height: number;
  width: number;
  data: Float32Array;
}

/** Stage outputs that `decode --dump` writes, for stage-by-stage comparison. */
export interface ConditioningResult {
  /** Preprocessed encoder input [1, V]. */
  fmri: Float32Array;
  /** fMRI encoder output [1, L, D]. */
  encoderOut: Float32Array;
  /** Conditioning c [1, 77, condDim]. */
  cond: Float32Array;
}

export interface ModelCard {
  config: ModelConfig;
  /** Parameters per network and in all. */
  params: Record<string, number>;
  /** Storage precision of the bundle. */
  dtype: 'float32' | 'float16';
  bytes: number;
  sha256?: string;
}
