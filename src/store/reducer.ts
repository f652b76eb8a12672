// Studio state and its pure reducer. The zustand store (./studio.ts) only applies these actions, so
// every transition is testable in Node without React or a worker.
import type {
  BackendInfo, EngineError, FileInfo, ModelInfo, RunEndReason, RunSettings, SampleInfo, SampleRef, SavedModel, StepMeta, StepPreview,
} from '../engine/protocol';
import { MAX_SAMPLES, MAX_SEED, type DecodeReceipt } from '../engine/receipt';

export type Status = 'idle' | 'busy' | 'ready' | 'error';
export type RunStatus = 'idle' | 'running' | 'paused' | 'done' | 'cancelled' | 'error';

export interface StudioState {
  backend: { status: Status; info?: BackendInfo; error?: EngineError; deviceLost?: string };
  model: { status: Status; label?: string; progress?: { done: number; total: number }; info?: ModelInfo; error?: EngineError };
  saved: SavedModel[];
  file: { status: Status; name?: string; info?: FileInfo; error?: EngineError; progress?: { done: number; total: number } };
  sample: { status: Status; ref?: SampleRef; info?: SampleInfo; error?: EngineError };
  settings: RunSettings;
  run: {
    /** The controller's id of the run shown (events of any other run are stale). */
    id?: number;
    status: RunStatus;
    total: number;
    steps: StepMeta[];
    settings?: RunSettings;
    sample?: SampleRef;
    error?: EngineError;
  };
  /** Timeline position: step index, or steps.length for the final latent once the run is done. */
  position: number;
  /** Position follows the newest step while running (until the user scrubs away). */
  follow: boolean;
  /** Decoded previews by position, most recently used last. */
  previews: Record<number, StepPreview>;
  previewOrder: number[];
  /**
   * sha256 of the model a dropped receipt was made with, while another (or none) is loaded: loading that model
   * keeps the receipt's settings instead of switching to the model's defaults.
   */
  receiptModel?: string;
  /** Settings from a dropped receipt that the loaded model/file do not match. */
  notice?: { kind: 'info' | 'warning' | 'error'; text: string };
}

/** How many positions' previews the main thread keeps (the worker keeps its own cache). */
export const PREVIEW_CACHE = 96;

export const DEFAULT_SETTINGS: RunSettings = {
  sampler: 'ddim', steps: 5, eta: 0, seed: 0, numSamples: 2, init: 'noise', strength: 1, guidance: 1,
};

/** Largest guidance scale the studio offers (the engine takes any finite g ≥ 0). */
export const MAX_GUIDANCE = 20;

export const initialState: StudioState = {
  backend: { status: 'busy' },
  model: { status: 'idle' },
  saved: [],
  file: { status: 'idle' },
  sample: { status: 'idle' },
  settings: DEFAULT_SETTINGS,
  run: { status: 'idle', total: 0, steps: [] },
  position: 0,
  follow: true,
  previews: {},
  previewOrder: [],
};

export type Action =
  | { type: 'backendReady'; info: BackendInfo }
  | { type: 'backendFailed'; error: EngineError }
  | { type: 'deviceLost'; message: string; info: BackendInfo }
  /** The engine is unusable (worker crashed, no backend after a device loss). */
  | { type: 'engineFailed'; error: EngineError }
  | { type: 'modelLoading'; label: string }
  | { type: 'loadProgress'; done: number; total: number }
  | { type: 'modelReady'; info: ModelInfo }
  | { type: 'modelFailed'; error: EngineError }
  | { type: 'savedList'; saved: SavedModel[] }
  | { type: 'fileReading'; name: string }
  | { type: 'fileReady'; info: FileInfo }
  | { type: 'fileFailed'; name: string; error: EngineError }
  /** Bytes of the fMRI input read so far (issue 13). */
  | { type: 'fileProgress'; done: number; total: number }
  | { type: 'sampleLoading'; ref: SampleRef }
  | { type: 'sampleReady'; info: SampleInfo }
  | { type: 'sampleFailed'; ref: SampleRef; error: EngineError }
  | { type: 'settings'; patch: Partial<RunSettings> }
  | { type: 'runStarted'; runId: number; total: number; settings: RunSettings; sample: SampleRef }
  | { type: 'step'; runId: number; step: StepMeta; preview: StepPreview }
  | { type: 'paused' }
  | { type: 'resumed' }
  | { type: 'runEnded'; runId: number; reason: RunEndReason; error?: EngineError }
  | { type: 'runFailed'; runId: number; error: EngineError }
  | { type: 'position'; position: number }
  | { type: 'preview'; preview: StepPreview }
  | { type: 'receipt'; receipt: DecodeReceipt }
  | { type: 'notice'; notice?: StudioState['notice'] };

const clampInt = (v: number, lo: number, hi: number, fallback: number): number =>
  Number.isFinite(v) ? Math.min(hi, Math.max(lo, Math.round(v))) : fallback;

/**
 * Settings the engine accepts: integers in range; PLMS forces eta 0 (the authors' sampler refuses others);
 * strength in (0, 1] and 1 unless init is 'lowlevel' (choosing init 'noise' resets it); guidance in
 * [0, MAX_GUIDANCE]. Missing img2img / guidance fields (older receipts, older state) get the defaults.
 */
export function normaliseSettings(s: RunSettings): RunSettings {
  const eta = s.sampler === 'plms' ? 0 : Number.isFinite(s.eta) ? Math.min(1, Math.max(0, s.eta)) : 0;
  const init = s.init === 'lowlevel' ? 'lowlevel' : 'noise';
  const strength = init === 'noise' ? 1 : Number.isFinite(s.strength) ? Math.min(1, Math.max(0.01, s.strength)) : 1;
  const guidance = Number.isFinite(s.guidance) ? Math.min(MAX_GUIDANCE, Math.max(0, s.guidance)) : 1;
  return {
    sampler: s.sampler === 'plms' ? 'plms' : 'ddim',
    steps: clampInt(s.steps, 1, 1000, DEFAULT_SETTINGS.steps),
    eta,
    seed: clampInt(s.seed, 0, MAX_SEED, 0),
    numSamples: clampInt(s.numSamples, 1, MAX_SAMPLES, 1),
    init,
    strength,
    guidance,
  };
}

/**
 * The run settings once `info` is loaded. With `adopt` (a newly loaded model) and a model that carries training-time
 * defaults (config.sampling: the sampler, steps, init, strength and guidance its training command chose on
 * validation data), those five; otherwise `current` unchanged. Either way made runnable on the model: init
 * 'noise' (strength 1) without a low-level decoder, guidance 1 without a null context. Seed, eta and samples
 * stay the user's (eta 0 under PLMS).
 */
export function settingsForModel(current: RunSettings, info: ModelInfo, adopt: boolean): RunSettings {
  const d = adopt ? info.config?.sampling : undefined;
  const s: RunSettings = d
    ? { ...current, sampler: d.sampler, steps: d.steps, init: d.init, strength: d.strength, guidance: d.guidance }
    : { ...current };
  // capabilities is absent only on ModelInfo objects older than it: nothing is known to be missing then.
  const caps = info.capabilities;
  if (caps && !caps.lowLevel) { s.init = 'noise'; s.strength = 1; }
  if (caps && !caps.nullContext) s.guidance = 1;
  return normaliseSettings(s);
}

/** Highest timeline position that has data: the newest step, or the final latent after a finished run. */
export function lastPosition(run: StudioState['run']): number {
  if (run.steps.length === 0) return 0;
  return run.status === 'done' ? run.steps.length : run.steps.length - 1;
}

function cachePreview(state: StudioState, p: StepPreview): Pick<StudioState, 'previews' | 'previewOrder'> {
  const order = state.previewOrder.filter((x) => x !== p.position);
  order.push(p.position);
  const previews = { ...state.previews, [p.position]: p };
  while (order.length > PREVIEW_CACHE) {
    const evicted = order.shift()!;
    // Keep what is on screen.
    if (evicted === state.position) { order.push(evicted); continue; }
    delete previews[evicted];
  }
  return { previews, previewOrder: order };
}

export function sameRef(a: SampleRef | undefined, b: SampleRef): boolean {
  return !!a && a.split === b.split && a.index === b.index && (a.roi ?? '') === (b.roi ?? '');
}

export function runActive(run: StudioState['run']): boolean {
  return run.status === 'running' || run.status === 'paused';
}

/** No run on screen. The last run's id stays, so its late events are still recognised as stale. */
function clearedRun(state: StudioState): Pick<StudioState, 'run' | 'position' | 'follow' | 'previews' | 'previewOrder'> {
  const run: StudioState['run'] = { status: 'idle', total: 0, steps: [], ...(state.run.id !== undefined ? { id: state.run.id } : {}) };
  return { run, position: 0, follow: true, previews: {}, previewOrder: [] };
}

export function reduce(state: StudioState, a: Action): StudioState {
  switch (a.type) {
    case 'backendReady':
      return { ...state, backend: { status: 'ready', info: a.info, deviceLost: state.backend.deviceLost } };
    case 'backendFailed':
      return { ...state, backend: { status: 'error', error: a.error } };
    case 'deviceLost':
      return {
        ...state,
        backend: { status: 'ready', info: a.info, deviceLost: a.message },
        // Tensors of the lost device are gone: the model reloads (or, failing that, none is loaded) and any run stopped.
        model: state.model.info ? { status: 'busy', label: state.model.info.label } : state.model,
        run: runActive(state.run) ? { ...state.run, status: 'error', error: { code: 'DeviceLost', message: a.message } } : state.run,
      };
    case 'engineFailed':
      return {
        ...state,
        backend: { ...state.backend, status: 'error', error: a.error },
        model: state.model.status === 'busy' ? { ...state.model, status: 'error', error: a.error } : state.model,
        run: runActive(state.run) ? { ...state.run, status: 'error', error: a.error } : state.run,
      };
    case 'modelLoading':
      return { ...state, model: { status: 'busy', label: a.label, progress: { done: 0, total: 0 }, info: state.model.info } };
    case 'loadProgress':
      return state.model.status === 'busy' ? { ...state, model: { ...state.model, progress: { done: a.done, total: a.total } } } : state;
    case 'modelReady': {
      // Another model cannot decode the old run's latents: the worker drops that run too.
      const changed = state.model.info?.sha256 !== a.info.sha256;
      // A new model brings its own defaults, unless a receipt made with it has set the settings.
      const fromReceipt = state.receiptModel === a.info.sha256;
      const settings = settingsForModel(state.settings, a.info, changed && !fromReceipt);
      return {
        ...state, model: { status: 'ready', label: a.info.label, info: a.info }, settings, receiptModel: fromReceipt ? undefined : state.receiptModel,
        ...(changed ? clearedRun(state) : {}),
      };
    }
    case 'modelFailed':
      // The worker keeps the previous model when a load fails or is cancelled.
      return { ...state, model: { status: state.model.info ? 'ready' : 'error', label: state.model.info?.label, info: state.model.info, error: a.error } };
    case 'savedList':
      return { ...state, saved: a.saved };
    case 'fileReading':
      return { ...state, file: { status: 'busy', name: a.name }, sample: { status: 'idle' }, ...clearedRun(state) };
    case 'fileReady':
      return { ...state, file: { status: 'ready', name: a.info.name, info: a.info } };
    case 'fileFailed':
      return { ...state, file: { status: 'error', name: a.name, error: a.error } };
    case 'fileProgress':
      // Only while a read is in progress: a late event must not revive a finished or failed one.
      return state.file.status === 'busy' ? { ...state, file: { ...state.file, progress: { done: a.done, total: a.total } } } : state;
    case 'sampleLoading':
      return { ...state, sample: { status: 'busy', ref: a.ref, info: state.sample.info }, ...clearedRun(state) };
    // Answers for a sample the user has already moved away from are dropped.
    case 'sampleReady':
      return sameRef(state.sample.ref, a.info.ref) ? { ...state, sample: { status: 'ready', ref: a.info.ref, info: a.info } } : state;
    case 'sampleFailed':
      return sameRef(state.sample.ref, a.ref) ? { ...state, sample: { status: 'error', ref: a.ref, error: a.error } } : state;
    case 'settings':
      return { ...state, settings: normaliseSettings({ ...state.settings, ...a.patch }) };
    case 'runStarted':
      if (state.run.id !== undefined && a.runId < state.run.id) return state;
      return {
        ...state,
        ...clearedRun(state),
        run: { id: a.runId, status: 'running', total: a.total, steps: [], settings: a.settings, sample: a.sample },
        notice: undefined,
      };
    case 'step': {
      // Steps of a run the user has moved away from (new file, new sample) are stale.
      if (a.runId !== state.run.id || !runActive(state.run)) return state;
      const steps = [...state.run.steps, a.step];
      const next = { ...state, run: { ...state.run, total: a.step.total, steps }, ...cachePreview(state, a.preview) };
      return state.follow ? { ...next, position: steps.length - 1 } : next;
    }
    case 'paused':
      return state.run.status === 'running' ? { ...state, run: { ...state.run, status: 'paused' } } : state;
    case 'resumed':
      return state.run.status === 'paused' ? { ...state, run: { ...state.run, status: 'running' } } : state;
    case 'runEnded': {
      if (a.runId !== state.run.id || !runActive(state.run)) return state;
      const status: RunStatus = a.reason === 'done' ? 'done' : a.reason === 'cancelled' ? 'cancelled' : 'error';
      const run = { ...state.run, status, ...(a.error ? { error: a.error } : {}) };
      return { ...state, run, position: state.follow && status === 'done' ? lastPosition(run) : Math.min(state.position, lastPosition(run)) };
    }
    case 'runFailed':
      // The failure of the run on screen, or of a newer one that never started (bad settings): shown. A
      // run that already ended or was cleared is stale. A newer run refused while another runs is a notice.
      if (state.run.id !== undefined && (a.runId < state.run.id || (a.runId === state.run.id && !runActive(state.run)))) return state;
      if (a.runId !== state.run.id && runActive(state.run)) return { ...state, notice: { kind: 'error', text: `${a.error.code}: ${a.error.message}` } };
      return { ...state, run: { ...state.run, status: 'error', error: a.error } };
    case 'position': {
      const last = lastPosition(state.run);
      const position = clampInt(a.position, 0, last, 0);
      return { ...state, position, follow: position === last };
    }
    case 'preview':
      return { ...state, ...cachePreview(state, a.preview) };
    case 'receipt': {
      const r = a.receipt;
      const settings = normaliseSettings({
        sampler: r.sampler, steps: r.steps, eta: r.eta, seed: r.seed, numSamples: r.numSamples, init: r.init, strength: r.strength, guidance: r.guidance,
      });
      const problems: string[] = [];
      const model = state.model.info;
      if (!model) problems.push(`load model ${r.model.name} (sha256 ${r.model.sha256.slice(0, 12)}…)`);
      else if (model.sha256 !== r.model.sha256) problems.push(`the loaded model's sha256 ${model.sha256.slice(0, 12)}… differs from the receipt's ${r.model.sha256.slice(0, 12)}… (${r.model.name})`);
      const file = state.file.info;
      if (!file) problems.push(`open ${r.fmri.fileName} (sha256 ${r.fmri.sha256.slice(0, 12)}…)`);
      else if (file.sha256 !== r.fmri.sha256) problems.push(`the open fMRI file's sha256 differs from the receipt's ${r.fmri.fileName}`);
      const text = problems.length
        ? `Receipt settings applied. To replay it exactly: ${problems.join('; ')}.`
        : `Receipt settings applied (${r.fmri.split} sample ${r.fmri.sampleIndex}). Press Run to replay.`;
      return {
        ...state, settings, receiptModel: model?.sha256 === r.model.sha256 ? undefined : r.model.sha256,
        notice: { kind: problems.length ? 'warning' : 'info', text },
      };
    }
    case 'notice':
      return { ...state, notice: a.notice };
  }
}
