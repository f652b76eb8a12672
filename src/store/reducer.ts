// Studio state and its pure reducer. The zustand store (./studio.ts) only applies these actions, so
// every transition is testable in Node without React or a worker.
import { DEFAULT_EXPORT_SCALE, EXPORT_SCALES } from '../engine/protocol';
import type {
  BackendInfo,
  EngineError,
  FileInfo,
  ModelInfo,
  ReadPhase,
  RunEndReason,
  RunSettings,
  SampleInfo,
  SampleRef,
  SavedModel,
  StepMeta,
  StepPreview,
} from '../engine/protocol';
import type { DecodeReceipt } from '../engine/receipt';
import { DEFAULT_RUN_SETTINGS, normaliseSettings } from '../engine/settings';
import type { CounterfactualView } from '../engine/protocol';
import { describeEdit, type CounterfactualEdit } from '../explain/counterfactual';
import {
  formFromEdit,
  idleCounterfactual,
  initialCounterfactual,
  replayMatches,
  replayOfReceipt,
  type CounterfactualForm,
  type CounterfactualState,
} from './counterfactual';

export type Status = 'idle' | 'busy' | 'ready' | 'error';
/** 'error': a started run failed (a request refused before it started is `refusal`, and leaves the last run as it was). */
export type RunStatus = 'idle' | 'running' | 'paused' | 'done' | 'cancelled' | 'error';

export interface StudioState {
  backend: { status: Status; info?: BackendInfo; error?: EngineError; deviceLost?: string };
  model: {
    status: Status;
    label?: string;
    progress?: { done: number; total: number };
    info?: ModelInfo;
    error?: EngineError;
    /** sha256 of the model being reloaded after a device loss: the same model, so its run (and failure) stays on screen. */
    reloading?: string;
  };
  saved: SavedModel[];
  /** `progress`: the read's current phase (bytes; then, for a masked 4-D HDF5 series, its volumes) and how far it is. */
  file: {
    status: Status;
    name?: string;
    info?: FileInfo;
    error?: EngineError;
    progress?: { phase: ReadPhase; done: number; total: number };
  };
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
    /** The final frame (image, metrics, mean, sd map), set with the Done state; kept for receipts and the final position. */
    final?: StepPreview;
  };
  /** Timeline position: step index, or steps.length for the final latent once the run is done. */
  position: number;
  /** Position follows the newest step while running (until the user scrubs away). */
  follow: boolean;
  /**
   * The images on screen, for `preview.position` (it may lag `position` while the engine answers). The engine keeps
   * the only cache of frames; the store keeps what is shown.
   */
  preview?: StepPreview;
  /**
   * Why the engine turned down the last run request before it started (bad settings, a model without what they need).
   * Shown as an error until the next run starts or the inputs change; the previous run's images stay.
   */
  refusal?: EngineError;
  /** Nearest-neighbour factor of PNG and sheet exports (EXPORT_SCALES). */
  exportScale: number;
  /**
   * sha256 of the model a dropped receipt was made with, while another (or none) is loaded: loading that model
   * keeps the receipt's settings instead of switching to the model's defaults.
   */
  receiptModel?: string;
  /** Settings from a dropped receipt that the loaded model/file do not match. */
  notice?: { kind: 'info' | 'warning' | 'error'; text: string };
  /** Issue 14: the Explain panel's counterfactual form, its result for the run on screen, a receipt's waiting replay. */
  cf: CounterfactualState;
}

/** The studio's settings before a model brings its own: the same defaults as the CLIs (src/engine/settings.ts). */
export const DEFAULT_SETTINGS: RunSettings = { ...DEFAULT_RUN_SETTINGS };

// Settings rules and limits live in src/engine/settings.ts; re-exported for the store's users.
export { normaliseSettings } from '../engine/settings';

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
  exportScale: DEFAULT_EXPORT_SCALE,
  cf: initialCounterfactual,
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
  /** The fMRI input's read so far (issue 13): bytes, then a masked 4-D HDF5 series' values (volumes × voxels). */
  | { type: 'fileProgress'; phase: ReadPhase; done: number; total: number }
  | { type: 'sampleLoading'; ref: SampleRef }
  | { type: 'sampleReady'; info: SampleInfo }
  | { type: 'sampleFailed'; ref: SampleRef; error: EngineError }
  | { type: 'settings'; patch: Partial<RunSettings> }
  | { type: 'runStarted'; runId: number; total: number; settings: RunSettings; sample: SampleRef }
  | { type: 'step'; runId: number; step: StepMeta; preview: StepPreview }
  | { type: 'paused' }
  | { type: 'resumed' }
  /** `final`: the final frame of a run that is done, shown with the Done state. */
  | { type: 'runEnded'; runId: number; reason: RunEndReason; error?: EngineError; final?: StepPreview }
  | { type: 'runFailed'; runId: number; error: EngineError }
  | { type: 'position'; position: number }
  /** Images of a position the engine answered for run `runId`. */
  | { type: 'preview'; runId: number; preview: StepPreview }
  | { type: 'receipt'; receipt: DecodeReceipt }
  | { type: 'notice'; notice?: StudioState['notice'] }
  | { type: 'exportScale'; scale: number }
  /** Issue 14: the counterfactual form edited; a decode of run `runId`'s sample with an edit started, answered, failed. */
  | { type: 'cfForm'; patch: Partial<CounterfactualForm> }
  | { type: 'cfStarted'; runId: number }
  | { type: 'cfDone'; runId: number; view: CounterfactualView }
  | { type: 'cfFailed'; runId: number; error: string };

const clampInt = (v: number, lo: number, hi: number, fallback: number): number =>
  Number.isFinite(v) ? Math.min(hi, Math.max(lo, Math.round(v))) : fallback;

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
  if (caps && !caps.lowLevel) {
    s.init = 'noise';
    s.strength = 1;
  }
  if (caps && !caps.nullContext) s.guidance = 1;
  return normaliseSettings(s);
}

/** Highest timeline position that has data: the newest step, or the final latent after a finished run. */
export function lastPosition(run: StudioState['run']): number {
  if (run.steps.length === 0) return 0;
  return run.status === 'done' ? run.steps.length : run.steps.length - 1;
}

export function sameRef(a: SampleRef | undefined, b: SampleRef): boolean {
  return !!a && a.split === b.split && a.index === b.index && (a.roi ?? '') === (b.roi ?? '');
}

export function runActive(run: StudioState['run']): boolean {
  return run.status === 'running' || run.status === 'paused';
}

/**
 * No run on screen, nor a counterfactual of it. The last run's id stays, so its late events are still recognised
 * as stale.
 */
function clearedRun(state: StudioState): Pick<StudioState, 'run' | 'position' | 'follow' | 'preview' | 'cf'> {
  const run: StudioState['run'] = { status: 'idle', total: 0, steps: [], ...(state.run.id !== undefined ? { id: state.run.id } : {}) };
  return { run, position: 0, follow: true, preview: undefined, cf: idleCounterfactual(state.cf) };
}

/**
 * A new run and a receipt's waiting counterfactual: it stays for a run of the receipt's model, file, sample and
 * settings (decoded beside it once done, see dueReplay); any other run drops it, and the notice says why.
 */
function startedWithReplay(state: StudioState, settings: RunSettings, sample: SampleRef): Pick<StudioState, 'cf' | 'notice'> {
  const cf = idleCounterfactual(state.cf);
  const r = cf.replay;
  if (!r) return { cf, notice: undefined };
  const on = { modelSha256: state.model.info?.sha256, fmriSha256: state.file.info?.sha256, sample, settings };
  if (replayMatches(r, on)) return { cf, notice: undefined };
  return {
    cf: { form: cf.form, status: 'idle' },
    notice: {
      kind: 'warning',
      text: `The receipt's counterfactual (${describeEdit(r.edit)}) is not decoded beside this run: its model, file, sample or settings differ from the receipt's.`,
    },
  };
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
        model: state.model.info ? { status: 'busy', label: state.model.info.label, reloading: state.model.info.sha256 } : state.model,
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
      const changed = (state.model.info?.sha256 ?? state.model.reloading) !== a.info.sha256;
      // A new model brings its own defaults, unless a receipt made with it has set the settings.
      const fromReceipt = state.receiptModel === a.info.sha256;
      const settings = settingsForModel(state.settings, a.info, changed && !fromReceipt);
      return {
        ...state,
        model: { status: 'ready', label: a.info.label, info: a.info },
        settings,
        receiptModel: fromReceipt ? undefined : state.receiptModel,
        ...(changed ? clearedRun(state) : {}),
      };
    }
    case 'modelFailed':
      // The worker keeps the previous model when a load fails or is cancelled.
      return {
        ...state,
        model: { status: state.model.info ? 'ready' : 'error', label: state.model.info?.label, info: state.model.info, error: a.error },
      };
    case 'savedList':
      return { ...state, saved: a.saved };
    case 'fileReading':
      return { ...state, file: { status: 'busy', name: a.name }, sample: { status: 'idle' }, ...clearedRun(state), refusal: undefined };
    case 'fileReady':
      return { ...state, file: { status: 'ready', name: a.info.name, info: a.info } };
    case 'fileFailed':
      return { ...state, file: { status: 'error', name: a.name, error: a.error } };
    case 'fileProgress':
      // Only while a read is in progress: a late event must not revive a finished or failed one.
      return state.file.status === 'busy'
        ? { ...state, file: { ...state.file, progress: { phase: a.phase, done: a.done, total: a.total } } }
        : state;
    case 'sampleLoading':
      return { ...state, sample: { status: 'busy', ref: a.ref, info: state.sample.info }, ...clearedRun(state), refusal: undefined };
    // Answers for a sample the user has already moved away from are dropped.
    case 'sampleReady':
      return sameRef(state.sample.ref, a.info.ref) ? { ...state, sample: { status: 'ready', ref: a.info.ref, info: a.info } } : state;
    case 'sampleFailed':
      return sameRef(state.sample.ref, a.ref) ? { ...state, sample: { status: 'error', ref: a.ref, error: a.error } } : state;
    case 'settings':
      return { ...state, settings: normaliseSettings({ ...state.settings, ...a.patch }), refusal: undefined };
    case 'runStarted':
      if (state.run.id !== undefined && a.runId < state.run.id) return state;
      return {
        ...state,
        ...clearedRun(state),
        run: { id: a.runId, status: 'running', total: a.total, steps: [], settings: a.settings, sample: a.sample },
        ...startedWithReplay(state, a.settings, a.sample),
        refusal: undefined,
      };
    case 'step': {
      // Steps of a run the user has moved away from (new file, new sample) are stale.
      if (a.runId !== state.run.id || !runActive(state.run)) return state;
      const steps = [...state.run.steps, a.step];
      const next = { ...state, run: { ...state.run, total: a.step.total, steps } };
      // Scrubbed away: the step's images are not on screen (the engine keeps them for when the user comes back).
      return state.follow ? { ...next, position: steps.length - 1, preview: a.preview } : next;
    }
    case 'paused':
      return state.run.status === 'running' ? { ...state, run: { ...state.run, status: 'paused' } } : state;
    case 'resumed':
      return state.run.status === 'paused' ? { ...state, run: { ...state.run, status: 'running' } } : state;
    case 'runEnded': {
      if (a.runId !== state.run.id || !runActive(state.run)) return state;
      const status: RunStatus = a.reason === 'done' ? 'done' : a.reason === 'cancelled' ? 'cancelled' : 'error';
      const run = {
        ...state.run,
        status,
        ...(a.error ? { error: a.error } : {}),
        ...(status === 'done' && a.final ? { final: a.final } : {}),
      };
      const position = state.follow && status === 'done' ? lastPosition(run) : Math.min(state.position, lastPosition(run));
      // Done means done: the final image and its metrics arrive with the state, not after it.
      const preview = run.final && position === run.final.position ? run.final : state.preview;
      return { ...state, run, position, preview };
    }
    case 'runFailed':
      // The failure of the run on screen, or of a newer one that never started (bad settings): shown. A
      // run that already ended or was cleared is stale. A newer run refused while another runs is a notice.
      if (state.run.id !== undefined && (a.runId < state.run.id || (a.runId === state.run.id && !runActive(state.run)))) return state;
      if (a.runId !== state.run.id && runActive(state.run))
        return { ...state, notice: { kind: 'error', text: `Run refused — ${a.error.code}: ${a.error.message}` } };
      // A run that never started was refused (its settings, the model's abilities): the last run's images stay.
      if (a.runId !== state.run.id) return { ...state, refusal: a.error };
      {
        // The timeline must not point past the failed run's last step (it read "step 2 of 1").
        const run = { ...state.run, status: 'error' as const, error: a.error };
        return { ...state, run, position: Math.min(state.position, lastPosition(run)) };
      }
    case 'position': {
      const last = lastPosition(state.run);
      const position = clampInt(a.position, 0, last, 0);
      const final = state.run.final?.position === position ? state.run.final : undefined;
      return { ...state, position, follow: position === last, ...(final ? { preview: final } : {}) };
    }
    case 'preview':
      // Only the answer for the position on screen, of the run on screen, is shown; late answers are dropped.
      return a.runId === state.run.id && a.preview.position === state.position ? { ...state, preview: a.preview } : state;
    case 'receipt': {
      const r = a.receipt;
      const settings = normaliseSettings({
        sampler: r.sampler,
        steps: r.steps,
        eta: r.eta,
        seed: r.seed,
        numSamples: r.numSamples,
        init: r.init,
        strength: r.strength,
        guidance: r.guidance,
      });
      const problems: string[] = [];
      const model = state.model.info;
      if (!model) problems.push(`load model ${r.model.name} (sha256 ${r.model.sha256.slice(0, 12)}…)`);
      else if (model.sha256 !== r.model.sha256)
        problems.push(
          `the loaded model's sha256 ${model.sha256.slice(0, 12)}… differs from the receipt's ${r.model.sha256.slice(0, 12)}… (${r.model.name})`,
        );
      const file = state.file.info;
      if (!file) problems.push(`open ${r.fmri.fileName} (sha256 ${r.fmri.sha256.slice(0, 12)}…)`);
      else if (file.sha256 !== r.fmri.sha256) problems.push(`the open fMRI file's sha256 differs from the receipt's ${r.fmri.fileName}`);
      // Issue 14: a counterfactual is restored in the Explain panel's form and decoded once the replayed run is done.
      const { replay, problem } = replayOfReceipt(r, settings);
      if (problem) problems.push(problem);
      const cfText = replay ? ` The counterfactual (${describeEdit(replay.edit)}) is decoded beside it once it is done.` : '';
      const text = problems.length
        ? `Receipt settings applied. To replay it exactly: ${problems.join('; ')}.${cfText}`
        : `Receipt settings applied (${r.fmri.split} sample ${r.fmri.sampleIndex}). Press Run to replay.${cfText}`;
      const cf = r.counterfactual ? { ...state.cf, form: formFromEdit(r.counterfactual, state.cf.form) } : state.cf;
      return {
        ...state,
        settings,
        receiptModel: model?.sha256 === r.model.sha256 ? undefined : r.model.sha256,
        notice: { kind: problems.length ? 'warning' : 'info', text },
        // A receipt without a counterfactual also drops one an earlier receipt left waiting.
        cf: { ...cf, replay },
      };
    }
    case 'notice':
      return { ...state, notice: a.notice };
    case 'exportScale':
      return (EXPORT_SCALES as readonly number[]).includes(a.scale) ? { ...state, exportScale: a.scale } : state;
    case 'cfForm':
      return { ...state, cf: { ...state.cf, form: { ...state.cf.form, ...a.patch } } };
    case 'cfStarted':
      // Only for the run on screen; a started decode is the replay, if one was waiting.
      if (a.runId !== state.run.id) return state;
      return {
        ...state,
        cf: {
          form: state.cf.form,
          status: 'busy',
          runId: a.runId,
          ...(state.cf.runId === a.runId && state.cf.view ? { view: state.cf.view } : {}),
        },
      };
    case 'cfDone': {
      if (a.runId !== state.cf.runId || state.cf.status !== 'busy') return state;
      // The engine skips the original when this run's is on screen already (skipOriginal): keep that one.
      const kept = state.cf.view?.original;
      const view = a.view.original.length === 0 && kept ? { ...a.view, original: kept } : a.view;
      return { ...state, cf: { form: state.cf.form, status: 'done', runId: a.runId, view } };
    }
    case 'cfFailed':
      if (a.runId !== state.cf.runId || state.cf.status !== 'busy') return state;
      return { ...state, cf: { ...state.cf, status: 'error', error: a.error } };
  }
}

/**
 * The edit of a dropped receipt to decode now: its run is on screen and done (runStarted dropped the replay of any
 * other run; the check is repeated for a model or file that changed since). The controller asks for it after each run.
 */
export function dueReplay(state: StudioState): CounterfactualEdit | undefined {
  const r = state.cf.replay;
  if (!r || state.run.status !== 'done' || state.run.id === undefined || state.cf.status === 'busy') return undefined;
  const on = {
    modelSha256: state.model.info?.sha256,
    fmriSha256: state.file.info?.sha256,
    sample: state.run.sample,
    settings: state.run.settings,
  };
  return replayMatches(r, on) ? r.edit : undefined;
}

/** The counterfactual result of the run on screen (a result of an earlier run is never shown). */
export function counterfactualShown(state: Pick<StudioState, 'cf' | 'run'>): CounterfactualView | undefined {
  return state.cf.runId !== undefined && state.cf.runId === state.run.id ? state.cf.view : undefined;
}

/** Whether the preview on screen is the one for the timeline position (it lags while the engine answers). */
export function previewShown(state: Pick<StudioState, 'preview' | 'position'>): StepPreview | undefined {
  return state.preview?.position === state.position ? state.preview : undefined;
}

/** A status message and whether it reads as an error (shown with role="alert") or as information. */
export interface StatusLine {
  tone: 'info' | 'error';
  text: string;
}

/**
 * What stops a run from starting now, in the user's terms, or null when nothing does: the first blocker in the order
 * the user has to clear them (backend, model, file, sample, the sample against the model, a run in progress). Things
 * that failed are errors; things still to do or under way are information.
 */
export function runBlocker(state: StudioState): StatusLine | null {
  const { backend, model, file, sample } = state;
  const info = (text: string): StatusLine => ({ tone: 'info', text });
  const error = (text: string, e?: EngineError): StatusLine => ({
    tone: 'error',
    text: `${text} — ${e?.code ?? 'Error'}: ${e?.message ?? 'unknown error'}`,
  });
  if (backend.status === 'busy') return info('Starting the compute backend…');
  if (backend.status === 'error') return error('No compute backend', backend.error);
  if (model.status === 'busy') return info(model.label ? `Loading model ${model.label}…` : 'Loading the model…');
  if (!model.info) return model.error ? error('No model: loading failed', model.error) : info('Load a model (Model panel).');
  if (file.status === 'busy') return info(`Reading ${file.name ?? 'the fMRI file'}…`);
  if (file.status === 'error') return error(`The fMRI file ${file.name ?? ''} was rejected`, file.error);
  if (!file.info) return info('Open an fMRI file or one of the bundled samples (Data panel).');
  if (sample.status === 'busy') return info('Reading the sample…');
  if (sample.status === 'error') return error('The sample was rejected', sample.error);
  if (!sample.info) return info('Choose a sample (Data panel).');
  const pe = sample.info.preprocessError;
  if (pe) {
    const roi = sample.info.roi ?? sample.info.ref.roi;
    return error(`The model cannot take this sample (${sample.info.voxelCount} voxels${roi ? `, ROI ${roi}` : ''})`, pe);
  }
  if (runActive(state.run)) return info('A run is in progress.');
  return null;
}

/** The run status line: what the run is doing or how it ended, and whether it reads as an error. */
export function runStatusLine(state: StudioState): StatusLine {
  const { run } = state;
  // The low-level start is timeline frame 0, not a sampler step: counts are sampler steps.
  const initFrame = run.steps[0]?.kind === 'init' || run.settings?.init === 'lowlevel' ? 1 : 0;
  const done = Math.max(0, run.steps.length - initFrame);
  const total = Math.max(0, run.total - initFrame);
  const startNote = initFrame ? ' after the low-level start' : '';
  const err = run.error ? `${run.error.code}: ${run.error.message}` : 'unknown error';
  if (state.refusal && !runActive(run)) return { tone: 'error', text: `Run refused — ${state.refusal.code}: ${state.refusal.message}` };
  switch (run.status) {
    case 'idle':
      return runBlocker(state) ?? { tone: 'info', text: 'Ready to run.' };
    case 'running':
    case 'paused':
      return {
        tone: 'info',
        text: `${run.status === 'paused' ? 'Paused' : 'Running'}: ${done === 0 && initFrame && run.steps.length ? 'low-level start' : `step ${done} of ${total}${startNote}`}`,
      };
    case 'done': {
      const m = run.final?.metrics;
      const mean = run.final?.meanMetrics;
      const scores = m?.length
        ? ` · PCC ${m.map((x) => x.pcc.toFixed(3)).join(', ')}${mean ? ` (mean image ${mean.pcc.toFixed(3)})` : ''}`
        : '';
      return { tone: 'info', text: `Done: ${done} step${done === 1 ? '' : 's'}${startNote}${scores}` };
    }
    case 'cancelled':
      return { tone: 'info', text: `Cancelled after ${done} of ${total} steps${startNote}` };
    case 'error':
      return { tone: 'error', text: `Run failed after ${done} of ${total} steps${startNote} — ${err}` };
  }
}
