// Messages between the studio (main thread) and the engine worker.
// Requests are RPCs: {id, op, args} answered by exactly one {id, ok, result|error}. While an op runs the
// worker may also post events (byte progress, sampler steps, device loss) that carry no id.
// Everything here is structured-clone friendly; large arrays travel as transferables.
import type { ModelConfig } from '../model/config';
import type { BackendDecision, BackendOverride, BackendPrefs, CachedChoice } from './backendChoice';
import type { BackendName, DecodeOptions, ModelCard } from './types';
import type { WasmThreadsEmulation, WasmThreadsPref } from './wasmThreads';
import type { WeightStorage } from './pipeline';

export interface AdapterInfo {
  vendor: string;
  architecture: string;
  description: string;
}

export interface BackendInfo {
  backend: BackendName;
  adapter?: AdapterInfo;
  /** Why a preferred backend was skipped (shown as a banner). */
  fallbackReason?: string;
  /** How the backend was chosen for the loaded model (src/engine/backendChoice.ts), and why. */
  choice?: BackendDecision;
  /** WebAssembly threads (backend 'wasm'). */
  threads?: number;
  /** Why WebAssembly runs with that many threads; why threads were given up when they could not start. */
  threadsNote?: string;
}

/** A structured error that the UI shows inline. `code` is the thrown error's class name or an engine code. */
export interface EngineError {
  code: string;
  message: string;
  detail?: string;
}

/**
 * Where a model bundle comes from. Folder files are keyed by path relative to the bundle root
 * (manifest.json, shards). Files travel as Blobs: the worker reads them, the main thread never does.
 */
export type ModelSourceSpec =
  | { kind: 'url'; base: string; label?: string }
  | { kind: 'files'; files: Record<string, Blob>; label: string }
  | { kind: 'zip'; file: Blob; label: string }
  | { kind: 'saved'; id: string };

/**
 * What a bundle can do beyond the authors' model, reported by the worker with the model (the UI enables its
 * controls by it). lowLevel: it carries the low-level decoder and the VQ encoder (`hasLowLevel`), so runs can
 * start from the fMRI-predicted latent (init 'lowlevel'). nullContext: it carries the learned null context
 * (`hasNullContext`), so classifier-free guidance ≠ 1 works.
 */
export interface ModelCapabilities {
  lowLevel: boolean;
  nullContext: boolean;
}

export interface ModelInfo {
  /** Stable key of the loaded bundle (saved-model id, or the URL). */
  key: string;
  label: string;
  config: ModelConfig;
  card: ModelCard;
  /** sha256 of the bundle's manifest.json (with it, of every shard it lists), for receipts. */
  sha256: string;
  /** Trained on simulated data, or an untrained stand-in: the UI labels it. */
  syntheticLabel?: string;
  /** Bytes of weights held on the device (4 per value, 2 for matrices kept as packed f16). */
  memoryBytes: number;
  /** Matrices kept as packed f16 on the GPU and the bytes saved (src/kernels/packedWeights.ts); absent when none. */
  packedF16?: { tensors: number; bytesSaved: number };
  /** Low-level start and guidance support (init 'lowlevel', guidance ≠ 1). */
  capabilities: ModelCapabilities;
}

/** What loadModel answers: the model, and why saving it in this browser failed (the model is loaded regardless). */
export interface LoadedModel {
  info: ModelInfo;
  saveError?: EngineError;
}

export interface SavedModel {
  id: string;
  label: string;
  bytes: number;
  savedAt: string;
}

/** A split of a file (GOD npz: train, test-single, test-avg; other formats: one split). */
export interface SplitInfo {
  name: string;
  count: number;
  /** Whether samples of this split have a ground-truth image available. */
  hasGroundTruth: boolean;
}

export interface FileInfo {
  name: string;
  format: string;
  sha256: string;
  bytes: number;
  /** Voxels per sample after the default ROI. */
  voxels: number;
  splits: SplitInfo[];
  defaultSplit: string;
  /** ROI applied by default, and every ROI mask in the file. */
  roi?: string;
  roiNames: string[];
  /** The reader's account of its choices (dataset picked, scale applied, ...). */
  note?: string;
  /** Set for the bundled synthetic set: label every view of it. */
  syntheticLabel?: string;
  /** The multiplier the values were read with (readFile's `scale`), when one was given: receipts record it. */
  scale?: number;
  // ---- data-set inputs (issue 13) ----
  /** Files concatenated along voxels, in order (a multi-file subject). */
  parts?: string[];
  /** Split → single trials or averaged over repetitions, where the reader knows. */
  splitKinds?: Record<string, 'single' | 'averaged'>;
  /** Ground-truth images given with the data (file or folder name). */
  truthName?: string;
  /** Every file read, with its sha256 (data parts in order, mask, stimulus list), as the receipt records them. */
  inputs?: { role: 'data' | 'mask' | 'stimuli'; fileName: string; sha256: string }[];
  // ---- end data-set inputs ----
}

/** Which sample: a row of a split, optionally with another ROI than the file's default. */
export interface SampleRef {
  split: string;
  index: number;
  roi?: string;
}

export interface PreprocessInfo {
  rawVoxels: number;
  paddedVoxels: number;
  pad: number;
  /** Scalar z-score statistics; absent when the model uses its input as is. */
  mean?: number;
  std?: number;
  roi?: string;
}

export interface SampleInfo {
  ref: SampleRef;
  /** Voxels after the ROI. */
  voxelCount: number;
  /** The ROI the sample was read with (the ref's, else the file's default), when the file has ROI masks. */
  roi?: string;
  /** The raw voxel vector (what the plot shows). */
  voxels: Float32Array;
  /** Null until a model is loaded (the summary depends on its preprocessing). */
  preprocess: PreprocessInfo | null;
  /** Error from preprocessing against the loaded model (e.g. voxel count mismatch, VoxelOrderError). */
  preprocessError?: EngineError;
  /**
   * How the sample's voxels were put into the loaded model's order, or why that order could not be checked
   * (src/io/voxelOrder.ts inModelOrder); absent without a model or for a file whose voxels have no positions.
   */
  voxelOrder?: string;
  groundTruth?: RgbaImage;
  /** Fashion-MNIST class name of the ground truth (bundled data set only). */
  groundTruthClass?: string;
}

/** An RGBA8 image, row-major, ready for `new ImageData(pixels, width, height)`. */
export interface RgbaImage {
  width: number;
  height: number;
  pixels: Uint8ClampedArray;
}

// The run settings, their limits and rules live in ./settings (one owner for the studio, worker, CLIs and receipt).
export type { RunSettings } from './settings';
import type { RunSettings } from './settings';

export interface SampleMetrics {
  pcc: number;
  ssim: number;
  /** Class name the CNN of `npm run eval` gives the image (bundled data set only). */
  cnnClass?: string;
}

/** Spread of a metric over the samples of one run (min, max, mean, population sd). */
export interface MetricSpread {
  min: number;
  max: number;
  mean: number;
  sd: number;
}

/** Images of one timeline position: decoded predicted x0 and the latent x_t as RGB, one per sample. */
export interface StepPreview {
  position: number;
  x0: RgbaImage[];
  xt: RgbaImage[];
  /** Against the ground truth, when the sample has one (scored on the float images, src/eval/samples.ts). */
  metrics?: SampleMetrics[];
  /** Pixel mean of the x0 images, when there are several samples. */
  mean?: RgbaImage;
  meanMetrics?: SampleMetrics;
  /**
   * Per-pixel standard deviation over the samples of their grey images (population sd, several samples only),
   * shown black = 0 to white = `stdMax` (in the images' [0, 1] units).
   */
  std?: RgbaImage;
  stdMax?: number;
  /** Mean over pixels of that sd map. */
  stdMean?: number;
  /** Spread of PCC and SSIM over the samples (with a ground truth and several samples). */
  spread?: { pcc: MetricSpread; ssim: MetricSpread };
}

/**
 * One timeline frame. 'init' (init 'lowlevel' only) is frame 0: the low-level start, whose x̂₀ is the
 * low-level latent and x_t the noised start latent, shown before the first sampler step; 'step' is a
 * sampler step. `index` is the frame's timeline position and `total` the run's frames (the init frame
 * included), so with an init frame sampler step k (0-based) is frame k + 1.
 */
export interface StepMeta {
  kind: 'init' | 'step';
  index: number;
  total: number;
  /** The step's timestep; for the init frame, the timestep the run starts at. */
  t: number;
  ms: number;
}

export type RunEndReason = 'done' | 'cancelled' | 'error';

/**
 * How a run ended. A run that is done carries its final frame (timeline position `steps`: the decoded final latent with
 * its metrics, mean and sd map), so the studio shows the result with the Done state instead of asking for it.
 */
export interface RunResult {
  reason: RunEndReason;
  steps: number;
  final?: StepPreview;
}

/** png: one image; gif: the trajectory of one sample; sheet: ground truth, samples, mean, sd map and metrics in one PNG. */
export type ExportFormat = 'png' | 'gif' | 'sheet';

/** Which image a PNG export holds: a sample's x̂₀ by index, the pixel mean of the samples, or the per-pixel sd map. */
export type ExportTarget = number | 'mean' | 'std';

/** Nearest-neighbour scale factors of PNG and sheet exports. */
export const EXPORT_SCALES = [1, 2, 4, 8, 16] as const;
/** Default export scale: a 32-px image becomes 256 px, large enough to see. */
export const DEFAULT_EXPORT_SCALE = 8;

export interface ExportResult {
  fileName: string;
  mime: string;
  bytes: Uint8Array;
}

/** tfjs's memory counts (src/engine/gpuMemory.ts); GPU figures only on WebGPU, peaks since the model began loading. */
export interface MemoryReport {
  backend: string;
  numTensors: number;
  /** Bytes of all live tensors (tf.memory().numBytes). */
  numBytes: number;
  /** tf.memory().numBytesInGPU: buffers of live tensors. */
  gpuBytesInUse?: number;
  /** tf.memory().numBytesAllocatedInGPU: also the buffers tfjs keeps for reuse. */
  gpuBytesAllocated?: number;
  peakGpuBytesInUse?: number;
  peakGpuBytesAllocated?: number;
}

/** op name → [args, result]. */
export interface Ops {
  /**
   * choice: the stored override and cached decisions (backend chosen by measurement when a model loads); testHooks: e2e only (?testHooks).
   * wasmThreads: the URL's ?wasmThreads (default 'auto'); emulate: e2e only, honoured with testHooks (src/engine/wasmThreads.ts).
   */
  init: [
    {
      prefer: BackendName[];
      choice?: BackendPrefs;
      testHooks?: boolean;
      wasmThreads?: WasmThreadsPref;
      emulate?: WasmThreadsEmulation;
      /** The URL's ?weights= (src/engine/pipeline.ts WeightStorage; default 'auto'). */
      weights?: WeightStorage;
    },
    BackendInfo,
  ];
  /** tfjs's memory counts now, and the GPU peaks (the page benchmark reads them). */
  memory: [Record<string, never>, MemoryReport];
  /** Set the override and reload the current model on the backend it selects (null: no model loaded). */
  setBackendOverride: [{ override: BackendOverride }, LoadedModel | null];
  /** e2e only (init testHooks): destroy the WebGPU device now, as a driver reset would. */
  testLoseDevice: [Record<string, never>, void];
  loadModel: [{ source: ModelSourceSpec; save: boolean }, LoadedModel];
  cancelLoad: [Record<string, never>, void];
  listSaved: [Record<string, never>, SavedModel[]];
  deleteSaved: [{ id: string }, SavedModel[]];
  /** `mask`: a NIfTI/.npy mask file given with the data (needed for 3-D NIfTI volumes). */
  /** scale: the user's multiplier for the values (any format; e.g. 1/300 for NSD int16 betas). */
  readFile: [{ name: string; file: Blob; mask?: { name: string; file: Blob }; scale?: number } & ReadFileExtras, FileInfo];
  /** Stops the read in progress (readFile then rejects with AbortError). */
  cancelRead: [Record<string, never>, void];
  selectSample: [SampleRef, SampleInfo];
  /**
   * Resolves when the run ends; steps arrive as events meanwhile, tagged with `runId` (chosen by the
   * caller) so events of a run that was replaced can be told apart.
   */
  run: [{ runId: number; settings: RunSettings; sample: SampleRef }, RunResult];
  pause: [Record<string, never>, void];
  resume: [Record<string, never>, void];
  step: [Record<string, never>, void];
  cancel: [Record<string, never>, void];
  /** Timeline position p in [0, total]: p < total shows frame p's x_t and predicted x0 (frame 0 the low-level start with init 'lowlevel'), p = total the final latent. */
  preview: [{ position: number }, StepPreview];
  /** `sample`: the image of a png export (ignored by sheet; gif needs a sample index); `scale`: nearest-neighbour factor 1..16 (png, sheet). */
  export: [{ format: ExportFormat; position: number; sample: ExportTarget; scale: number; baseName: string }, ExportResult];
}

export type OpName = keyof Ops;
export type OpArgs<K extends OpName> = Ops[K][0];
export type OpResult<K extends OpName> = Ops[K][1];

export type Request = { [K in OpName]: { id: number; op: K; args: OpArgs<K> } }[OpName];

export type Response = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: EngineError };

// ---- data-set inputs (issue 13) ----
/**
 * readFile's other inputs: several files of one subject (`parts`, concatenated along voxels in `order` or
 * the authors' BOLD5000 order), a stimulus list, ground-truth images (one .npz/.npy, or image files matched
 * by name), and the data set's convention (auto: NSD betas_session* int16 × 1/300 recognised by name).
 */
export interface ReadFileExtras {
  parts?: { name: string; file: Blob }[];
  order?: string[];
  stimuli?: { name: string; file: Blob };
  truth?: { name: string; file: Blob }[];
  convention?: 'auto' | 'nsd' | 'none';
}
// ---- end data-set inputs ----

/** A phase of reading the fMRI input: its bytes read through, then a masked 4-D HDF5 series' volumes. */
export type ReadPhase = PhaseProgress['phase'];

export type EngineEvent =
  | { event: 'loadProgress'; done: number; total: number }
  /**
   * The fMRI input's read (issue 13), about every 1 %: phase 'bytes', the bytes of the data files read so far;
   * then, for a masked 4-D HDF5 / MATLAB v7.3 series, phase 'volumes', its masked values (volumes × voxels) read.
   */
  | { event: 'readProgress'; name: string; phase: ReadPhase; done: number; total: number }
  /** `total`: the run's timeline frames (the sampler steps after the img2img cut, plus the init frame with init 'lowlevel'). */
  | { event: 'runStarted'; runId: number; total: number; settings: RunSettings; sample: SampleRef }
  /** A timeline frame: the init frame (step.kind 'init', first) or a sampler step. */
  | { event: 'step'; runId: number; step: StepMeta; preview: StepPreview }
  | { event: 'deviceLost'; message: string; backend: BackendInfo }
  | { event: 'modelReloaded'; model: ModelInfo }
  /** After a device loss no backend, or no model, could be brought back. */
  | { event: 'recoveryFailed'; stage: 'backend' | 'model'; error: EngineError }
  /** The backend was chosen by measurement for the model being loaded: `decision` is cached under `key`. */
  | { event: 'backendChosen'; backend: BackendInfo; key: string; cache?: CachedChoice }
  /** A GPU error outside a run (inside a run it fails the run call instead). */
  | { event: 'gpuError'; error: EngineError };

export type WorkerMessage = Response | EngineEvent;

export function isEvent(m: WorkerMessage): m is EngineEvent {
  return 'event' in m;
}

/** Any thrown value → EngineError (class name as code, so callers can switch on FmriShapeError etc.). */
export function toEngineError(e: unknown, code?: string): EngineError {
  if (e instanceof Error) {
    const errCode = code ?? (e.name && e.name !== 'Error' ? e.name : 'EngineError');
    const detail = (e as Error & { detail?: string }).detail;
    return { code: errCode, message: e.message, ...(detail ? { detail } : {}) };
  }
  return { code: code ?? 'EngineError', message: String(e) };
}

/** Options the engine's decodeSteps takes for these settings. */
export function decodeOptions(s: RunSettings): DecodeOptions {
  return {
    sampler: s.sampler,
    steps: s.steps,
    eta: s.eta,
    seed: s.seed,
    numSamples: s.numSamples,
    init: s.init,
    strength: s.strength,
    guidance: s.guidance,
  };
}

/** Timeline frames of a run with these settings: its sampler steps, plus frame 0 with init 'lowlevel'. */
export function timelineFrames(s: Pick<RunSettings, 'init'>, samplerSteps: number): number {
  return samplerSteps + (s.init === 'lowlevel' ? 1 : 0);
}

// ---- issue 14: explanation views (attention maps, counterfactual decoding) ---------------------------
// A separate block: the ops below merge into Ops (interface declaration merging); the worker answers them
// with src/explain/studio.ts.
import type { CounterfactualEdit } from '../explain/counterfactual';
import type { VoxelCoords } from '../io/coords';
import type { PhaseProgress } from '../io/fmriFile';

export interface ExplainArgs {
  /** Timeline position of the shown run (as 'preview'). */
  position: number;
  sample: number;
  /** ROI of the heatmap (default V1, else the first mask). */
  roi?: string;
  /** Brushed image region, 0/1 per latent position [h·w] row-major; absent or empty = the whole image. */
  region?: number[];
}

export interface ExplainView {
  position: number;
  t: number;
  /** Latent size of the maps. */
  height: number;
  width: number;
  roi: string | null;
  roiNames: string[];
  /** [h·w]: fraction of each position's cross-attention that reaches the ROI's voxels. */
  heat: Float32Array;
  /** [h·w]: fraction that reaches the mappers' constant part (no voxel). */
  biasHeat: Float32Array;
  /** Attention mass per ROI over the image, and per voxel relative to the ROI's size (1 = as its size predicts). */
  mass: Record<string, number>;
  perVoxel: Record<string, number>;
  bias: number;
  /** [voxels]: importance of each voxel for the brushed region; and its sum per ROI. */
  importance: Float32Array;
  roiImportance: Record<string, number>;
  /** [voxels]: ROI index per voxel for colouring (V1, V2, V3, HVC first), −1 for none. */
  roiOf: Int16Array;
  /**
   * Where each voxel sits, when the file says (FmriFile.coords: a GOD .npz's voxel_xyz in mm, such as the bundled
   * set's, or a NIfTI / mask grid's (i, j, k)): the brain-slice view.
   */
  coords?: VoxelCoords;
  layers: number;
}

export interface CounterfactualArgs {
  /** The edit; trial / interpolate name another sample of the open file in `other.sampleIndex`. */
  edit: CounterfactualEdit;
  /** Only the edited decode (the original is on screen already). */
  skipOriginal?: boolean;
}

export interface CounterfactualView {
  edit: CounterfactualEdit;
  description: string;
  original: RgbaImage[];
  edited: RgbaImage[];
  baselineSource?: string;
}

export interface Ops {
  /** Cross-attention maps and attributions of the shown run at a timeline position. */
  explain: [ExplainArgs, ExplainView];
  /** Decodes the shown run's sample and its counterfactual on the run's seed and settings. */
  counterfactual: [CounterfactualArgs, CounterfactualView];
  /** Stops a counterfactual decode in progress (its call then fails with an AbortError). */
  cancelCounterfactual: [Record<string, never>, void];
}
