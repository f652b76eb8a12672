// The decode pipeline: validated fMRI vector → encoder → conditioning → sampler steps → latents → images.
// Every stage is a function of the loaded model and its input; the worker, the CLIs and the tests all
// go through here, so what the studio shows is what `npm run decode --dump` writes.
import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from '../model/config';
import { latentShape } from '../model/config';
import type { WeightMap } from '../model/weights';
import { VOXEL_XYZ_MM } from '../model/layout';
import { preprocessFmri } from '../model/preprocess';
import { prepareFmriEncoder, fmriEncoder, type FmriEncoderParams } from '../model/fmriEncoder';
import { condStage, prepareCondStage, type CondStageParams } from '../model/condStage';
import { prepareUNet, unet, unetWithContextCache, type UNetParams } from '../model/unet';
import { prepareVQ, vqDecode, toImage, type VQParams } from '../model/vq';
import { lowLevelLatentTensors, prepareLowLevel, type LowLevelParams } from '../model/lowlevel';
import { makeSchedule, runTimesteps, type Schedule } from '../diffusion/schedule';
import { guidedEps } from '../diffusion/guidance';
import { noisedInit } from '../diffusion/sampler';
import { hasLowLevel, lowLevelLatent, NoLowLevelError } from '../model/lowlevel';
import { plmsSampler } from '../diffusion/plms';
import { ddimSampler } from '../diffusion/ddim';
import { gaussian } from '../diffusion/rng';
import { loadBundle, sha256Hex, type BundleSource, type LoadOptions } from '../io/bundle';
import type { ConditioningResult, DecodeEvent, DecodeOptions, ImageBatch, InitKind, ModelCard } from './types';
import { modeProblems, problemMessage, settingsProblems } from './settings';
import { errorClass } from '../errors';
import { packF16, type KeepKernel, type Weight } from '../kernels/packedWeights';

/** Bundle name of the classifier-free guidance null context [77, condDim] (issue 16; not an authors' key). */
export const NULL_CONTEXT = 'decoding_studio.null_context';

export interface EngineModel {
  config: ModelConfig;
  card: ModelCard;
  weights: WeightMap;
  encoder: FmriEncoderParams;
  /** The conditioning mappers (cond_stage_model.channel_mapper / dim_mapper), prepared once. */
  cond: CondStageParams;
  unet: UNetParams;
  vq: VQParams;
  /** Low-level decoder (fMRI → img2img start), when the bundle carries decoding_studio.lowlevel.* (src/model/lowlevel.ts). */
  lowlevel?: LowLevelParams;
  /**
   * The input voxels' positions, [rawVoxels × 3] mm in input order (the bundle's VOXEL_XYZ_MM, kept on the CPU: it
   * is not a weight); undefined when the bundle does not record them. src/io/voxelOrder.ts puts a file into this order.
   */
  voxelXyzMm?: Float32Array;
  schedule: Schedule;
  /** Bytes the weights take on the device: 4 per parameter, 2 for those kept as packed f16. */
  deviceWeightBytes: number;
  /** Matrices kept as packed f16 on the GPU (see PackWeightsOptions): how many, the bytes that saves, and their weights' names; absent when none are. */
  packedF16?: { tensors: number; bytesSaved: number; names: string[] };
  dispose(): void;
}

/**
 * Packed-f16 weights (issue 15): on WebGPU, the UNet's and the fMRI encoder's re-laid-out linear and conv kernels of at
 * least `minElements` values are kept as f16 pairs (src/kernels/packedWeights.ts) and widened per op.
 */
export interface PackWeightsOptions {
  minElements: number;
}

/** Weights on the device above this (float32) are packed by loadModel on WebGPU. */
export const PACK_ABOVE_BYTES = 2 * 2 ** 30;
/** Smallest matrix packed: 64 Ki values (256 KiB in float32); the published UNet's and encoder's matrices are larger. */
export const PACK_MIN_ELEMENTS = 2 ** 16;

/** Parameters per network, counted from the weight names. */
export function countParams(weights: WeightMap): Record<string, number> {
  const groups: Record<string, number> = { fmriEncoder: 0, condMappers: 0, unet: 0, vqDecoder: 0, vqEncoder: 0, lowLevel: 0, other: 0 };
  for (const [name, t] of Object.entries(weights)) {
    const key = name.startsWith('cond_stage_model.mae.')
      ? 'fmriEncoder'
      : name.startsWith('cond_stage_model.')
        ? 'condMappers'
        : name.startsWith('model.diffusion_model.')
          ? 'unet'
          : /^first_stage_model\.(encoder|quant_conv)\./.test(name)
            ? 'vqEncoder'
            : name.startsWith('first_stage_model.')
              ? 'vqDecoder'
              : name.startsWith('decoding_studio.lowlevel.')
                ? 'lowLevel'
                : 'other';
    groups[key] += t.size;
  }
  groups.total = Object.values(groups).reduce((a, b) => a + b, 0);
  return groups;
}

/** Every tensor reachable from a prepared parameter struct. */
function tensorsIn(params: unknown, out = new Set<tf.Tensor>(), seen = new Set<unknown>()): Set<tf.Tensor> {
  if (params === null || typeof params !== 'object' || seen.has(params)) return out;
  seen.add(params);
  if (params instanceof tf.Tensor) out.add(params);
  else for (const v of Object.values(params as Record<string, unknown>)) tensorsIn(v, out, seen);
  return out;
}

/**
 * Frees the weight matrices and conv kernels (rank ≥ 2) that the prepare steps copied into another
 * layout and that nothing references any more, and drops them from `weights`. Reshaped views share
 * their data, so freeing the original keeps it alive. Every network is prepared (prepare…()), so only the
 * guidance null context is read by name at run time (nullContext below) and kept.
 */
export function releaseRelaidWeights(weights: Record<string, tf.Tensor>, params: unknown): void {
  const used = tensorsIn(params);
  for (const [name, t] of Object.entries(weights)) {
    if (t.rank >= 2 && !used.has(t) && name !== NULL_CONTEXT) {
      t.dispose();
      delete weights[name];
    }
  }
}

/**
 * Builds the runnable model from a config and its weights (tensors stay owned by the model).
 * With `releaseRelaid`, weights that the prepare steps copied into another layout (HWIO conv kernels,
 * [in, out] linear kernels) are freed: one copy stays resident, which at the published size is over
 * two gigabytes saved. Only for callers that hand over their weights for good.
 */
export function modelFromWeights(
  config: ModelConfig,
  weights: WeightMap,
  card?: Partial<ModelCard>,
  opts: { releaseRelaid?: boolean; packF16?: PackWeightsOptions } = {},
): EngineModel {
  const own: Record<string, tf.Tensor> = { ...weights };
  const params = countParams(own);
  const packedNames: string[] = [];
  let bytesSaved = 0;
  // With releaseRelaid, a weight is freed as soon as its re-laid-out copy exists (not after every network is
  // prepared), so the device never holds both layouts of every weight at once; with packF16, large copies are packed.
  function packing<T extends tf.Tensor>(kernel: T, source: string): Weight<T> {
    let out: Weight<T> = kernel;
    if (opts.packF16 && kernel.size >= opts.packF16.minElements) {
      const p = packF16(kernel);
      kernel.dispose();
      packedNames.push(source);
      bytesSaved += kernel.size * 4 - p.bytes;
      out = p;
    }
    const src = own[source];
    if (src && src !== kernel && source !== NULL_CONTEXT) {
      src.dispose();
      delete own[source];
    }
    return out;
  }
  if (opts.packF16 && !opts.releaseRelaid) throw new Error('packF16 needs releaseRelaid (the weights are handed over)');
  const keep: KeepKernel | undefined = opts.releaseRelaid ? packing : undefined;
  const encoder = prepareFmriEncoder(config, own, undefined, keep);
  const cond = prepareCondStage(config, own);
  const unetParams = prepareUNet(config, own, undefined, keep);
  const vq = prepareVQ(config, own);
  const lowlevel = prepareLowLevel(config, own);
  const schedule = makeSchedule(config.schedule);
  if (opts.releaseRelaid) releaseRelaidWeights(own, [encoder, cond, unetParams, vq, lowlevel]);
  return {
    config,
    card: { config, params, dtype: card?.dtype ?? 'float32', bytes: card?.bytes ?? params.total * 4, sha256: card?.sha256 },
    weights: own,
    encoder,
    cond,
    unet: unetParams,
    vq,
    lowlevel,
    schedule,
    deviceWeightBytes: params.total * 4 - bytesSaved,
    ...(packedNames.length ? { packedF16: { tensors: packedNames.length, bytesSaved, names: packedNames } } : {}),
    dispose() {
      disposeDerived([encoder, cond, unetParams, vq, lowlevel], own);
      for (const t of Object.values(own)) t.dispose();
    },
  };
}

/** Disposes tensors that a prepare step created (re-laid-out copies), not the shared weights. */
export function disposeDerived(params: unknown, weights: WeightMap): void {
  const owned = new Set(Object.values(weights));
  for (const t of tensorsIn(params)) if (!owned.has(t) && !t.isDisposed) t.dispose();
}

/**
 * How the weights are kept on a WebGPU device: 'auto' packs the large matrices as f16 when the float32 weights would
 * exceed PACK_ABOVE_BYTES, 'f16' always, 'f32' never. Other backends keep float32.
 */
export type WeightStorage = 'auto' | 'f32' | 'f16';

/** Whether loadModel packs (see WeightStorage), for a model of `params` parameters on the active backend. */
export function packsWeights(storage: WeightStorage, params: number): boolean {
  if (tf.getBackend() !== 'webgpu') return false;
  return storage === 'f16' || (storage === 'auto' && params * 4 > PACK_ABOVE_BYTES);
}

/** Loads a weight bundle (byte progress, cancellable) and prepares every network. */
export async function loadModel(source: BundleSource, opts: LoadOptions & { weights?: WeightStorage } = {}): Promise<EngineModel> {
  const { manifest, manifestBytes, tensors } = await loadBundle(source, opts);
  // A copy: the loaded array may be a view on the whole shard.
  const voxelXyzMm = tensors[VOXEL_XYZ_MM]?.data.slice();
  delete tensors[VOXEL_XYZ_MM];
  const weights: Record<string, tf.Tensor> = {};
  try {
    let params = 0;
    for (const [name, t] of Object.entries(tensors)) {
      weights[name] = tf.tensor(t.data, t.shape, 'float32');
      params += t.data.length;
      // tfjs holds the values until the tensor's first upload; this copy must not outlive it.
      delete tensors[name];
    }
    const bytes = manifest.shards.reduce((a, s) => a + s.nbytes, 0);
    const pack = packsWeights(opts.weights ?? 'auto', params);
    const model = modelFromWeights(
      manifest.config,
      weights,
      { dtype: manifest.dtype, bytes, sha256: await sha256Hex(manifestBytes) },
      { releaseRelaid: true, ...(pack ? { packF16: { minElements: PACK_MIN_ELEMENTS } } : {}) },
    );
    if (voxelXyzMm) model.voxelXyzMm = voxelXyzMm;
    await compileShaders(model);
    return model;
  } catch (e) {
    for (const t of Object.values(weights)) t.dispose();
    throw e;
  }
}

/**
 * On WebGPU, compiles every shader pipeline of one decode step (encoder, mappers, UNet, VQ decoder, and the
 * low-level start when the model has one) in tfjs's compile-only mode while the model loads, so the first
 * step does not stall on compilation.
 * Elsewhere it does nothing.
 */
export async function compileShaders(model: EngineModel): Promise<void> {
  if (tf.getBackend() !== 'webgpu') return;
  const backend = tf.backend() as tf.KernelBackend & { checkCompileCompletionAsync(): Promise<void> };
  const [ch, h, w] = latentShape(model.config);
  const before = tf.env().getBool('WEBGPU_ENGINE_COMPILE_ONLY');
  tf.env().set('WEBGPU_ENGINE_COMPILE_ONLY', true);
  try {
    tf.tidy(() => {
      const x = tf.zeros([1, model.config.encoder.numVoxels]) as tf.Tensor2D;
      const c = condStage(model.config, model.cond, fmriEncoder(model.config, model.encoder, x));
      const z = tf.zeros([1, ch, h, w]) as tf.Tensor4D;
      toImage(vqDecode(model.config, model.vq, unet(model.config, model.unet, z, 500, c)));
      // The low-level start (ridge → VQ encoder) runs once per img2img decode, before the first step.
      if (model.lowlevel && model.vq.encoder) lowLevelLatentTensors(model.config, model.lowlevel, model.vq, x);
    });
  } finally {
    tf.env().set('WEBGPU_ENGINE_COMPILE_ONLY', before);
  }
  await backend.checkCompileCompletionAsync();
}

/**
 * Stage 1–2: preprocessing, the fMRI encoder and the mappers, for one or more fMRI vectors.
 * Returns tensors (the caller disposes them): encoder output [B, L, D] and conditioning c [B, 77, condDim].
 */
export function conditioning(
  model: EngineModel,
  fmriRaw: Float32Array | Float32Array[],
): { fmri: Float32Array; encoderOut: tf.Tensor3D; c: tf.Tensor3D } {
  const rows = Array.isArray(fmriRaw) ? fmriRaw : [fmriRaw];
  const fmri = preprocessFmri(model.config, rows);
  const [encoderOut, c] = tf.tidy(() => {
    const e = fmriEncoder(model.config, model.encoder, tf.tensor2d(fmri, [rows.length, model.config.encoder.numVoxels]));
    return [e, condStage(model.config, model.cond, e)];
  });
  return { fmri, encoderOut, c };
}

/** The conditioning stages read back to the CPU (for `decode --dump` and inspection). */
export async function conditioningResult(model: EngineModel, fmriRaw: Float32Array): Promise<ConditioningResult> {
  const { fmri, encoderOut, c } = conditioning(model, fmriRaw);
  const [e, cc] = (await Promise.all([encoderOut.data(), c.data()])) as Float32Array[];
  tf.dispose([encoderOut, c]);
  return { fmri, encoderOut: e, cond: cc };
}

/**
 * What preprocessing does to this vector (throws FmriShapeError / FmriValueError as decoding would): the
 * voxel counts, the wrap padding, and the z-score statistics the model's bundle holds (config.preprocess
 * mean / std, absent when the model takes its input as is: no identity 0 / 1 is invented).
 */
export function preprocessSummary(
  model: Pick<EngineModel, 'config'>,
  fmriRaw: Float32Array,
): { rawVoxels: number; paddedVoxels: number; pad: number; mean?: number; std?: number; roi?: string } {
  preprocessFmri(model.config, fmriRaw);
  const { mean, std, roi } = model.config.preprocess;
  const paddedVoxels = model.config.encoder.numVoxels;
  return {
    rawVoxels: fmriRaw.length,
    paddedVoxels,
    pad: paddedVoxels - fmriRaw.length,
    ...(mean !== undefined && std !== undefined ? { mean, std } : {}),
    ...(roi !== undefined ? { roi } : {}),
  };
}

/** A decode option the model cannot honour (guidance without a null context, a bad init / strength / guidance). */
export class DecodeOptionsError extends errorClass('DecodeOptionsError') {}

/** The model's guidance null context [outTokens, condDim], or undefined when it has none (the authors' checkpoints). */
export function nullContext(model: EngineModel): tf.Tensor | undefined {
  return model.weights[NULL_CONTEXT];
}

/** Whether the model can sample with guidance ≠ 1: it carries a null context of the conditioning's shape. */
export function hasNullContext(model: EngineModel): boolean {
  const t = nullContext(model);
  const { outTokens, condDim } = model.config.cond;
  return !!t && t.size === outTokens * condDim && t.shape.at(-1) === condDim;
}

/**
 * init / strength / guidance with their defaults ('noise', 1, 1), validated by the run-settings rules
 * (src/engine/settings.ts) and against the model (null context, low-level decoder).
 */
export function runMode(
  model: EngineModel,
  opts: Pick<DecodeOptions, 'init' | 'strength' | 'guidance'>,
): { init: InitKind; strength: number; guidance: number } {
  const init = opts.init ?? 'noise',
    strength = opts.strength ?? 1,
    guidance = opts.guidance ?? 1;
  const [bad] = modeProblems({ init, strength, guidance });
  if (bad) throw new DecodeOptionsError(problemMessage(bad));
  const name = model.config.name;
  if (guidance !== 1 && !hasNullContext(model)) {
    const { outTokens, condDim } = model.config.cond;
    throw new DecodeOptionsError(
      `model ${name} has no classifier-free guidance null context (${NULL_CONTEXT} [${outTokens}, ${condDim}]` +
        `${nullContext(model) ? `; found [${nullContext(model)!.shape}]` : ''}): it was not trained with conditioning dropout, so guidance ${guidance} ` +
        'cannot be applied. Use guidance 1, or a model trained by npm run train (its bundle carries the null context).',
    );
  }
  if (init === 'lowlevel' && !hasLowLevel(model)) {
    throw new NoLowLevelError(
      `model ${name} cannot start from the fMRI-predicted latent (init 'lowlevel'): it has ` +
        `${model.lowlevel ? 'a low-level decoder but no VQ encoder (first_stage_model.encoder.*, quant_conv.*)' : 'no low-level decoder (decoding_studio.lowlevel.* tensors)'}` +
        '. Use init noise, or a model trained by npm run train.',
    );
  }
  return { init, strength, guidance };
}

/** The timesteps a decode with these options visits, in sampling order (what the receipt and the timeline list). */
export function decodeTimesteps(config: ModelConfig, opts: Pick<DecodeOptions, 'steps' | 'init' | 'strength'>): number[] {
  return runTimesteps(opts.steps, config.schedule.numTimesteps, opts.init === 'lowlevel' ? (opts.strength ?? 1) : 1);
}

/** x_T for `n` samples: the given noise, or seeded unit Gaussians. */
export function initialNoise(config: ModelConfig, opts: Pick<DecodeOptions, 'numSamples' | 'seed' | 'noise'>): Float32Array {
  const [ch, h, w] = latentShape(config);
  const size = opts.numSamples * ch * h * w;
  if (opts.noise) {
    if (opts.noise.length !== size) {
      throw new Error(`noise has ${opts.noise.length} values; ${opts.numSamples} sample(s) of [${ch},${h},${w}] need ${size}`);
    }
    return opts.noise;
  }
  return gaussian(opts.seed, size);
}

/** A sampler step produced NaN or ±Inf (broken weights, an overflowing kernel): nothing after it is an image. */
export class NonFiniteError extends errorClass('NonFiniteError') {}

function allFinite(a: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

/**
 * Runs the sampler for one fMRI vector, yielding every step with its latents read back to the CPU. Each step's
 * tensors are released before the next is computed, so memory stays flat over 250 steps; stopping the generator
 * (`return()`, or `signal` aborting) releases everything it holds.
 *
 * @param fmriRaw one sample's voxels as read from the file ([rawVoxels] or already wrap-padded to [numVoxels];
 *   the model's preprocessing pads and z-scores it), float32, any units the model was trained on
 * @param opts sampler settings (src/engine/settings.ts rules), `numSamples` n samples drawn in one batch
 * @yields with init 'lowlevel' first an InitEvent (timeline frame 0: the low-level pixels [R·R] in [0, 1], its
 *   latent and the noised start latent, NCHW [n, C, h, w]), then one StepEvent per sampler step in descending
 *   t (x_t, ε, x̂₀ and the next latent, each NCHW [n, C, h, w], float32). With guidance g ≠ 1 every ε is
 *   ε_u + g·(ε_c − ε_u) from one UNet call on the doubled batch (uncond first).
 * @returns the final latent x_0, NCHW [n, C, h, w] (decode it with decodeLatents)
 * @throws DecodeOptionsError a setting breaks the run-settings rules for this model's schedule, or guidance ≠ 1
 *   without the bundle's null context; NoLowLevelError init 'lowlevel' without a low-level decoder; Error a
 *   given `noise` of the wrong size (all four before any tensor exists); FmriShapeError / FmriValueError the
 *   vector's length is not the model's (raw or padded) or it holds NaN/Inf (model/preprocess.ts);
 *   NonFiniteError a step produced NaN or ±Inf (nothing after it is an image); DOMException 'AbortError' when
 *   `signal` aborts between steps.
 * Source: CompVis ldm's PLMSSampler / DDIMSampler `sample` loops, with img2img as diffusers'
 * StableDiffusionImg2ImgPipeline (spec §4.5, §4.7).
 */
export async function* decodeSteps(
  model: EngineModel,
  fmriRaw: Float32Array,
  opts: DecodeOptions,
  signal?: AbortSignal,
): AsyncGenerator<DecodeEvent, Float32Array> {
  const cfg = model.config;
  const n = opts.numSamples;
  const mode = runMode(model, opts);
  // Every sampler setting by the run-settings rules, the step bound from this model's schedule.
  const [bad] = settingsProblems({ ...opts, ...mode }, cfg.schedule.numTimesteps);
  if (bad) throw new DecodeOptionsError(problemMessage(bad));
  const [ch, h, w] = latentShape(cfg);
  const noise = initialNoise(cfg, opts); // validated before any tensor exists
  const timesteps = decodeTimesteps(cfg, { steps: opts.steps, ...mode }); // refuses impossible step counts now
  const initStarted = performance.now();
  const { fmri, encoderOut, c } = conditioning(model, fmriRaw);
  const cRep = tf.tidy(() => tf.tile(c, [n, 1, 1]) as tf.Tensor3D);
  tf.dispose([encoderOut, c]);
  const low =
    mode.init === 'lowlevel'
      ? await lowLevelLatent(model, fmri).catch((e: unknown) => {
          cRep.dispose();
          throw e;
        })
      : undefined;
  const xT = tf.tensor4d(noise, [n, ch, h, w]);
  const x0Init = low ? tf.tidy(() => tf.tile(tf.tensor4d(low.latent, [1, ch, h, w]), [n, 1, 1, 1]) as tf.Tensor4D) : undefined;
  // guidedEps hands the UNet the same context tensor at every step: its K / V projections and time condition are made once.
  const denoiser = unetWithContextCache(cfg, model.unet);
  const eps = guidedEps(denoiser, cRep, nullContext(model), mode.guidance);
  const common = {
    schedule: model.schedule,
    steps: opts.steps,
    eps,
    xT,
    signal,
    ...(x0Init ? { init: { x0: x0Init, strength: mode.strength } } : {}),
  };
  const noiseSeed = opts.seed + 1;
  const sampler =
    opts.sampler === 'plms'
      ? plmsSampler(common)
      : ddimSampler({
          ...common,
          eta: opts.eta,
          noise: (i: number) => tf.tensor4d(gaussian(noiseSeed * 100_003 + i, n * ch * h * w), [n, ch, h, w]),
        });
  try {
    if (low && x0Init) {
      // Frame 0, before step 1 is computed: the low-level start. Its x_t is what the sampler starts from
      // (the same noisedInit on the same tensors, so the same values as step 1's x_t).
      const start = noisedInit(x0Init, xT, model.schedule.alphasCumprod[timesteps[0]]);
      const [xt0, z0] = (await Promise.all([start.data(), x0Init.data()]).finally(() => start.dispose())) as Float32Array[];
      yield {
        kind: 'init',
        pixels: low.pixels,
        x0: z0,
        xt: xt0,
        t: timesteps[0],
        steps: timesteps.length,
        ms: performance.now() - initStarted,
      };
    }
    let started = performance.now();
    for (;;) {
      const r = await sampler.next();
      if (r.done) {
        const final = (await r.value.data()) as Float32Array;
        r.value.dispose();
        return final;
      }
      const s = r.value;
      if (s.total !== timesteps.length || s.t !== timesteps[s.index]) {
        throw new Error(`sampler step ${s.index + 1} at t = ${s.t} is not the planned step list [${timesteps}]`);
      }
      const [xt, e, x0, next] = (await Promise.all([s.xt.data(), s.eps.data(), s.x0.data(), s.next.data()])) as Float32Array[];
      if (!allFinite(e) || !allFinite(next)) {
        throw new NonFiniteError(
          `sampler step ${s.index + 1} of ${s.total} (t = ${s.t}) produced NaN or infinite values on the ` +
            `${tf.getBackend()} backend; the run was stopped instead of decoding a meaningless image`,
        );
      }
      const now = performance.now();
      yield { kind: 'step', index: s.index, total: s.total, t: s.t, xt, eps: e, x0, next, ms: now - started };
      started = performance.now();
    }
  } finally {
    await sampler.return?.(undefined as never);
    eps.dispose();
    denoiser.dispose();
    tf.dispose([xT, cRep, ...(x0Init ? [x0Init] : [])]);
  }
}

/** Pulls a step iterator (a sampler or decodeSteps) to its end and returns its result. */
export async function runToEnd<T, R>(steps: AsyncGenerator<T, R>): Promise<R> {
  let r = await steps.next();
  while (!r.done) r = await steps.next();
  return r.value;
}

/** VQ-decodes latents NCHW [n, C, h, w] to images [n, H, W, 3] in [0, 1]. */
export async function decodeLatents(model: EngineModel, latents: Float32Array, n: number): Promise<ImageBatch> {
  const [ch, h, w] = latentShape(model.config);
  const img = tf.tidy(() => toImage(vqDecode(model.config, model.vq, tf.tensor4d(latents, [n, ch, h, w]))));
  const [, height, width] = img.shape;
  const data = (await img.data()) as Float32Array;
  img.dispose();
  return { n, height, width, data };
}
