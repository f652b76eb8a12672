// The engine: owns the tfjs backend, the loaded model, the open fMRI file, the current run and the GPU error state,
// and reports through `emit(event)`. The worker (engine.worker.ts) only routes messages to it; tests drive it in
// Node on the cpu backend with a fake `emit` and fake GPU hooks (device loss is simulated through them).
//
// Ordering rules it keeps (each tested in engine.test.ts):
//  - anything that replaces what a run depends on (file, sample, model) first cancels the run and waits until its
//    sampler has released the model's tensors;
//  - every event of a run carries the caller's run id; no step event of a run is emitted after the call that
//    cancelled it has returned;
//  - a GPU error or a device loss during a run fails the run with that error instead of showing GPU garbage.
import {
  decodeLatents,
  decodeSteps,
  decodeTimesteps,
  hasNullContext,
  loadModel,
  preprocessSummary,
  runMode,
  type EngineModel,
  type WeightStorage,
} from '../engine/pipeline';
import { memoryReport, releaseFreeGpuBuffers, trackGpuPeak } from '../engine/gpuMemory';
import { hasLowLevel } from '../model/lowlevel';
import {
  decodeOptions,
  timelineFrames,
  toEngineError,
  type BackendInfo,
  type EngineError,
  type EngineEvent,
  type ExportResult,
  type FileInfo,
  type LoadedModel,
  type ModelInfo,
  type ModelSourceSpec,
  type OpArgs,
  type OpName,
  type OpResult,
  type RgbaImage,
  type RunEndReason,
  type RunResult,
  type RunSettings,
  type SampleInfo,
  type SampleRef,
  type SavedModel,
  type SplitInfo,
  type StepPreview,
} from '../engine/protocol';
import type { StepEvent } from '../engine/types';
import type { BackendOverride, BackendPrefs, CachedChoice } from '../engine/backendChoice';
import type { ModelConfig } from '../model/config';
import { parseManifest } from '../io/bundle/manifest';
import { counterfactualPair, explainPosition, runExplainer, type RunExplainer } from '../explain/studio';
import { latentShape } from '../model/config';
import type { FmriFile } from '../io/fmriFile';
import { readStudioInput, type StudioInput } from '../io/studioInput';
import { truthFor, type TruthImages } from '../io/truthImages';
import { voxelMismatch } from '../io/modelFit';
import { inModelOrder, type ModelOrder } from '../io/voxelOrder';
import { toGrey } from '../eval/metrics';
import { greySamples, sampleMeanGrey } from '../eval/samples';
import { FASHION_MNIST_CLASSES, type CnnClassifier } from '../eval/cnn';
import { MANIFEST_FILE } from '../io/bundle/manifest';
import type { OpenedBundle } from './bundles';
import { ownTruthImage, truthFromBlobs, type BundledSet } from './groundTruth';
import { ExportError, pngAtScale, sheetPng, sheetTiles, trajectoryGif } from './exports';
import { cloneForTransfer, FrameCache, makeFrame, type Frame } from './previews';
import { RunCancelled, RunGate } from './runGate';
import { validateRunSettings } from '../engine/settings';
import type { WasmThreadsEmulation, WasmThreadsPref } from '../engine/wasmThreads';

/** The WebGPU-facing functions of src/engine/backend.ts (fakes in tests simulate errors and device loss). */
export interface GpuHooks {
  initBackend(prefer: BackendInfo['backend'][]): Promise<BackendInfo>;
  /** Calls `onLost` once when the device is lost; false when there is no device to watch. */
  watchDeviceLost(onLost: (message: string) => void): boolean;
  watchGpuErrors(onError: (e: EngineError) => void): boolean;
  /** Resolves once submitted GPU work has finished (so its errors have been reported). */
  gpuSettled(): Promise<void>;
  dropWebGpu(): void;
  /**
   * Backend by measurement (src/engine/backendProbe.ts): picks and activates the backend for a model of this
   * config (override, cached decision or a probe at its shape). Absent in tests, which keep the backend they set.
   */
  chooseBackend?(
    config: ModelConfig,
    prefs: BackendPrefs,
    opts: { excludeWebGpu: boolean },
  ): Promise<{ info: BackendInfo; key: string; cache?: CachedChoice }>;
  /** The GPU device the active backend runs on, if any (to tell a device loss from other failures of a run). */
  activeDevice?(): unknown;
  /** The run's failure as a device loss, if the device it ran on was lost (src/engine/backend.ts deviceLossError). */
  deviceLossError?(device: unknown, error: unknown): Promise<EngineError | undefined>;
  /** e2e only (?testHooks=1): destroys the GPU device, as a driver reset does. */
  destroyDevice?(): void;
  /** Threads or not for WebAssembly (src/worker/wasmThreads.ts), before it first starts; `emulate`: e2e only. */
  configureWasmThreads?(pref: WasmThreadsPref, emulate?: WasmThreadsEmulation): void;
}

/** The bundled synthetic data set's ground truth (src/worker/groundTruth.ts; read from disk in tests). */
export interface BundledData {
  bundledSet(): Promise<BundledSet | null>;
  bundledImage(split: 'train' | 'test', index: number): Promise<RgbaImage>;
  bundledClassName(split: 'train' | 'test', index: number): Promise<string | undefined>;
  bundledCnn(): Promise<CnnClassifier>;
}

/** Saved bundles (src/worker/modelStore.ts, OPFS). */
export interface ModelStore {
  saveModel(id: string, label: string, files: Map<string, Uint8Array>): Promise<void>;
  listSaved(): Promise<SavedModel[]>;
  deleteSaved(id: string): Promise<void>;
}

export interface EngineDeps {
  /** Events for the studio; `transfer`: buffers the event owns outright (copies of cached pixels). */
  emit(event: EngineEvent, transfer?: ArrayBuffer[]): void;
  gpu: GpuHooks;
  data: BundledData;
  store: ModelStore;
  openBundle(spec: ModelSourceSpec, keepShards: boolean): Promise<OpenedBundle>;
  /** Awaited before each sampler step, after pause/cancel are honoured: the test hook for races mid-run. */
  beforeStep?(runId: number, position: number): void | Promise<void>;
}

interface RunState {
  /** The caller's id for this run; every event of the run carries it. */
  id: number;
  gate: RunGate;
  settings: RunSettings;
  sample: SampleRef;
  /** x_t and predicted x0 of every timeline frame (frame 0 is the low-level start with init 'lowlevel'). */
  steps: Pick<StepEvent, 'xt' | 'x0'>[];
  /** The latent after the last step, once done. */
  final?: Float32Array;
  /** The sampler loop is running (or paused). */
  active: boolean;
  groundTruth?: RgbaImage;
  frames: FrameCache;
  /** A GPU error or device loss while the run was active: the run fails with it rather than show what the GPU produced. */
  failure?: EngineError;
  /** Settles once the sampler loop has exited and released its tensors. */
  finished: Promise<void>;
}

interface OpenFile {
  base: FmriFile;
  info: FileInfo;
  /** Only the bundled set's ground truth is known (its sha256 is listed in meta.json). */
  bundled: boolean;
  bundledTestImage?: number;
  views: Map<string, FmriFile>;
  /** The views in a model's voxel order, by model sha256, split and ROI. */
  ordered: Map<string, ModelOrder>;
  /** Ground-truth images the user gave with the data (issue 13). */
  truth?: TruthImages;
}

/** Image split of the bundled images_32.npz that a data split's ground truth indexes. */
const IMAGE_SPLIT: Record<string, 'train' | 'test'> = { train: 'train', 'test-avg': 'test' };

async function sha256Hex(bytes: Uint8Array | ArrayBuffer): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

function failure(e: EngineError): Error {
  return Object.assign(new Error(e.message), { name: e.code });
}

function refused(code: string, message: string): Error {
  return Object.assign(new Error(message), { name: code });
}

/** The label shown next to everything a synthetic or untrained model produces. */
function syntheticLabel(engine: EngineModel, manifestBytes: Uint8Array): string | undefined {
  const card = JSON.stringify((JSON.parse(new TextDecoder().decode(manifestBytes)) as { card?: unknown }).card ?? {});
  const text = `${engine.config.description ?? ''} ${engine.config.name} ${card}`;
  if (/untrained stand-in/i.test(text)) return 'untrained stand-in — outputs are not reconstructions';
  if (engine.config.synthetic) return 'synthetic — trained on simulated responses, not brain data';
  return undefined;
}

export class Engine {
  private backend: BackendInfo | null = null;
  private model: { engine: EngineModel; info: ModelInfo; source: ModelSourceSpec } | null = null;
  private loadAbort: AbortController | null = null;
  /** The fMRI read in progress (cancellable: big sessions take seconds). */
  private readAbort: AbortController | null = null;
  private file: OpenFile | null = null;
  private run: RunState | null = null;
  /** GPU errors so far, and the last: a frame decoded while one was raised is failed rather than shown. */
  private gpuErrors = 0;
  private lastGpuError: EngineError | null = null;
  /** The user's backend override and the decisions measured so far (the studio keeps them in localStorage). */
  private backendPrefs: BackendPrefs = { override: 'auto', cache: {} };
  private testHooks = false;
  /** How weights are kept on a WebGPU device (?weights=; src/engine/pipeline.ts WeightStorage). */
  private weightStorage: WeightStorage = 'auto';
  /** The WebGPU device was lost in this session: WebGPU is no longer a candidate. */
  private webGpuLost = false;

  constructor(private readonly deps: EngineDeps) {}

  /** Answers one request (the worker's message router calls this). */
  handle<K extends OpName>(op: K, args: OpArgs<K>): Promise<OpResult<K>> {
    const a = args as never;
    const ops: { [P in OpName]: (x: OpArgs<P>) => Promise<OpResult<P>> } = {
      init: (x) => {
        this.deps.gpu.configureWasmThreads?.(x.wasmThreads ?? 'auto', x.testHooks ? x.emulate : undefined);
        if (x.weights) this.weightStorage = x.weights;
        return this.startBackend(x.prefer, x.choice, x.testHooks);
      },
      memory: async () => memoryReport(),
      setBackendOverride: (x) => this.setBackendOverride(x.override),
      testLoseDevice: async () => this.testLoseDevice(),
      loadModel: (x) => this.openModel(x.source, x.save),
      cancelLoad: async () => {
        this.loadAbort?.abort();
        this.loadAbort = null;
      },
      cancelRead: async () => {
        this.readAbort?.abort();
        this.readAbort = null;
      },
      listSaved: () => this.deps.store.listSaved(),
      deleteSaved: async (x) => {
        await this.deps.store.deleteSaved(x.id);
        return this.deps.store.listSaved();
      },
      readFile: (x) => this.openFile(x),
      selectSample: (x) => this.selectSample(x),
      run: (x) => this.runDecode(x),
      pause: async () => {
        this.run?.gate.pause();
      },
      resume: async () => {
        this.run?.gate.resume();
      },
      step: async () => {
        this.run?.gate.step();
      },
      cancel: () => this.cancel(),
      preview: async (x) => (await this.frameAt(this.requireRun('preview'), x.position)).preview,
      export: (x) => this.exportImage(x),
      explain: (x) => this.explain(x),
      counterfactual: (x) => this.counterfactual(x),
      cancelCounterfactual: async () => {
        this.cfAbort?.abort();
      },
    };
    const fn = ops[op] as ((x: never) => Promise<OpResult<K>>) | undefined;
    if (!fn) return Promise.reject(refused('UnknownOp', `the engine has no operation ${JSON.stringify(op)}`));
    return fn(a);
  }

  // ---- backend ------------------------------------------------------------------------------------------------------

  private async startBackend(prefer: BackendInfo['backend'][], prefs?: BackendPrefs, testHooks?: boolean): Promise<BackendInfo> {
    if (prefs) this.backendPrefs = prefs;
    this.testHooks = !!testHooks;
    this.backend = await this.deps.gpu.initBackend(prefer);
    this.deps.gpu.watchDeviceLost((message) => {
      void this.onDeviceLost(message);
    });
    this.deps.gpu.watchGpuErrors((e) => this.onGpuError(e));
    return this.backend;
  }

  /** A GPU error (out of memory, validation) makes the active run's output untrustworthy: fail the run. */
  private onGpuError(error: EngineError): void {
    this.gpuErrors++;
    this.lastGpuError = error;
    if (this.run?.active) {
      this.run.failure ??= error;
      this.run.gate.cancel();
    } else {
      this.deps.emit({ event: 'gpuError', error });
    }
  }

  /** The device is gone with every tensor on it: fail the run, continue on wasm/cpu and reload the model there. */
  private async onDeviceLost(message: string): Promise<void> {
    // Reported twice (the run's failure, then device.lost): recover once; WebGPU is off for the session after it.
    if (this.webGpuLost) return;
    this.webGpuLost = true;
    if (this.run?.active) {
      this.run.failure ??= { code: 'DeviceLost', message: `the GPU device was lost during the run: ${message}` };
      this.run.gate.cancel();
    }
    const source = this.model?.source;
    // The old engine's tensors died with the device; it cannot be used or disposed.
    this.model = null;
    try {
      this.deps.gpu.dropWebGpu();
      const info = await this.deps.gpu.initBackend(['wasm', 'cpu']);
      this.backend = { ...info, fallbackReason: message };
    } catch (e) {
      this.deps.emit({ event: 'recoveryFailed', stage: 'backend', error: toEngineError(e) });
      return;
    }
    this.deps.emit({ event: 'deviceLost', message, backend: this.backend });
    if (!source) return;
    try {
      const reloaded = await this.openModel(source, false);
      this.deps.emit({ event: 'modelReloaded', model: reloaded.info });
    } catch (e) {
      this.deps.emit({ event: 'recoveryFailed', stage: 'model', error: toEngineError(e) });
    }
  }

  /** Before a model's weights are made: pick its backend (override, cache or probe at its shape) and activate it. */
  private async chooseBackendFor(read: (file: string) => Promise<Uint8Array>): Promise<void> {
    const choose = this.deps.gpu.chooseBackend;
    if (!choose) return;
    const { config } = parseManifest(new TextDecoder().decode(await read(MANIFEST_FILE)));
    // Switching backends under a running sampler would break it.
    await this.stopRun();
    const out = await choose(config, this.backendPrefs, { excludeWebGpu: this.webGpuLost });
    this.backend = out.info;
    if (out.cache) this.backendPrefs = { ...this.backendPrefs, cache: { ...this.backendPrefs.cache, [out.key]: out.cache } };
    this.deps.emit({ event: 'backendChosen', backend: out.info, key: out.key, ...(out.cache ? { cache: out.cache } : {}) });
  }

  private async setBackendOverride(override: BackendOverride): Promise<LoadedModel | null> {
    this.backendPrefs = { ...this.backendPrefs, override };
    return this.model ? this.openModel(this.model.source, false) : null;
  }

  private testLoseDevice(): void {
    if (!this.testHooks) throw refused('TestHooksOff', 'test hooks are off (open the studio with ?testHooks=1)');
    if (!this.deps.gpu.destroyDevice) throw refused('NoDevice', 'this engine has no GPU device to lose');
    this.deps.gpu.destroyDevice();
  }

  /** Cancel the active run and wait until its sampler no longer uses the model's tensors. */
  private async stopRun(): Promise<void> {
    const r = this.run;
    if (!r?.active) return;
    r.gate.cancel();
    await r.finished;
  }

  /** Cancel: resolves once the run has stopped (no further step events), however often it is called. */
  private cancel(): Promise<void> {
    return this.stopRun();
  }

  // ---- model --------------------------------------------------------------------------------------------------------

  private async openModel(source: ModelSourceSpec, save: boolean): Promise<LoadedModel> {
    this.loadAbort?.abort();
    const abort = new AbortController();
    this.loadAbort = abort;
    let lastPost = 0;
    const onProgress = (done: number, total: number) => {
      const now = performance.now();
      // Throttled: one message per network chunk would flood the main thread.
      if (now - lastPost > 50 || done === total) {
        lastPost = now;
        this.deps.emit({ event: 'loadProgress', done, total });
      }
    };
    const keep = save && source.kind !== 'saved';
    try {
      const bundle = await this.deps.openBundle(source, keep);
      await this.chooseBackendFor((f) => bundle.source.read(f));
      trackGpuPeak();
      const engine = await loadModel(bundle.source, { signal: abort.signal, onProgress, weights: this.weightStorage });
      // The active run samples with the current engine's weights: it must end before they are disposed.
      await this.stopRun();
      if (abort.signal.aborted) {
        engine.dispose();
        throw new DOMException('model load cancelled', 'AbortError');
      }
      const manifestBytes = bundle.read.get(MANIFEST_FILE);
      if (!manifestBytes) {
        engine.dispose();
        throw new Error(`the loader did not read ${MANIFEST_FILE}`);
      }
      // manifest.json lists every shard's sha256, so its own digest identifies the whole bundle.
      const sha256 = await sha256Hex(manifestBytes);
      const label = syntheticLabel(engine, manifestBytes);
      const info: ModelInfo = {
        key: bundle.key,
        label: bundle.label,
        config: engine.config,
        card: engine.card,
        sha256,
        memoryBytes: engine.deviceWeightBytes,
        ...(engine.packedF16 ? { packedF16: { tensors: engine.packedF16.tensors, bytesSaved: engine.packedF16.bytesSaved } } : {}),
        capabilities: { lowLevel: hasLowLevel(engine), nullContext: hasNullContext(engine) },
        ...(label ? { syntheticLabel: label } : {}),
      };
      // Another model cannot decode the old run's latents.
      if (this.model?.info.sha256 !== sha256) this.run = null;
      this.model?.engine.dispose();
      this.model = { engine, info, source };
      // Nothing runs on the GPU now: give back the buffers of the load's uploads and re-layouts and of the previous
      // model, which tfjs would keep for reuse (src/engine/gpuMemory.ts).
      await releaseFreeGpuBuffers();
      // The model is in use from here on; failing to keep a copy (quota, no OPFS) is only a warning.
      let saveError: EngineError | undefined;
      if (keep) {
        try {
          await this.deps.store.saveModel(sha256.slice(0, 32), bundle.label, bundle.read);
        } catch (e) {
          saveError = toEngineError(e, 'SaveFailed');
        }
      }
      return { info, ...(saveError ? { saveError } : {}) };
    } finally {
      if (this.loadAbort === abort) this.loadAbort = null;
    }
  }

  // ---- files and samples --------------------------------------------------------------------------------------------

  private viewOf(f: OpenFile, ref: SampleRef): FmriFile {
    const key = `${ref.split}\u0000${ref.roi ?? ''}`;
    let v = f.views.get(key);
    if (!v) {
      v = f.base.select({ split: ref.split, ...(ref.roi ? { roi: ref.roi } : {}) });
      f.views.set(key, v);
    }
    return v;
  }

  /**
   * The sample's view in the loaded model's voxel order, with the note saying how it was decided (inModelOrder);
   * the file's own view when no model is loaded. Every vector given to the model comes from here.
   * @throws VoxelOrderError when the file lacks some of the model's voxels
   */
  private modelView(f: OpenFile, ref: SampleRef): ModelOrder {
    const v = this.viewOf(f, ref);
    if (!this.model) return { file: v };
    const key = `${this.model.info.sha256}\u0000${ref.split}\u0000${ref.roi ?? ''}`;
    let o = f.ordered.get(key);
    if (!o) {
      o = inModelOrder(v, this.model.engine);
      f.ordered.set(key, o);
    }
    return o;
  }

  private async openFile(args: OpArgs<'readFile'>): Promise<FileInfo> {
    // The run belongs to the file being replaced; its events would be shown against the new one.
    await this.stopRun();
    // Several files, a mask, a stimulus list and ground-truth images, streamed with progress and cancel (issue 13).
    this.readAbort?.abort();
    const abort = new AbortController();
    this.readAbort = abort;
    let input: StudioInput, truth: TruthImages | undefined;
    try {
      input = await readStudioInput(args, { signal: abort.signal, onProgress: (p) => this.deps.emit({ event: 'readProgress', ...p }) });
      truth = args.truth?.length
        ? await truthFromBlobs(args.truth.length > 1 ? `${args.truth.length} images` : args.truth[0].name, args.truth)
        : undefined;
    } finally {
      if (this.readAbort === abort) this.readAbort = null;
    }
    const base = input.file;
    const sha256 = input.sha256;
    const set = await this.deps.data.bundledSet().catch(() => null);
    const bundled = !!set && set.sha256.has(sha256);
    const splits: SplitInfo[] = Object.entries(base.splits).map(([name, count]) => ({
      name,
      count,
      hasGroundTruth:
        (bundled &&
          ((IMAGE_SPLIT[name] !== undefined && base.groundTruthIndex?.(name, 0) !== undefined) ||
            (count === 1 && Object.keys(base.splits).length === 1 && set?.singleSampleTestImage !== undefined))) ||
        (!!truth && !!truthFor(truth, base.select({ split: name }), 0)),
    }));
    const info: FileInfo = {
      name: args.name,
      format: base.format,
      sha256,
      bytes: input.bytes,
      voxels: base.voxels,
      splits,
      defaultSplit: base.split,
      roiNames: Object.keys(base.masks ?? {}),
      ...(base.roi ? { roi: base.roi } : {}),
      ...(base.note ? { note: base.note } : {}),
      ...(args.scale !== undefined ? { scale: args.scale } : {}),
      ...(bundled && set ? { syntheticLabel: set.label } : {}),
      ...(base.parts ? { parts: base.parts } : {}),
      ...(base.splitKinds ? { splitKinds: base.splitKinds } : {}),
      ...(truth ? { truthName: truth.name } : {}),
      ...(input.inputs.length > 1 ? { inputs: input.inputs } : {}),
    };
    // A run started while this file was being read belongs to the old file.
    await this.stopRun();
    this.file = {
      base,
      info,
      bundled,
      views: new Map(),
      ordered: new Map(),
      ...(bundled && set?.singleSampleTestImage !== undefined ? { bundledTestImage: set.singleSampleTestImage } : {}),
      ...(truth ? { truth } : {}),
    };
    this.run = null;
    return info;
  }

  /** Split and index of the bundled image that sample `ref` shows, if it has one. */
  private groundTruthSource(ref: SampleRef): { split: 'train' | 'test'; index: number } | undefined {
    const file = this.file;
    if (!file?.bundled) return undefined;
    const imageSplit = IMAGE_SPLIT[ref.split];
    const index = imageSplit ? file.base.groundTruthIndex?.(ref.split, ref.index) : undefined;
    if (imageSplit && index !== undefined) return { split: imageSplit, index };
    if (file.info.splits.length === 1 && file.info.splits[0].count === 1 && file.bundledTestImage !== undefined) {
      return { split: 'test', index: file.bundledTestImage };
    }
    return undefined;
  }

  private async groundTruthFor(ref: SampleRef): Promise<RgbaImage | undefined> {
    // The user's own ground truth, matched by stimulus name or image index (issue 13).
    if (this.file?.truth && !this.file.bundled) return ownTruthImage(this.file.truth, this.viewOf(this.file, ref), ref.index);
    const src = this.groundTruthSource(ref);
    return src ? this.deps.data.bundledImage(src.split, src.index) : undefined;
  }

  private async selectSample(ref: SampleRef): Promise<SampleInfo> {
    if (!this.file) throw refused('NoFile', 'no fMRI file is open');
    // The UI shows the newly selected sample: a run of another sample must not keep going behind it.
    await this.stopRun();
    const file = this.file;
    // The voxels as the model takes them; a file lacking some of the model's voxels is shown as read, with the refusal.
    let v = this.viewOf(file, ref);
    let order: ModelOrder | undefined;
    let orderError: EngineError | undefined;
    try {
      order = this.modelView(file, ref);
      v = order.file;
    } catch (e) {
      orderError = toEngineError(e);
    }
    const voxels = v.getSample(ref.index);
    const info: SampleInfo = { ref, voxelCount: v.voxels, voxels: voxels.slice(), preprocess: null, ...(v.roi ? { roi: v.roi } : {}) };
    if (order?.note) info.voxelOrder = order.note;
    if (orderError) info.preprocessError = orderError;
    else if (this.model) {
      try {
        info.preprocess = preprocessSummary(this.model.engine, voxels);
      } catch (e) {
        // A voxel count the model does not take is named with its real cause: a model is trained for one subject.
        const why = e instanceof Error && e.name === 'FmriShapeError' ? voxelMismatch(v, this.model.engine.config) : undefined;
        info.preprocessError = why ? { code: 'FmriShapeError', message: why } : toEngineError(e);
      }
    }
    const gt = await this.groundTruthFor(ref).catch(() => undefined);
    if (gt) info.groundTruth = gt;
    const src = this.groundTruthSource(ref);
    const className = src ? await this.deps.data.bundledClassName(src.split, src.index).catch(() => undefined) : undefined;
    if (className) info.groundTruthClass = className;
    return info;
  }

  // ---- run ----------------------------------------------------------------------------------------------------------

  private requireRun(what: string): RunState {
    if (!this.run) throw refused('NoRun', `nothing to ${what}: run a decode first`);
    return this.run;
  }

  /** The frame at timeline position `position` (cached; decoded on a miss). */
  private async frameAt(r: RunState, position: number): Promise<Frame> {
    const cached = r.frames.get(position);
    if (cached) return cached;
    const model = this.model;
    if (!model) throw refused('NoModel', 'no model is loaded');
    const last = r.steps.length;
    if (!(Number.isInteger(position) && position >= 0 && (position < last || (r.final && position === last)))) {
      throw new RangeError(`timeline position ${position} has no data yet (0..${r.final ? last : last - 1})`);
    }
    const n = r.settings.numSamples;
    const final = position === last;
    const xt = final ? r.final! : r.steps[position].xt;
    const x0Latent = final ? r.final! : r.steps[position].x0;
    const errorsBefore = this.gpuErrors;
    const images = await decodeLatents(model.engine, x0Latent, n);
    // An out-of-memory or validation error while decoding leaves garbage (often black) pixels: fail, and cache nothing.
    await this.deps.gpu.gpuSettled();
    if (this.gpuErrors !== errorsBefore && this.lastGpuError) throw failure(this.lastGpuError);
    const frame = makeFrame(position, images, xt, latentShape(model.engine.config), r.groundTruth);
    // The class the eval CNN sees in each image: optional, so a missing classifier file only hides it.
    if (r.groundTruth && this.file?.bundled) await this.addCnnClasses(frame, r.groundTruth).catch(() => undefined);
    if (final) r.frames.pin(frame);
    else r.frames.set(frame);
    return frame;
  }

  /** Adds the CNN class name (src/eval/cnn.ts, as `npm run eval` scores it) to each sample's and the mean's metrics. */
  private async addCnnClasses(frame: Frame, gt: RgbaImage): Promise<void> {
    const cnn = await this.deps.data.bundledCnn();
    const side = cnn.imageSize;
    const grey = greySamples(frame.images.data, frame.images.n, gt.height, gt.width);
    const all = [...grey, ...(grey.length > 1 ? [sampleMeanGrey(grey)] : [])];
    const batch = new Float32Array(all.length * side * side);
    all.forEach((g, i) => batch.set(toGrey(g.data, gt.height, gt.width, 1, side, side).data, i * side * side));
    const cls = await cnn.classify(batch, all.length);
    const name = (c: number): string => FASHION_MNIST_CLASSES[c] ?? `class ${c}`;
    const p = frame.preview;
    p.metrics?.forEach((m, i) => {
      m.cnnClass = name(cls[i]);
    });
    if (p.meanMetrics) p.meanMetrics.cnnClass = name(cls[all.length - 1]);
  }

  private async runDecode(args: OpArgs<'run'>): Promise<RunResult> {
    // Everything that can refuse the request is checked before the run exists.
    if (!this.model) throw refused('NoModel', 'load a model before running');
    if (!this.file) throw refused('NoFile', 'open an fMRI file before running');
    if (this.run?.active) throw refused('Busy', 'a run is already in progress');
    const model = this.model;
    const engine = model.engine;
    validateRunSettings(args.settings, engine.config.schedule.numTimesteps);
    // The model must carry what the settings use (null context, low-level decoder).
    runMode(engine, decodeOptions(args.settings));
    // The authors' uniform discretisation may run more steps than requested (S = 12 → 13); img2img runs fewer.
    const total = timelineFrames(args.settings, decodeTimesteps(engine.config, decodeOptions(args.settings)).length);
    const fmriRaw = this.modelView(this.file, args.sample).file.getSample(args.sample.index);
    const gate = new RunGate();
    const runDevice = this.deps.gpu.activeDevice?.();
    let finish!: () => void;
    const r: RunState = {
      id: args.runId,
      gate,
      settings: args.settings,
      sample: args.sample,
      steps: [],
      active: true,
      frames: new FrameCache(),
      finished: new Promise<void>((resolve) => {
        finish = resolve;
      }),
    };
    this.run = r;
    let gen: ReturnType<typeof decodeSteps> | undefined;
    let reason: RunEndReason = 'done';
    let final: StepPreview | undefined;
    try {
      r.groundTruth = await this.groundTruthFor(args.sample).catch(() => undefined);
      gate.abort.signal.throwIfAborted();
      this.deps.emit({ event: 'runStarted', runId: r.id, total, settings: args.settings, sample: args.sample });
      gen = decodeSteps(engine, fmriRaw, decodeOptions(args.settings), gate.abort.signal);
      for (;;) {
        await gate.beforeStep();
        await this.deps.beforeStep?.(r.id, r.steps.length);
        const res = await gen.next();
        if (res.done) {
          r.final = res.value;
          break;
        }
        const s = res.value;
        r.steps.push({ xt: s.xt, x0: s.x0 });
        const position = r.steps.length - 1;
        const made = await this.frameAt(r, position);
        // A GPU error raised by the sampler step makes its images garbage too; a cancel that came meanwhile means
        // the caller no longer wants this run's events.
        if (r.failure || gate.abort.signal.aborted) break;
        const { preview, transfer } = cloneForTransfer(made.preview);
        this.deps.emit({ event: 'step', runId: r.id, step: { kind: s.kind, index: position, total, t: s.t, ms: s.ms }, preview }, transfer);
      }
      if (gate.abort.signal.aborted) throw new RunCancelled();
      // Done means done: the final image, its scores, mean and sd map are made before the run answers, while the
      // model is still guaranteed to be this run's (a model load waits for `finished`).
      final = (await this.frameAt(r, r.steps.length)).preview;
    } catch (e) {
      // A failure caused by a lost device is reported as that, not as the readback's own error ("Buffer was
      // unmapped…"); a user's cancel is not waited on (a loss cancels the run after setting webGpuLost).
      const userCancel = e instanceof RunCancelled || gate.abort.signal.aborted;
      const lost = runDevice && (this.webGpuLost || !userCancel) ? await this.deps.gpu.deviceLossError?.(runDevice, e) : undefined;
      if (lost) {
        r.failure ??= lost;
        // Recover now rather than when device.lost settles (seconds later on a busy software adapter).
        if (!this.webGpuLost) void this.onDeviceLost(lost.message);
      } else if (!userCancel) {
        throw e;
      } else {
        reason = 'cancelled';
      }
    } finally {
      r.active = false;
      // Whatever ended the loop (cancel, OOM while decoding a preview), the sampler's tensors are released.
      await gen?.return(undefined as never).catch(() => undefined);
      finish();
    }
    if (r.failure) throw failure(r.failure);
    return { reason, steps: r.steps.length, ...(reason === 'done' && final ? { final } : {}) };
  }

  // ---- explanation views (issue 14; the logic is in src/explain/studio.ts) --------------------------------------------

  private explained: (RunExplainer & { engine: EngineModel }) | null = null;
  private cfAbort: AbortController | null = null;

  /** Attention maps and voxel importance of a timeline position of the run on screen. */
  private async explain(a: OpArgs<'explain'>): Promise<OpResult<'explain'>> {
    if (!this.model || !this.file || !this.run) throw refused('NoRun', 'run the sampler first: the maps explain the shown run');
    const r = this.run,
      engine = this.model.engine,
      view = this.modelView(this.file, r.sample).file;
    if (!this.explained || this.explained.runId !== r.id || this.explained.engine !== engine) {
      this.explained?.explainer.dispose();
      this.explained = null;
      this.explained = { ...(await runExplainer(engine, view, r.id, view.getSample(r.sample.index), r.settings.numSamples)), engine };
    }
    // The reader's coordinates of the sample's voxels (a NIfTI / mask grid, or a GOD .npz's voxel_xyz): the brain slice.
    return explainPosition(engine, this.explained, decodeOptions(r.settings), r.steps, a, view.coords);
  }

  /** The run's sample decoded with an edited fMRI (lesion, ROI-only, control, other trial, interpolation) on the same seed. */
  private async counterfactual(a: OpArgs<'counterfactual'>): Promise<OpResult<'counterfactual'>> {
    if (!this.model || !this.file || !this.run)
      throw refused('NoRun', 'run the sampler first: a counterfactual is decoded beside the shown run');
    if (this.run.active)
      throw refused('Busy', 'the run is still going: wait for it to finish (or cancel it) before decoding a counterfactual');
    if (this.cfAbort) throw refused('Busy', 'a counterfactual is already being decoded');
    const abort = new AbortController();
    this.cfAbort = abort;
    try {
      const r = this.run;
      return await counterfactualPair(
        this.model.engine,
        this.modelView(this.file, r.sample).file,
        r.sample.index,
        decodeOptions(r.settings),
        a,
        abort.signal,
      );
    } finally {
      this.cfAbort = null;
    }
  }

  // ---- export -------------------------------------------------------------------------------------------------------

  private async exportImage(args: OpArgs<'export'>): Promise<ExportResult> {
    const r = this.requireRun('export');
    const n = r.settings.numSamples;
    const lowLevelFrame = (p: number): boolean => p === 0 && r.settings.init === 'lowlevel';
    if (args.format === 'gif') {
      if (!(typeof args.sample === 'number' && Number.isInteger(args.sample) && args.sample >= 0 && args.sample < n)) {
        throw new ExportError(`a trajectory GIF needs a sample 1..${n} (got ${String(args.sample)})`);
      }
      // Every position of the trajectory (decoded x̂₀), then the final image held for a second.
      const last = r.final ? r.steps.length : r.steps.length - 1;
      const frames: RgbaImage[] = [];
      for (let p = 0; p <= last; p++) frames.push((await this.frameAt(r, p)).preview.x0[args.sample]);
      return {
        fileName: `${args.baseName}-trajectory-sample${args.sample}.gif`,
        mime: 'image/gif',
        bytes: trajectoryGif(frames, lowLevelFrame),
      };
    }
    const frame = await this.frameAt(r, args.position);
    const p = frame.preview;
    // Frame 0 of a low-level start is not a sampler step: name it for what it shows.
    const where =
      r.final && args.position === r.steps.length ? 'final' : lowLevelFrame(args.position) ? 'lowlevel-start' : `step${args.position}`;
    if (args.format === 'sheet') {
      const notes = [
        this.model?.info.syntheticLabel,
        this.file?.info.syntheticLabel ? `DATA: ${this.file.info.syntheticLabel}` : undefined,
      ].filter((x): x is string => !!x);
      const { tiles, legend } = sheetTiles(p, r.groundTruth, notes);
      return {
        fileName: `${args.baseName}-${where}-sheet-x${args.scale}.png`,
        mime: 'image/png',
        bytes: sheetPng(tiles, legend, args.scale),
      };
    }
    let img: RgbaImage | undefined;
    let what: string;
    if (args.sample === 'mean' || args.sample === 'std') {
      img = args.sample === 'mean' ? p.mean : p.std;
      if (!img)
        throw new ExportError(`the ${args.sample === 'mean' ? 'mean image' : 'sd map'} needs 2 or more samples (this run drew ${n})`);
      what = args.sample === 'mean' ? `mean${n}` : `sd${n}`;
    } else {
      if (!(Number.isInteger(args.sample) && args.sample >= 0 && args.sample < n))
        throw new ExportError(`sample ${args.sample + 1} does not exist (the run drew ${n})`);
      img = p.x0[args.sample];
      what = `sample${args.sample}`;
    }
    return { fileName: `${args.baseName}-${where}-${what}-x${args.scale}.png`, mime: 'image/png', bytes: pngAtScale(img, args.scale) };
  }
}
