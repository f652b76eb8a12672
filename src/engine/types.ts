// The engine's public contract: what the worker, the CLIs and the UI exchange.
// Arrays that leave the engine are plain typed arrays in PyTorch layout (spec §10), so they cross
// the worker boundary (transferable) and can be written as .npy unchanged.
import type { ModelConfig } from '../model/config';

export type SamplerName = 'plms' | 'ddim';
/** Where a run starts: seeded noise x_T, or the fMRI-predicted low-level latent noised to the strength's step (img2img). */
export type InitKind = 'noise' | 'lowlevel';
export type BackendName = 'webgpu' | 'wasm' | 'cpu';

export interface DecodeOptions {
  sampler: SamplerName;
  /**
   * Requested steps S, a whole number 1..T: the authors' uniform spacing where valid (it may run more:
   * S = 12 → 13), diffusers' trailing spacing where it would reach t = T (src/diffusion/schedule.ts stepSpacing).
   */
  steps: number;
  /** DDIM noise scale in [0, 1]; 0 with PLMS (rules: src/engine/settings.ts). */
  eta: number;
  /** Seeds x_T and DDIM's per-step noise. */
  seed: number;
  /** Samples drawn from the same conditioning. */
  numSamples: number;
  /** Optional x_T, NCHW [numSamples, C, h, w], instead of the seed (with init 'lowlevel': the noise added to the start latent). */
  noise?: Float32Array;
  /**
   * 'noise' (default): the whole step list from x_T. 'lowlevel': img2img from the model's low-level
   * latent (src/model/lowlevel.ts); needs a model with decoding_studio.lowlevel.* and the VQ encoder.
   */
  init?: InitKind;
  /**
   * img2img strength s ∈ (0, 1] (default 1): with init 'lowlevel' the run starts at the step whose t is
   * nearest to s·T (runTimesteps) from √ᾱ_t·z_lowlevel + √(1−ᾱ_t)·x_T. s < 1 needs init 'lowlevel'.
   */
  strength?: number;
  /**
   * Classifier-free guidance scale g, a finite number ≥ 0 (default 1 = off): ε = ε_u + g·(ε_c − ε_u) from
   * one batched UNet call with the null context decoding_studio.null_context. g = 0 samples unconditionally.
   * g ≠ 1 needs a model that carries the null context.
   */
  guidance?: number;
}

/**
 * The low-level start of a run with init 'lowlevel', yielded once before the first sampler step: the
 * studio shows it as timeline frame 0 (x̂₀ = the low-level latent, x_t = the noised start latent).
 */
export interface InitEvent {
  kind: 'init';
  /** Low-level reconstruction: grey pixels [R*R] in [0, 1], row-major (R = config.vq.resolution). */
  pixels: Float32Array;
  /** The low-level latent z0 repeated for every sample, NCHW [n, C, h, w]: what frame 0 shows as x̂₀. */
  x0: Float32Array;
  /** The first step's input √ᾱ_t·z0 + √(1−ᾱ_t)·x_T, NCHW [n, C, h, w]. */
  xt: Float32Array;
  /** Timestep the run starts at (the first sampler step's t). */
  t: number;
  /** Sampler steps that follow (the real count after the img2img cut). */
  steps: number;
  /** Wall time of the low-level decoder and VQ encoder. */
  ms: number;
}

/** One sampler step, as yielded while decoding. Latents NCHW [n, C, h, w]. */
export interface StepEvent {
  kind: 'step';
  /** 0-based index among the steps run and their number (after the img2img cut; the init frame not counted). */
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

/** What decodeSteps yields: the init frame (init 'lowlevel' only, first), then every sampler step. */
export type DecodeEvent = InitEvent | StepEvent;

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
