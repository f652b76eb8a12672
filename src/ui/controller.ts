// User intents → engine calls → store actions. The only module that talks to the worker.
import type { EngineEvent, ExportFormat, ExportTarget, ModelSourceSpec, ReadFileExtras, SampleRef } from '../engine/protocol';
import { parseReceipt, receiptToJson } from '../engine/receipt';
import { studioReceipt } from '../store/receipt';
import { counterfactualShown, dueReplay, previewShown } from '../store/reducer';
import { editFromForm } from '../store/counterfactual';
import type { CounterfactualEdit } from '../explain/counterfactual';
import { parseScale } from '../io/scale';
import { dispatch, useStudio } from '../store/studio';
import { asEngineError, EngineClient } from '../worker/client';
import { classifyDrop, type DroppedFile } from './dropped';
import { modelFromQuery } from './modelUrl';
import type { BackendInfo } from '../engine/protocol';
import type { WasmThreadsEmulation, WasmThreadsPref } from '../engine/wasmThreads';
import {
  parsePrefs,
  PREFS_STORAGE_KEY,
  withCached,
  type BackendOverride,
  type BackendPrefs,
  type CachedChoice,
} from '../engine/backendChoice';

declare const __APP_VERSION__: string;

let client: EngineClient | null = null;

function engine(): EngineClient {
  if (!client) throw new Error('engine not started');
  return client;
}

/** Issue 14: the explanation panel's maps (op 'explain'; src/ui/ExplainPanel.tsx). */
export const explainEngine = (): EngineClient => engine();

function onEvent(e: EngineEvent): void {
  switch (e.event) {
    case 'loadProgress':
      dispatch({ type: 'loadProgress', done: e.done, total: e.total });
      break;
    case 'readProgress':
      dispatch({ type: 'fileProgress', phase: e.phase, done: e.done, total: e.total });
      break;
    case 'runStarted':
      dispatch({ type: 'runStarted', runId: e.runId, total: e.total, settings: e.settings, sample: e.sample });
      break;
    case 'step':
      dispatch({ type: 'step', runId: e.runId, step: e.step, preview: e.preview });
      break;
    case 'deviceLost':
      dispatch({ type: 'deviceLost', message: e.message, info: e.backend });
      break;
    case 'modelReloaded':
      dispatch({ type: 'modelReady', info: e.model });
      break;
    case 'recoveryFailed':
      dispatch(e.stage === 'backend' ? { type: 'engineFailed', error: e.error } : { type: 'modelFailed', error: e.error });
      break;
    case 'backendChosen':
      onBackendChosen(e.backend, e.key, e.cache);
      break;
    case 'gpuError':
      dispatch({ type: 'notice', notice: { kind: 'error', text: `${e.error.code}: ${e.error.message}` } });
      break;
  }
}

export const DEFAULT_MODEL_URL = `${import.meta.env.BASE_URL}models/default/`;
export const BUNDLED_DATA_URL = `${import.meta.env.BASE_URL}data/god-synth/`;

/** Start the worker, the backend, and the embedded default model. */
export async function start(): Promise<void> {
  const worker = new Worker(new URL('../worker/engine.worker.ts', import.meta.url), { type: 'module', name: 'engine' });
  client = new EngineClient(worker, onEvent, (error) => dispatch({ type: 'engineFailed', error }));
  try {
    dispatch({
      type: 'backendReady',
      info: await engine().call('init', {
        prefer: ['webgpu', 'wasm', 'cpu'],
        choice: loadBackendPrefs(),
        testHooks: installTestHooks(),
        ...wasmThreadsFromUrl(),
        ...weightsFromUrl(),
      }),
    });
  } catch (e) {
    dispatch({ type: 'backendFailed', error: asEngineError(e) });
    return;
  }
  void refreshSaved();
  // ?model=<url> (src/ui/modelUrl.ts): that bundle instead of the embedded default, not saved in the browser.
  const asked = modelFromQuery(location.search, location.href);
  if (asked.kind === 'error') {
    dispatch({ type: 'modelFailed', error: { code: 'BadModelUrl', message: asked.message } });
    return;
  }
  await loadModel(
    asked.kind === 'load' ? asked.source : { kind: 'url', base: new URL(DEFAULT_MODEL_URL, location.href).href, label: 'Embedded default' },
    false,
  );
}

export async function refreshSaved(): Promise<void> {
  try {
    dispatch({ type: 'savedList', saved: await engine().call('listSaved', {}) });
  } catch {
    // OPFS unavailable (e.g. private mode): the list stays empty and loading still works.
  }
}

export async function loadModel(source: ModelSourceSpec, save: boolean): Promise<void> {
  const label =
    source.kind === 'saved'
      ? (useStudio.getState().saved.find((m) => m.id === source.id)?.label ?? source.id)
      : source.kind === 'url'
        ? (source.label ?? source.base)
        : source.label;
  dispatch({ type: 'modelLoading', label });
  try {
    const loaded = await engine().call('loadModel', { source, save });
    dispatch({ type: 'modelReady', info: loaded.info });
    if (loaded.saveError) {
      dispatch({
        type: 'notice',
        notice: { kind: 'warning', text: `The model is loaded but could not be saved in this browser: ${loaded.saveError.message}` },
      });
    }
    if (save) void refreshSaved();
    // The preprocessing summary depends on the model: refresh it for the selected sample.
    const s = useStudio.getState().sample;
    if (s.info) void selectSample(s.info.ref);
  } catch (e) {
    dispatch({ type: 'modelFailed', error: asEngineError(e) });
  }
}

export function cancelLoad(): void {
  void engine().call('cancelLoad', {});
}

export async function deleteSaved(id: string): Promise<void> {
  try {
    dispatch({ type: 'savedList', saved: await engine().call('deleteSaved', { id }) });
  } catch (e) {
    dispatch({ type: 'notice', notice: { kind: 'error', text: asEngineError(e).message } });
  }
}

/** The file last opened, so that a scale (or an order, or ground truth) given afterwards re-reads it. */
let lastFmri: { name: string; file: Blob; mask?: { name: string; file: Blob }; extras?: ReadFileExtras; scale?: number } | undefined;

/** Blobs (Files) go to the worker as they are: reading and parsing never block the page. */
export async function openFmri(
  name: string,
  file: Blob,
  mask?: { name: string; file: Blob },
  scale?: number,
  extras?: ReadFileExtras,
): Promise<void> {
  lastFmri = { name, file, ...(mask ? { mask } : {}), ...(extras ? { extras } : {}), ...(scale !== undefined ? { scale } : {}) };
  dispatch({ type: 'fileReading', name });
  try {
    const info = await engine().call('readFile', {
      name,
      file,
      ...(mask ? { mask } : {}),
      ...(scale !== undefined ? { scale } : {}),
      ...extras,
    });
    dispatch({ type: 'fileReady', info });
    await selectSample({ split: info.defaultSplit, index: 0 });
  } catch (e) {
    const err = asEngineError(e);
    dispatch({
      type: 'fileFailed',
      name,
      error: err.code === 'AbortError' ? { code: 'Cancelled', message: `reading ${name} was cancelled` } : err,
    });
  }
}

/** Re-read the current fMRI file with a scale for its values (undefined: as stored). */
export async function rescaleFmri(scale: number | undefined): Promise<void> {
  if (lastFmri) await openFmri(lastFmri.name, lastFmri.file, lastFmri.mask, scale, lastFmri.extras);
}

// ---- data-set inputs (issue 13) ----
/** Stop the fMRI read in progress. */
export async function cancelRead(): Promise<void> {
  await engine().call('cancelRead', {});
}

/** Re-read the current multi-file subject with its parts in `order` (file names). */
export async function reorderParts(order: string[]): Promise<void> {
  if (lastFmri?.extras?.parts) await openFmri(lastFmri.name, lastFmri.file, lastFmri.mask, lastFmri.scale, { ...lastFmri.extras, order });
}

/** Re-read the current data with ground-truth images (one images file, or image files matched by name). */
export async function addGroundTruth(files: { name: string; file: Blob }[]): Promise<void> {
  if (lastFmri && files.length)
    await openFmri(lastFmri.name, lastFmri.file, lastFmri.mask, lastFmri.scale, { ...lastFmri.extras, truth: files });
}
// ---- end data-set inputs ----

/** The Scale field: '' → undefined (values as stored), '1/300' → 1/300, anything invalid → NaN. */
export function scaleFieldValue(text: string): number | undefined {
  return text.trim() === '' ? undefined : parseScale(text);
}

export async function selectSample(ref: SampleRef): Promise<void> {
  dispatch({ type: 'sampleLoading', ref });
  try {
    dispatch({ type: 'sampleReady', info: await engine().call('selectSample', ref) });
  } catch (e) {
    dispatch({ type: 'sampleFailed', ref, error: asEngineError(e) });
  }
}

/** Ids of runs, increasing, so the store can drop events of runs it no longer shows. */
let lastRunId = 0;

export async function runDecode(): Promise<void> {
  const { settings, sample } = useStudio.getState();
  if (!sample.info) return;
  const runId = ++lastRunId;
  try {
    const r = await engine().call('run', { runId, settings, sample: sample.info.ref });
    dispatch({ type: 'runEnded', runId, reason: r.reason, ...(r.final ? { final: r.final } : {}) });
  } catch (e) {
    dispatch({ type: 'runFailed', runId, error: asEngineError(e) });
    return;
  }
  // A dropped receipt's counterfactual follows the run it replays (src/store/counterfactual.ts).
  const due = dueReplay(useStudio.getState());
  if (due) await decodeCounterfactual(due);
}

/**
 * Issue 14: decodes the shown run's sample with `edit` (default: the Explain panel's form) on the run's seed and
 * settings, beside the original; the original is decoded once per run. Failures land in the store (cf.error).
 */
export async function decodeCounterfactual(edit?: CounterfactualEdit): Promise<void> {
  const s = useStudio.getState();
  const runId = s.run.id;
  if (runId === undefined || !s.run.sample || !s.file.info) return;
  const e = edit ?? editFromForm(s.cf.form, s.file.info, s.run.sample.split);
  const skipOriginal = (counterfactualShown(s)?.original.length ?? 0) > 0;
  dispatch({ type: 'cfStarted', runId });
  try {
    const view = await engine().call('counterfactual', { edit: e, ...(skipOriginal ? { skipOriginal: true } : {}) });
    dispatch({ type: 'cfDone', runId, view });
  } catch (err) {
    dispatch({ type: 'cfFailed', runId, error: asEngineError(err).message });
  }
}

/** Stops the counterfactual decode in progress (its call then fails with an AbortError). */
export async function cancelCounterfactual(): Promise<void> {
  await engine().call('cancelCounterfactual', {});
}

export async function pause(): Promise<void> {
  await engine().call('pause', {});
  dispatch({ type: 'paused' });
}
export async function resume(): Promise<void> {
  await engine().call('resume', {});
  dispatch({ type: 'resumed' });
}
export async function stepOnce(): Promise<void> {
  await engine().call('step', {});
}
export async function cancelRun(): Promise<void> {
  await engine().call('cancel', {});
}

/** Previews asked of the engine and not yet answered, as `${runId}:${position}`. */
const pendingPreviews = new Set<string>();

/**
 * Move the timeline. The engine holds every frame of the run (the only cache); the position's images are asked of it
 * here, where the user moved, not from inside a view.
 */
export function setPosition(position: number): void {
  dispatch({ type: 'position', position });
  const s = useStudio.getState();
  const runId = s.run.id;
  if (runId === undefined || s.run.steps.length === 0 || previewShown(s)) return;
  const key = `${runId}:${s.position}`;
  if (pendingPreviews.has(key)) return;
  pendingPreviews.add(key);
  engine()
    .call('preview', { position: s.position })
    .then((preview) => dispatch({ type: 'preview', runId, preview }))
    .catch((e) =>
      dispatch({
        type: 'notice',
        notice: { kind: 'error', text: `Preview of position ${s.position}: ${asEngineError(e).code}: ${asEngineError(e).message}` },
      }),
    )
    .finally(() => pendingPreviews.delete(key));
}

function download(bytes: BlobPart, fileName: string, mime: string): void {
  const url = URL.createObjectURL(new Blob([bytes], { type: mime }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.click();
  // Revoke after the click has been handled.
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function baseName(): string {
  const s = useStudio.getState();
  const file = (s.file.info?.name ?? 'decode').replace(/\.(nii\.gz|[a-z0-9]+)$/i, '');
  const ref = s.run.sample;
  return ref ? `${file}-${ref.split}${ref.index}` : file;
}

/** Export `sample` (a sample index, the mean or the sd map) at the timeline position on screen and the chosen scale. */
export async function exportImage(format: ExportFormat, sample: ExportTarget): Promise<void> {
  const { position, exportScale } = useStudio.getState();
  try {
    const r = await engine().call('export', { format, position, sample, scale: exportScale, baseName: baseName() });
    download(r.bytes as Uint8Array<ArrayBuffer>, r.fileName, r.mime);
  } catch (e) {
    dispatch({ type: 'notice', notice: { kind: 'error', text: asEngineError(e).message } });
  }
}

export function exportReceipt(): void {
  try {
    const receipt = studioReceipt(useStudio.getState(), __APP_VERSION__);
    if (!receipt) return;
    download(receiptToJson(receipt), `${baseName()}-receipt.json`, 'application/json');
  } catch (e) {
    dispatch({ type: 'notice', notice: { kind: 'error', text: asEngineError(e).message } });
  }
}

/** Apply a receipt: its settings, and its sample when the open file is the receipt's file. */
async function applyReceipt(text: string): Promise<void> {
  const receipt = parseReceipt(text);
  dispatch({ type: 'receipt', receipt });
  const f = useStudio.getState().file.info;
  if (f && f.sha256 === receipt.fmri.sha256) {
    await selectSample({
      split: receipt.fmri.split,
      index: receipt.fmri.sampleIndex,
      ...(receipt.fmri.roi ? { roi: receipt.fmri.roi } : {}),
    });
  }
}

/** Route whatever was dropped or picked: a model bundle (folder / zip), a receipt, or fMRI data. */
export async function handleFiles(files: DroppedFile[]): Promise<void> {
  const plan = classifyDrop(files);
  try {
    switch (plan.kind) {
      case 'empty':
        return;
      case 'receipt':
        await applyReceipt(await plan.file.file.text());
        return;
      case 'bundle-folder':
        await loadModel({ kind: 'files', files: Object.fromEntries(plan.files.map((f) => [f.path, f.file])), label: plan.label }, true);
        return;
      case 'bundle-zip':
        await loadModel({ kind: 'zip', file: plan.file.file, label: plan.file.file.name }, true);
        return;
      case 'fmri': {
        // issue 13: several files of a subject (named after their folder), stimulus list, ground truth.
        const blob = (d: DroppedFile) => ({ name: d.file.name, file: d.file as Blob });
        const folder =
          plan.parts && plan.data.path.includes('/')
            ? plan.data.path.slice(0, plan.data.path.lastIndexOf('/')).split('/').pop()
            : undefined;
        const extras: ReadFileExtras = {
          ...(plan.parts ? { parts: plan.parts.map(blob) } : {}),
          ...(plan.stimuli ? { stimuli: blob(plan.stimuli) } : {}),
          ...(plan.truth ? { truth: plan.truth.map(blob) } : {}),
        };
        if (plan.ignored?.length)
          dispatch({ type: 'notice', notice: { kind: 'info', text: `not fMRI data, left out: ${plan.ignored.join(', ')}` } });
        const name = plan.parts ? (folder ?? `${plan.parts.length} files`) : plan.data.file.name;
        await openFmri(
          name,
          plan.data.file,
          plan.mask ? { name: plan.mask.file.name, file: plan.mask.file } : undefined,
          undefined,
          extras,
        );
        return;
      }
      case 'unsupported':
        dispatch({ type: 'fileFailed', name: plan.name, error: { code: 'UnsupportedFile', message: plan.message } });
    }
  } catch (e) {
    dispatch({ type: 'notice', notice: { kind: 'error', text: `${asEngineError(e).code}: ${asEngineError(e).message}` } });
  }
}

/** Open one of the bundled synthetic files (fetched from this site; nothing is uploaded). */
export async function openBundled(name: string, maskName?: string): Promise<void> {
  dispatch({ type: 'fileReading', name });
  try {
    const get = async (n: string) => {
      const res = await fetch(`${BUNDLED_DATA_URL}${n}`);
      if (!res.ok) throw new Error(`HTTP ${res.status} for ${n}`);
      return res.blob();
    };
    const [file, mask] = await Promise.all([get(name), maskName ? get(maskName) : Promise.resolve(undefined)]);
    await openFmri(name, file, mask && maskName ? { name: maskName, file: mask } : undefined);
  } catch (e) {
    dispatch({ type: 'fileFailed', name, error: asEngineError(e) });
  }
}

// ---- backend choice (issue 12): the override and cached decisions live in localStorage ----------------

function loadBackendPrefs(): BackendPrefs {
  try {
    return parsePrefs(localStorage.getItem(PREFS_STORAGE_KEY));
  } catch {
    return parsePrefs(null);
  }
}

function saveBackendPrefs(prefs: BackendPrefs): void {
  // Storage may be full or disabled: the choice then holds for this session only.
  try {
    localStorage.setItem(PREFS_STORAGE_KEY, JSON.stringify(prefs));
  } catch {
    /* session only */
  }
}

function onBackendChosen(info: BackendInfo, key: string, cache?: CachedChoice): void {
  if (cache) saveBackendPrefs(withCached(loadBackendPrefs(), key, cache));
  dispatch({ type: 'backendReady', info });
}

/** The stored override ('auto': by measurement). */
export function backendOverride(): BackendOverride {
  return loadBackendPrefs().override;
}

/** Persist the override and reload the current model on the backend it selects. */
export async function setBackendOverride(override: BackendOverride): Promise<void> {
  saveBackendPrefs({ ...loadBackendPrefs(), override });
  const label = useStudio.getState().model.info?.label;
  if (label) dispatch({ type: 'modelLoading', label });
  try {
    const loaded = await engine().call('setBackendOverride', { override });
    if (loaded) dispatch({ type: 'modelReady', info: loaded.info });
  } catch (e) {
    dispatch({ type: 'modelFailed', error: asEngineError(e) });
  }
}

/**
 * ?wasmThreads=off|on: WebAssembly without threads, or with the threaded build however few threads it gets (to
 * compare; the default, 'auto', uses threads where they help: src/engine/wasmThreads.ts).
 * e2e only, with ?testHooks=1: ?cores=N and ?threadsFail=1 (WasmThreadsEmulation).
 */
function wasmThreadsFromUrl(): { wasmThreads?: WasmThreadsPref; emulate?: WasmThreadsEmulation } {
  const q = new URLSearchParams(location.search);
  const pref = q.get('wasmThreads');
  const cores = Number(q.get('cores'));
  const emulate: WasmThreadsEmulation = {
    ...(Number.isInteger(cores) && cores > 0 ? { cores } : {}),
    ...(q.get('threadsFail') === '1' ? { threadsFail: true } : {}),
  };
  return {
    ...(pref === 'off' || pref === 'on' ? { wasmThreads: pref } : {}),
    ...(Object.keys(emulate).length ? { emulate } : {}),
  };
}

/**
 * ?weights=f32|f16|auto: how a WebGPU device keeps the weights (src/engine/pipeline.ts WeightStorage; 'auto', the
 * default, packs the large matrices as f16 when float32 weights would exceed 2 GiB). For memory comparisons.
 */
function weightsFromUrl(): { weights?: 'auto' | 'f32' | 'f16' } {
  const w = new URLSearchParams(location.search).get('weights');
  return w === 'auto' || w === 'f32' || w === 'f16' ? { weights: w } : {};
}

/**
 * e2e only, with ?testHooks=1 in the URL (never set in normal use): window.__studioTest.loseDevice()
 * destroys the worker's WebGPU device, as a driver reset would.
 */
function installTestHooks(): boolean {
  if (new URLSearchParams(location.search).get('testHooks') !== '1') return false;
  (window as unknown as { __studioTest: unknown }).__studioTest = {
    loseDevice: () => engine().call('testLoseDevice', {}),
    memory: () => engine().call('memory', {}),
  };
  return true;
}
