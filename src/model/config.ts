// Model configuration: the hyper-parameters of every network, as stored in a bundle's manifest.json.
// Names follow the authors' code (spec ../shared/spec/model.md §2–4); sizes are free so the same
// networks run the published model and the small ones used for tests and the embedded default.

/** fMRI MAE encoder (inference path: patch embed → +pos → blocks → LN). */
export interface EncoderConfig {
  /** Voxels the encoder takes, already padded: numPatches · patchSize. */
  numVoxels: number;
  patchSize: number; // 16
  embedDim: number; // 1024
  depth: number; // 24
  numHeads: number; // 16
  mlpRatio: number; // 1.0
}

/** cond_stage_model mappers: channel_mapper (L → L//2 → 77 tokens) and dim_mapper (D → condDim). */
export interface CondConfig {
  numTokens: number; // L = numVoxels / patchSize
  midTokens: number; // L // 2
  outTokens: number; // 77
  condDim: number; // 512 (= UNet context_dim)
}

/** CompVis openaimodel UNetModel (use_spatial_transformer, legacy, num_heads heads per attention). */
export interface UNetConfig {
  imageSize: number; // latent side (64)
  inChannels: number; // 3
  outChannels: number; // 3
  modelChannels: number; // 192
  channelMult: number[]; // [1,2,3,5]
  numResBlocks: number; // 2
  attentionResolutions: number[]; // downsample factors with a SpatialTransformer: [8,4,2]
  numHeads: number; // 1 (legacy: head width = channels / numHeads)
  transformerDepth: number; // 1
  contextDim: number; // 512
  /** time_embed_condtion present (CAD "double conditioning"). */
  timeCond: boolean;
}

/** VQModelInterface (first stage), taming-transformers Encoder/Decoder. */
export interface VQConfig {
  embedDim: number; // 3
  nEmbed: number; // 8192
  zChannels: number; // 3
  resolution: number; // 256 (image side)
  inChannels: number; // 3
  outCh: number; // 3
  ch: number; // 128
  chMult: number[]; // [1,2,4]
  numResBlocks: number; // 2
  attnResolutions: number[]; // []
}

/** LDM noise schedule: 'linear' = linear in sqrt(beta). */
export interface ScheduleConfig {
  numTimesteps: number; // 1000
  linearStart: number; // 0.0015
  linearEnd: number; // 0.0195
}

/** How raw voxel vectors are turned into encoder input (spec §1.5). */
export interface PreprocessConfig {
  /**
   * Voxel count before padding (the subject's ROI size). Unknown (e.g. a converted checkpoint without
   * --raw-voxels): any vector that pads to the encoder's length, or already has it, is accepted.
   */
  rawVoxels?: number;
  /** ROI mask name the model was trained on (e.g. 'VC'); informational. */
  roi?: string;
  /** Scalar z-score statistics of the training set, applied after padding. Absent: input is used as is. */
  mean?: number;
  std?: number;
}

/**
 * Sampler settings that the model's training command chose on validation data (never on the test set):
 * the studio and `decode` start from them. Absent for the authors' checkpoints, which sample as they do
 * (PLMS from noise, no guidance).
 */
export interface SamplingDefaults {
  sampler: 'plms' | 'ddim';
  steps: number;
  /** 'lowlevel': img2img from the bundle's low-level decoder (decoding_studio.lowlevel.*). */
  init: 'noise' | 'lowlevel';
  /** img2img strength in (0, 1]; 1 with init 'noise'. */
  strength: number;
  /** Classifier-free guidance scale (1 = off); ≠ 1 needs decoding_studio.null_context. */
  guidance: number;
}

export interface ModelConfig {
  name: string;
  description?: string;
  /** True for models trained on simulated data: the UI labels everything they produce. */
  synthetic?: boolean;
  encoder: EncoderConfig;
  cond: CondConfig;
  unet: UNetConfig;
  vq: VQConfig;
  schedule: ScheduleConfig;
  preprocess: PreprocessConfig;
  /** Default sampler settings chosen at training time (see SamplingDefaults). */
  sampling?: SamplingDefaults;
}

/** Published CAD / MinD-Vis GOD sbj_3 configuration (spec §4). */
export const PUBLISHED_GOD_SBJ3: ModelConfig = {
  name: 'cad-god-sbj3',
  encoder: { numVoxels: 4656, patchSize: 16, embedDim: 1024, depth: 24, numHeads: 16, mlpRatio: 1.0 },
  cond: { numTokens: 291, midTokens: 145, outTokens: 77, condDim: 512 },
  unet: {
    imageSize: 64,
    inChannels: 3,
    outChannels: 3,
    modelChannels: 192,
    channelMult: [1, 2, 3, 5],
    numResBlocks: 2,
    attentionResolutions: [8, 4, 2],
    numHeads: 1,
    transformerDepth: 1,
    contextDim: 512,
    timeCond: true,
  },
  vq: {
    embedDim: 3,
    nEmbed: 8192,
    zChannels: 3,
    resolution: 256,
    inChannels: 3,
    outCh: 3,
    ch: 128,
    chMult: [1, 2, 4],
    numResBlocks: 2,
    attnResolutions: [],
  },
  schedule: { numTimesteps: 1000, linearStart: 0.0015, linearEnd: 0.0195 },
  preprocess: { rawVoxels: 4643, roi: 'VC' },
};

/** Latent side length and channels produced by the first stage for this config. */
export function latentShape(cfg: ModelConfig): [number, number, number] {
  const f = 2 ** (cfg.vq.chMult.length - 1);
  return [cfg.vq.embedDim, cfg.vq.resolution / f, cfg.vq.resolution / f];
}
