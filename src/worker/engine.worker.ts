/// <reference lib="webworker" />
// The engine worker owns tfjs, the GPU device, the loaded model, the open fMRI file and every step of
// the current run. The main thread only sends requests (src/engine/protocol.ts) and blits images.
import './wasmPaths';
import { GIFEncoder, applyPalette, quantize } from 'gifenc';
import { dropWebGpu, gpuSettled, initBackend, watchDeviceLost, watchGpuErrors } from '../engine/backend';
import { decodeLatents, decodeSteps, decodeTimesteps, hasNullContext, loadModel, preprocessSummary, runMode, type EngineModel } from '../engine/pipeline';
import { hasLowLevel } from '../model/lowlevel';
import {
  decodeOptions, timelineFrames, toEngineError, type BackendInfo, type EngineError, type EngineEvent, type ExportResult, type FileInfo,
  type LoadedModel, type ModelInfo,
  type ModelSourceSpec, type OpArgs, type OpName, type OpResult, type Request, type RgbaImage, type RunEndReason,
  type RunSettings, type SampleInfo, type SampleRef, type SplitInfo, type StepPreview, type WorkerMessage,
} from '../engine/protocol';
import type { StepEvent } from '../engine/types';
import { latentShape } from '../model/config';
import { encodePng } from '../io/png';
import type { FmriFile } from '../io/fmriFile';
import { pearson, ssim, toGrey } from '../eval/metrics';
import { FASHION_MNIST_CLASSES } from '../eval/cnn';
import { openBundle } from './bundles';
import { MANIFEST_FILE } from '../io/bundle/manifest';
import { bundledClassName, bundledCnn, bundledImage, bundledSet, ownTruthImage, truthFromBlobs } from './groundTruth';
import { readStudioInput, type StudioInput } from '../io/studioInput';
import { truthFor, type TruthImages } from '../io/truthImages';
import { voxelMismatch } from '../io/modelFit';
import { batchToRgba, latentsToRgba, meanImage, rgbaToRgb, upscale } from './images';
import { deleteSaved, listSaved, saveModel } from './modelStore';
import { RunCancelled, RunGate } from './runGate';
import { validateRunSettings } from './runSettings';

const scope = self as unknown as DedicatedWorkerGlobalScope;

function post(m: WorkerMessage, transfer: Transferable[] = []): void {
  scope.postMessage(m, transfer);
}
function emit(e: EngineEvent, transfer: Transferable[] = []): void {
  post(e, transfer);
}

/** Copies of a preview's pixel buffers, so the cached original stays in the worker. */
function cloneForTransfer(p: StepPreview): { preview: StepPreview; transfer: Transferable[] } {
  const copy = (imgs: RgbaImage[]) => imgs.map((i) => ({ ...i, pixels: i.pixels.slice() }));
  const preview = { ...p, x0: copy(p.x0), xt: copy(p.xt), mean: p.mean ? copy([p.mean])[0] : undefined };
  const images = [...preview.x0, ...preview.xt, ...(preview.mean ? [preview.mean] : [])];
  return { preview, transfer: images.map((i) => i.pixels.buffer) };
}

async function sha256Hex(bytes: Uint8Array | ArrayBuffer): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

// ---- state -----------------------------------------------------------------------------------------

let backend: BackendInfo | null = null;
let model: { engine: EngineModel; info: ModelInfo; source: ModelSourceSpec } | null = null;
let loadAbort: AbortController | null = null;

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
  /** Decoded previews of this run by timeline position, least recently used first. */
  previews: Map<number, StepPreview>;
  /** A GPU error raised while the run was active: the run fails with it rather than show what the GPU produced. */
  gpuError?: EngineError;
  /** Settles once the sampler loop has exited and released its tensors. */
  finished: Promise<void>;
}
let run: RunState | null = null;

const PREVIEW_CACHE = 256;

/** Cancel the active run and wait until its sampler no longer uses the model's tensors. */
async function stopRun(): Promise<void> {
  const r = run;
  if (!r?.active) return;
  r.gate.cancel();
  await r.finished;
}

// ---- backend ----------------------------------------------------------------------------------------

async function startBackend(prefer: OpArgs<'init'>['prefer']): Promise<BackendInfo> {
  backend = await initBackend(prefer);
  watchDeviceLost((message) => { void onDeviceLost(message); });
  watchGpuErrors(onGpuError);
  return backend;
}

/** GPU errors so far, and the last: a preview decoded while one was raised is failed rather than shown. */
let gpuErrors = 0;
let lastGpuError: EngineError | null = null;

/** A GPU error (out of memory, validation) makes the active run's output untrustworthy: fail the run. */
function onGpuError(error: EngineError): void {
  gpuErrors++;
  lastGpuError = error;
  if (run?.active) {
    run.gpuError ??= error;
    run.gate.cancel();
  } else {
    emit({ event: 'gpuError', error });
  }
}

/** The device is gone with every tensor on it: stop the run, continue on wasm and reload the model there. */
async function onDeviceLost(message: string): Promise<void> {
  run?.gate.cancel();
  const source = model?.source;
  // The old engine's tensors died with the device; it cannot be used or disposed.
  model = null;
  try {
    dropWebGpu();
    const info = await initBackend(['wasm', 'cpu']);
    backend = { ...info, fallbackReason: message };
  } catch (e) {
    emit({ event: 'recoveryFailed', stage: 'backend', error: toEngineError(e) });
    return;
  }
  emit({ event: 'deviceLost', message, backend });
  if (!source) return;
  try {
    const reloaded = await openModel(source, false);
    emit({ event: 'modelReloaded', model: reloaded.info });
  } catch (e) {
    emit({ event: 'recoveryFailed', stage: 'model', error: toEngineError(e) });
  }
}

function gpuFailure(e: EngineError): Error {
  return Object.assign(new Error(e.message), { name: e.code });
}

// ---- model ------------------------------------------------------------------------------------------

/** The label shown next to everything a synthetic or untrained model produces. */
function syntheticLabel(engine: EngineModel, manifestBytes: Uint8Array): string | undefined {
  const card = JSON.stringify((JSON.parse(new TextDecoder().decode(manifestBytes)) as { card?: unknown }).card ?? {});
  const text = `${engine.config.description ?? ''} ${engine.config.name} ${card}`;
  if (/untrained stand-in/i.test(text)) return 'untrained stand-in — outputs are not reconstructions';
  if (engine.config.synthetic) return 'synthetic — trained on simulated responses, not brain data';
  return undefined;
}

async function openModel(source: ModelSourceSpec, save: boolean): Promise<LoadedModel> {
  loadAbort?.abort();
  const abort = new AbortController();
  loadAbort = abort;
  let lastPost = 0;
  const onProgress = (done: number, total: number) => {
    const now = performance.now();
    // Throttled: one message per network chunk would flood the main thread.
    if (now - lastPost > 50 || done === total) { lastPost = now; emit({ event: 'loadProgress', done, total }); }
  };
  const keep = save && source.kind !== 'saved';
  try {
    const bundle = await openBundle(source, keep);
    const engine = await loadModel(bundle.source, { signal: abort.signal, onProgress });
    // The active run samples with the current engine's weights: it must end before they are disposed.
    await stopRun();
    if (abort.signal.aborted) { engine.dispose(); throw new DOMException('model load cancelled', 'AbortError'); }
    const manifestBytes = bundle.read.get(MANIFEST_FILE);
    if (!manifestBytes) throw new Error(`the loader did not read ${MANIFEST_FILE}`);
    // manifest.json lists every shard's sha256, so its own digest identifies the whole bundle.
    const sha256 = await sha256Hex(manifestBytes);
    const label = syntheticLabel(engine, manifestBytes);
    const info: ModelInfo = {
      key: bundle.key,
      label: bundle.label,
      config: engine.config,
      card: engine.card,
      sha256,
      memoryBytes: (engine.card.params.total ?? 0) * 4,
      capabilities: { lowLevel: hasLowLevel(engine), nullContext: hasNullContext(engine) },
      ...(label ? { syntheticLabel: label } : {}),
    };
    // Another model cannot decode the old run's latents.
    if (model?.info.sha256 !== sha256) run = null;
    model?.engine.dispose();
    model = { engine, info, source };
    // The model is in use from here on; failing to keep a copy (quota, no OPFS) is only a warning.
    let saveError: EngineError | undefined;
    if (keep) {
      try {
        await saveModel(sha256.slice(0, 32), bundle.label, bundle.read);
      } catch (e) {
        saveError = toEngineError(e, 'SaveFailed');
      }
    }
    return { info, ...(saveError ? { saveError } : {}) };
  } finally {
    if (loadAbort === abort) loadAbort = null;
  }
}

// ---- files and samples ------------------------------------------------------------------------------

interface OpenFile {
  base: FmriFile;
  info: FileInfo;
  /** Only the bundled set's ground truth is known (its sha256 is listed in meta.json). */
  bundled: boolean;
  bundledTestImage?: number;
  views: Map<string, FmriFile>;
  /** Ground-truth images the user gave with the data (issue 13). */
  truth?: TruthImages;
}
let file: OpenFile | null = null;
/** The fMRI read in progress (issue 13: cancellable). */
let readAbort: AbortController | null = null;

function viewOf(f: OpenFile, ref: SampleRef): FmriFile {
  const key = `${ref.split}\u0000${ref.roi ?? ''}`;
  let v = f.views.get(key);
  if (!v) {
    v = f.base.select({ split: ref.split, ...(ref.roi ? { roi: ref.roi } : {}) });
    f.views.set(key, v);
  }
  return v;
}

/** Image split of the bundled images_32.npz that a data split's ground truth indexes. */
const IMAGE_SPLIT: Record<string, 'train' | 'test'> = { train: 'train', 'test-avg': 'test' };

async function openFile(args: OpArgs<'readFile'>): Promise<FileInfo> {
  // The run belongs to the file being replaced; its events would be shown against the new one.
  await stopRun();
  // ---- data-set inputs (issue 13): several files, mask, stimulus list, streamed with progress and cancel ----
  readAbort?.abort();
  const abort = new AbortController();
  readAbort = abort;
  let input: StudioInput, truth: TruthImages | undefined;
  try {
    input = await readStudioInput(args, { signal: abort.signal, onProgress: (p) => emit({ event: 'readProgress', ...p }) });
    truth = args.truth?.length ? await truthFromBlobs(args.truth.length > 1 ? `${args.truth.length} images` : args.truth[0].name, args.truth) : undefined;
  } finally {
    if (readAbort === abort) readAbort = null;
  }
  const base = input.file;
  const sha256 = input.sha256;
  const set = await bundledSet();
  // ---- end data-set inputs ----
  const bundled = !!set && set.sha256.has(sha256);
  const splits: SplitInfo[] = Object.entries(base.splits).map(([name, count]) => ({
    name,
    count,
    hasGroundTruth: bundled && (IMAGE_SPLIT[name] !== undefined && base.groundTruthIndex?.(name, 0) !== undefined
      || (count === 1 && Object.keys(base.splits).length === 1 && set?.singleSampleTestImage !== undefined))
      || (!!truth && !!truthFor(truth, base.select({ split: name }), 0)),
  }));
  const info: FileInfo = {
    name: args.name, format: base.format, sha256, bytes: input.bytes, voxels: base.voxels, splits,
    defaultSplit: base.split, roiNames: Object.keys(base.masks ?? {}),
    ...(base.roi ? { roi: base.roi } : {}),
    ...(base.note ? { note: base.note } : {}),
    ...(bundled && set ? { syntheticLabel: set.label } : {}),
    ...(base.parts ? { parts: base.parts } : {}),
    ...(base.splitKinds ? { splitKinds: base.splitKinds } : {}),
    ...(truth ? { truthName: truth.name } : {}),
    ...(input.inputs.length > 1 ? { inputs: input.inputs } : {}),
  };
  file = {
    base, info, bundled, views: new Map(),
    ...(bundled && set?.singleSampleTestImage !== undefined ? { bundledTestImage: set.singleSampleTestImage } : {}),
    ...(truth ? { truth } : {}),
  };
  run = null;
  return info;
}

/** Split and index of the bundled image that sample `ref` shows, if it has one. */
function groundTruthSource(ref: SampleRef): { split: 'train' | 'test'; index: number } | undefined {
  if (!file?.bundled) return undefined;
  const imageSplit = IMAGE_SPLIT[ref.split];
  const index = imageSplit ? file.base.groundTruthIndex?.(ref.split, ref.index) : undefined;
  if (imageSplit && index !== undefined) return { split: imageSplit, index };
  if (file.info.splits.length === 1 && file.info.splits[0].count === 1 && file.bundledTestImage !== undefined) {
    return { split: 'test', index: file.bundledTestImage };
  }
  return undefined;
}

async function groundTruthFor(ref: SampleRef): Promise<RgbaImage | undefined> {
  // issue 13: the user's own ground truth, matched by stimulus name or image index
  if (file?.truth && !file.bundled) return ownTruthImage(file.truth, viewOf(file, ref), ref.index);
  const src = groundTruthSource(ref);
  return src ? bundledImage(src.split, src.index) : undefined;
}

async function selectSample(ref: SampleRef): Promise<SampleInfo> {
  if (!file) throw new Error('no fMRI file is open');
  // The UI shows the newly selected sample: a run of another sample must not keep going behind it.
  await stopRun();
  const v = viewOf(file, ref);
  const voxels = v.getSample(ref.index);
  const info: SampleInfo = { ref, voxelCount: v.voxels, voxels: voxels.slice(), preprocess: null };
  if (model) {
    try {
      info.preprocess = preprocessSummary(model.engine, voxels);
    } catch (e) {
      // issue 13: a voxel count the model does not take is named with its real cause (one subject per model).
      const why = e instanceof Error && e.name === 'FmriShapeError' ? voxelMismatch(v, model.engine.config) : undefined;
      info.preprocessError = why ? { code: 'FmriShapeError', message: why } : toEngineError(e);
    }
  }
  const gt = await groundTruthFor(ref).catch(() => undefined);
  if (gt) info.groundTruth = gt;
  const src = groundTruthSource(ref);
  const className = src ? await bundledClassName(src.split, src.index).catch(() => undefined) : undefined;
  if (className) info.groundTruthClass = className;
  return info;
}

// ---- run --------------------------------------------------------------------------------------------

async function makePreview(r: RunState, position: number): Promise<StepPreview> {
  const cached = r.previews.get(position);
  if (cached) {
    r.previews.delete(position);
    r.previews.set(position, cached);
    return cached;
  }
  if (!model) throw new Error('no model is loaded');
  const last = r.steps.length;
  if (!(Number.isInteger(position) && position >= 0 && (position < last || (r.final && position === last)))) {
    throw new RangeError(`timeline position ${position} has no data yet (0..${r.final ? last : last - 1})`);
  }
  const n = r.settings.numSamples;
  const [c, h, w] = latentShape(model.engine.config);
  const final = position === last;
  const latent = final ? r.final! : r.steps[position].xt;
  const x0Latent = final ? r.final! : r.steps[position].x0;
  const errorsBefore = gpuErrors;
  const batch = await decodeLatents(model.engine, x0Latent, n);
  // An out-of-memory or validation error while decoding leaves garbage (often black) pixels: fail, and cache nothing.
  await gpuSettled();
  if (gpuErrors !== errorsBefore && lastGpuError) throw gpuFailure(lastGpuError);
  const x0 = batchToRgba(batch);
  const preview: StepPreview = { position, x0, xt: latentsToRgba(latent, n, c, h, w) };
  if (n > 1) preview.mean = batchToRgba(meanImage(batch))[0];
  if (r.groundTruth) {
    preview.metrics = x0.map((img) => compare(img, r.groundTruth!));
    if (preview.mean) preview.meanMetrics = compare(preview.mean, r.groundTruth);
    // The class the eval CNN sees in each image: optional, so a missing classifier file only hides it.
    if (file?.bundled) await addCnnClasses(preview, r.groundTruth).catch(() => undefined);
  }
  r.previews.set(position, preview);
  while (r.previews.size > PREVIEW_CACHE) r.previews.delete(r.previews.keys().next().value!);
  return preview;
}

/** RGBA bytes → RGB in [0, 1] (alpha dropped). */
function rgbOf(img: RgbaImage): Float32Array {
  const out = new Float32Array(img.width * img.height * 3);
  for (let p = 0; p < img.width * img.height; p++) for (let c = 0; c < 3; c++) out[p * 3 + c] = img.pixels[p * 4 + c] / 255;
  return out;
}

/**
 * PCC and SSIM of a sample against the ground truth, in grey at the ground truth's resolution: the
 * same functions as `npm run eval`, so the studio's numbers and the CLI's agree.
 */
function compare(img: RgbaImage, gt: RgbaImage): { pcc: number; ssim: number } {
  const g = toGrey(rgbOf(gt), gt.height, gt.width, 3, gt.height, gt.width);
  const s = toGrey(rgbOf(img), img.height, img.width, 3, gt.height, gt.width);
  return { pcc: pearson(s.data, g.data), ssim: ssim(s, g) };
}

/** Adds the CNN class name (src/eval/cnn.ts, as `npm run eval` scores it) to each sample's and the mean's metrics. */
async function addCnnClasses(preview: StepPreview, gt: RgbaImage): Promise<void> {
  const cnn = await bundledCnn();
  const side = cnn.imageSize;
  const imgs = [...preview.x0, ...(preview.mean ? [preview.mean] : [])];
  const grey = new Float32Array(imgs.length * side * side);
  // grey at the ground truth's resolution (as the metrics see it), then at the CNN's input size
  imgs.forEach((img, i) => {
    const g = toGrey(rgbOf(img), img.height, img.width, 3, gt.height, gt.width);
    grey.set(toGrey(g.data, gt.height, gt.width, 1, side, side).data, i * side * side);
  });
  const cls = await cnn.classify(grey, imgs.length);
  const name = (c: number): string => FASHION_MNIST_CLASSES[c] ?? `class ${c}`;
  preview.metrics?.forEach((m, i) => { m.cnnClass = name(cls[i]); });
  if (preview.meanMetrics) preview.meanMetrics.cnnClass = name(cls[imgs.length - 1]);
}

async function runDecode(args: OpArgs<'run'>): Promise<OpResult<'run'>> {
  if (!model) throw Object.assign(new Error('load a model before running'), { name: 'NoModel' });
  if (!file) throw Object.assign(new Error('open an fMRI file before running'), { name: 'NoFile' });
  if (run?.active) throw Object.assign(new Error('a run is already in progress'), { name: 'Busy' });
  // Everything that can reject the request is checked before the run exists.
  const engine = model.engine;
  validateRunSettings(args.settings, engine.config.schedule.numTimesteps);
  // The model must carry what the settings use (null context, low-level decoder): refused before the run exists.
  runMode(engine, decodeOptions(args.settings));
  // The authors' uniform discretisation may run more steps than requested (S = 12 → 13); img2img runs fewer.
  const total = timelineFrames(args.settings, decodeTimesteps(engine.config, decodeOptions(args.settings)).length);
  const fmriRaw = viewOf(file, args.sample).getSample(args.sample.index);
  const gate = new RunGate();
  let finish!: () => void;
  const r: RunState = {
    id: args.runId, gate, settings: args.settings, sample: args.sample, steps: [], active: true, previews: new Map(),
    finished: new Promise<void>((resolve) => { finish = resolve; }),
  };
  run = r;
  let gen: ReturnType<typeof decodeSteps> | undefined;
  let reason: RunEndReason = 'done';
  try {
    r.groundTruth = await groundTruthFor(args.sample).catch(() => undefined);
    emit({ event: 'runStarted', runId: r.id, total, settings: args.settings, sample: args.sample });
    gen = decodeSteps(engine, fmriRaw, decodeOptions(args.settings), gate.abort.signal);
    for (;;) {
      await gate.beforeStep();
      const res = await gen.next();
      if (res.done) { r.final = res.value; break; }
      const s = res.value;
      r.steps.push({ xt: s.xt, x0: s.x0 });
      const position = r.steps.length - 1;
      const made = await makePreview(r, position);
      // A GPU error raised by the sampler step makes its images garbage too: fail instead of showing them.
      if (r.gpuError) break;
      const { preview, transfer } = cloneForTransfer(made);
      emit({ event: 'step', runId: r.id, step: { kind: s.kind, index: position, total, t: s.t, ms: s.ms }, preview }, transfer);
    }
  } catch (e) {
    if (!(e instanceof RunCancelled) && !gate.abort.signal.aborted) throw e;
    reason = 'cancelled';
  } finally {
    r.active = false;
    // Whatever ended the loop (cancel, OOM while decoding a preview), the sampler's tensors are released.
    await gen?.return(undefined as never).catch(() => undefined);
    finish();
  }
  if (r.gpuError) throw gpuFailure(r.gpuError);
  return { reason, steps: r.steps.length };
}

// ---- export -----------------------------------------------------------------------------------------

/** Whether timeline position p of the run is the low-level start (frame 0 with init 'lowlevel'). */
function lowLevelFrame(r: RunState, p: number): boolean {
  return p === 0 && r.settings.init === 'lowlevel';
}

async function exportImage(args: OpArgs<'export'>): Promise<ExportResult> {
  if (!run) throw new Error('nothing to export: run a decode first');
  const r = run;
  if (!(args.sample >= 0 && args.sample < r.settings.numSamples)) throw new RangeError(`sample ${args.sample} does not exist`);
  if (args.format === 'png') {
    const img = (await makePreview(r, args.position)).x0[args.sample];
    // Frame 0 of a low-level start is not a sampler step: name it for what it shows.
    const what = lowLevelFrame(r, args.position) ? 'lowlevel-start' : `step${args.position}`;
    return { fileName: `${args.baseName}-${what}-sample${args.sample}.png`, mime: 'image/png', bytes: encodePng(rgbaToRgb(img), img.width, img.height) };
  }
  // GIF: every position of the trajectory (decoded x0), then the final image held for a second; a low-level
  // start (frame 0) is held half a second so the trajectory visibly begins from it.
  const last = r.final ? r.steps.length : r.steps.length - 1;
  const gif = GIFEncoder();
  for (let p = 0; p <= last; p++) {
    const src = (await makePreview(r, p)).x0[args.sample];
    const frame = upscale(src, Math.max(1, Math.floor(256 / src.width)));
    const palette = quantize(frame.pixels, 256);
    gif.writeFrame(applyPalette(frame.pixels, palette), frame.width, frame.height, { palette, delay: p === last ? 1000 : lowLevelFrame(r, p) ? 500 : 120 });
  }
  gif.finish();
  return { fileName: `${args.baseName}-trajectory-sample${args.sample}.gif`, mime: 'image/gif', bytes: gif.bytes() };
}

// ---- dispatch ---------------------------------------------------------------------------------------

type Handler<K extends OpName> = (args: OpArgs<K>) => Promise<OpResult<K>>;

const handlers: { [K in OpName]: Handler<K> } = {
  init: (a) => startBackend(a.prefer),
  loadModel: (a) => openModel(a.source, a.save),
  cancelLoad: async () => { loadAbort?.abort(); loadAbort = null; },
  cancelRead: async () => { readAbort?.abort(); readAbort = null; },
  listSaved: () => listSaved(),
  deleteSaved: async (a) => { await deleteSaved(a.id); return listSaved(); },
  readFile: (a) => openFile(a),
  selectSample: (a) => selectSample(a),
  run: (a) => runDecode(a),
  pause: async () => { run?.gate.pause(); },
  resume: async () => { run?.gate.resume(); },
  step: async () => { run?.gate.step(); },
  cancel: async () => { run?.gate.cancel(); },
  preview: async (a) => {
    const r = run;
    if (!r) throw new Error('no run to preview');
    return makePreview(r, a.position);
  },
  export: (a) => exportImage(a),
};

/** Results that carry pixels or bytes are transferred (as copies when the worker keeps a cached original). */
function transferablesOf(op: OpName, result: unknown): { result: unknown; transfer: Transferable[] } {
  if (op === 'preview') {
    const c = cloneForTransfer(result as StepPreview);
    return { result: c.preview, transfer: c.transfer };
  }
  if (op === 'export') return { result, transfer: [(result as ExportResult).bytes.buffer] };
  if (op === 'selectSample') {
    const s = result as SampleInfo;
    return { result, transfer: [s.voxels.buffer, ...(s.groundTruth ? [s.groundTruth.pixels.buffer] : [])] };
  }
  return { result, transfer: [] };
}

scope.onmessage = async (ev: MessageEvent<Request>) => {
  const { id, op, args } = ev.data;
  try {
    const raw = await (handlers[op] as Handler<OpName>)(args as never);
    const { result, transfer } = transferablesOf(op, raw);
    post({ id, ok: true, result }, transfer);
  } catch (e) {
    post({ id, ok: false, error: toEngineError(e) });
  }
};
