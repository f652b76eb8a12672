import { describe, expect, it } from 'vitest';
import type { CounterfactualView, FileInfo, ModelInfo, RgbaImage, StepPreview } from '../engine/protocol';
import { parseReceipt, RECEIPT_KIND } from '../engine/receipt';
import {
  counterfactualShown,
  dueReplay,
  initialState,
  lastPosition,
  normaliseSettings,
  previewShown,
  reduce,
  runBlocker,
  runStatusLine,
  type Action,
  type StudioState,
} from './reducer';

const img: RgbaImage = { width: 1, height: 1, pixels: new Uint8ClampedArray(4) };
const preview = (position: number): StepPreview => ({ position, x0: [img], xt: [img] });
const settings = { sampler: 'ddim' as const, steps: 3, eta: 0, seed: 1, numSamples: 1, init: 'noise' as const, strength: 1, guidance: 1 };
const sample = { split: 'test-avg', index: 0 };

function apply(state: StudioState, ...actions: Action[]): StudioState {
  return actions.reduce(reduce, state);
}
const startRun = (runId = 1): Action => ({ type: 'runStarted', runId, total: 3, settings, sample });
const started = () => apply(initialState, startRun());
const step = (i: number, runId = 1): Action => ({
  type: 'step',
  runId,
  step: { kind: 'step', index: i, total: 3, t: 900 - i * 300, ms: 10 },
  preview: preview(i),
});
const ended = (reason: 'done' | 'cancelled', runId = 1): Action => ({ type: 'runEnded', runId, reason });

describe('studio reducer', () => {
  it('follows the newest step while running, then the final image', () => {
    let s = apply(started(), step(0), step(1));
    expect(s.run.steps).toHaveLength(2);
    expect(s.position).toBe(1);
    s = apply(s, step(2), ended('done'));
    expect(s.run.status).toBe('done');
    expect(lastPosition(s.run)).toBe(3);
    expect(s.position).toBe(3);
  });

  it('scrubbing away stops following; positions are clamped to data that exists', () => {
    let s = apply(started(), step(0), step(1), { type: 'position', position: 0 });
    expect(s.follow).toBe(false);
    s = apply(s, step(2));
    expect(s.position).toBe(0);
    s = apply(s, { type: 'position', position: 99 });
    expect(s.position).toBe(2);
    expect(s.follow).toBe(true);
    s = apply(s, { type: 'position', position: -5 });
    expect(s.position).toBe(0);
  });

  it('pause/resume only from the matching state; steps after the end are ignored', () => {
    let s = apply(started(), { type: 'resumed' });
    expect(s.run.status).toBe('running');
    s = apply(s, { type: 'paused' });
    expect(s.run.status).toBe('paused');
    s = apply(s, step(0), ended('cancelled'));
    expect(s.run.status).toBe('cancelled');
    expect(lastPosition(s.run)).toBe(0);
    expect(apply(s, step(1)).run.steps).toHaveLength(1);
  });

  it('keeps only the images on screen: a step while scrubbed away is not shown; late or other-run answers are dropped', () => {
    let s = apply(started(), step(0), step(1));
    expect(s.preview?.position).toBe(1);
    s = apply(s, { type: 'position', position: 0 });
    // the store has no images for position 0 until the engine answers: nothing stale is shown for it
    expect(previewShown(s)).toBeUndefined();
    s = apply(s, step(2));
    expect(previewShown(s)).toBeUndefined();
    expect(apply(s, { type: 'preview', runId: 1, preview: preview(2) }).preview?.position).toBe(1); // not the position on screen
    expect(apply(s, { type: 'preview', runId: 0, preview: preview(0) }).preview?.position).toBe(1); // another run's answer
    s = apply(s, { type: 'preview', runId: 1, preview: preview(0) });
    expect(previewShown(s)?.position).toBe(0);
  });

  it('done means done: the final image and its metrics arrive with the Done state, and the status line says so', () => {
    const final: StepPreview = { ...preview(3), metrics: [{ pcc: 0.5, ssim: 0.25 }], meanMetrics: { pcc: 0.625, ssim: 0.3 } };
    let s = apply(started(), step(0), step(1), step(2));
    s = apply(s, { type: 'runEnded', runId: 1, reason: 'done', final });
    expect(s.run.status).toBe('done');
    expect(s.position).toBe(3);
    expect(previewShown(s)).toBe(final);
    expect(runStatusLine(s)).toEqual({ tone: 'info', text: 'Done: 3 steps · PCC 0.500 (mean image 0.625)' });
    // scrub away and back: the final frame is in the store, no engine call is needed
    s = apply(s, { type: 'position', position: 1 }, { type: 'position', position: 3 });
    expect(previewShown(s)).toBe(final);
    // a cancelled run carries no final frame
    expect(apply(started(), step(0), { type: 'runEnded', runId: 1, reason: 'cancelled', final }).run.final).toBeUndefined();
  });

  it('the export scale takes only the offered factors, default ×8', () => {
    expect(initialState.exportScale).toBe(8);
    expect(apply(initialState, { type: 'exportScale', scale: 16 }).exportScale).toBe(16);
    expect(apply(initialState, { type: 'exportScale', scale: 3 }).exportScale).toBe(8);
  });

  it('the init frame of an img2img run is timeline frame 0, before the sampler steps', () => {
    const lowlevel = { ...settings, init: 'lowlevel' as const, strength: 0.5 };
    const frame = (kind: 'init' | 'step', i: number): Action => ({
      type: 'step',
      runId: 1,
      step: { kind, index: i, total: 3, t: 501 - (kind === 'init' ? 0 : (i - 1) * 250), ms: 5 },
      preview: preview(i),
    });
    let s = apply(initialState, { type: 'runStarted', runId: 1, total: 3, settings: lowlevel, sample }, frame('init', 0));
    expect(s.run.steps.map((f) => f.kind)).toEqual(['init']);
    expect(s.position).toBe(0);
    expect(previewShown(s)?.position).toBe(0);
    s = apply(s, frame('step', 1), frame('step', 2), ended('done'));
    expect(s.run.steps.map((f) => [f.kind, f.t])).toEqual([
      ['init', 501],
      ['step', 501],
      ['step', 251],
    ]);
    expect(s.position).toBe(3); // the final latent
    expect(apply(s, { type: 'position', position: 0 }).position).toBe(0);
  });

  it('normalises img2img and guidance settings: strength only with init lowlevel, guidance clamped', () => {
    const base = { sampler: 'ddim' as const, steps: 10, eta: 0, seed: 0, numSamples: 1 };
    expect(normaliseSettings({ ...base, init: 'noise', strength: 0.3, guidance: 3 })).toMatchObject({
      init: 'noise',
      strength: 1,
      guidance: 3,
    });
    expect(normaliseSettings({ ...base, init: 'lowlevel', strength: 0.3, guidance: -2 })).toMatchObject({
      init: 'lowlevel',
      strength: 0.3,
      guidance: 0,
    });
    expect(normaliseSettings({ ...base, init: 'lowlevel', strength: 0, guidance: 1e9 })).toMatchObject({ strength: 0.01, guidance: 20 });
    expect(normaliseSettings({ ...base, init: 'bogus' as never, strength: Number.NaN, guidance: Number.NaN })).toMatchObject({
      init: 'noise',
      strength: 1,
      guidance: 1,
    });
    const s = apply(
      initialState,
      { type: 'settings', patch: { init: 'lowlevel', strength: 0.5 } },
      { type: 'settings', patch: { guidance: 2.5 } },
    );
    expect(s.settings).toMatchObject({ init: 'lowlevel', strength: 0.5, guidance: 2.5 });
    expect(apply(s, { type: 'settings', patch: { init: 'noise' } }).settings.strength).toBe(1);
  });

  it('normalises settings: integer ranges, PLMS forces eta 0; steps are never clamped or rounded (the form refuses them)', () => {
    expect(
      normaliseSettings({ sampler: 'plms', steps: 0, eta: 0.7, seed: -3.2, numSamples: 99, init: 'noise', strength: 1, guidance: 1 }),
    ).toEqual({ sampler: 'plms', steps: 0, eta: 0, seed: 0, numSamples: 16, init: 'noise', strength: 1, guidance: 1 });
    const s = apply(initialState, { type: 'settings', patch: { sampler: 'ddim', eta: 2, steps: 12.4 } });
    expect(s.settings.eta).toBe(1);
    expect(s.settings.steps).toBe(12.4);
  });

  it('drops a sample answer the user has moved away from', () => {
    let s = apply(initialState, { type: 'sampleLoading', ref: { split: 'train', index: 1 } });
    s = apply(s, { type: 'sampleLoading', ref: { split: 'train', index: 2 } });
    const info = (index: number) => ({ ref: { split: 'train', index }, voxelCount: 1, voxels: new Float32Array(1), preprocess: null });
    expect(apply(s, { type: 'sampleReady', info: info(1) }).sample.status).toBe('busy');
    expect(apply(s, { type: 'sampleReady', info: info(2) }).sample.status).toBe('ready');
  });

  it('a different model or a new file clears the run; a failed load keeps the old model', () => {
    const a = { sha256: 'a'.repeat(64), label: 'A' } as ModelInfo;
    const s = apply(initialState, { type: 'modelReady', info: a }, startRun(), step(0));
    expect(apply(s, { type: 'modelReady', info: a }).run.steps).toHaveLength(1);
    expect(apply(s, { type: 'modelReady', info: { ...a, sha256: 'b'.repeat(64) } }).run.steps).toHaveLength(0);
    expect(apply(s, { type: 'fileReading', name: 'a.npy' }).run.status).toBe('idle');
    const failed = apply(
      s,
      { type: 'modelLoading', label: 'B' },
      { type: 'modelFailed', error: { code: 'AbortError', message: 'cancelled' } },
    );
    expect(failed.model).toMatchObject({ status: 'ready', info: a, error: { code: 'AbortError' } });
    expect(failed.run.steps).toHaveLength(1);
    expect(apply(initialState, { type: 'modelFailed', error: { code: 'BundleError', message: 'x' } }).model.status).toBe('error');
  });

  it('fileProgress: kept while reading, ignored once the file is ready or failed (issue 13)', () => {
    const reading = apply(initialState, { type: 'fileReading', name: 'betas.nii.gz' });
    expect(apply(reading, { type: 'fileProgress', phase: 'bytes', done: 5, total: 10 }).file.progress).toEqual({
      phase: 'bytes',
      done: 5,
      total: 10,
    });
    const failed = apply(reading, { type: 'fileFailed', name: 'betas.nii.gz', error: { code: 'AbortError', message: 'cancelled' } });
    expect(apply(failed, { type: 'fileProgress', phase: 'bytes', done: 6, total: 10 })).toBe(failed);
  });

  it("fileProgress: a masked 4-D HDF5 series' volumes phase follows the bytes phase, its own count from 0 (issue 13)", () => {
    let s = apply(initialState, { type: 'fileReading', name: 'betas.hdf5' });
    s = apply(s, { type: 'fileProgress', phase: 'bytes', done: 1000, total: 1000 });
    s = apply(s, { type: 'fileProgress', phase: 'volumes', done: 0, total: 9000 });
    expect(s.file.progress).toEqual({ phase: 'volumes', done: 0, total: 9000 });
    s = apply(s, { type: 'fileProgress', phase: 'volumes', done: 4500, total: 9000 });
    expect(s.file).toMatchObject({ status: 'busy', name: 'betas.hdf5', progress: { phase: 'volumes', done: 4500, total: 9000 } });
    // A cancel during it ends the read like any other; a late report does not bring it back.
    const cancelled = apply(s, {
      type: 'fileFailed',
      name: 'betas.hdf5',
      error: { code: 'Cancelled', message: 'reading betas.hdf5 was cancelled' },
    });
    expect(cancelled.file.progress).toBeUndefined();
    expect(apply(cancelled, { type: 'fileProgress', phase: 'volumes', done: 9000, total: 9000 })).toBe(cancelled);
  });

  it('device loss stops the run and marks the model as reloading', () => {
    const model = { sha256: 'a'.repeat(64) } as ModelInfo;
    let s = apply(started(), { type: 'modelReady', info: model }, startRun(), step(0));
    s = apply(s, { type: 'deviceLost', message: 'lost', info: { backend: 'wasm' } });
    expect(s.run.status).toBe('error');
    expect(s.run.error?.code).toBe('DeviceLost');
    expect(s.model.status).toBe('busy');
    expect(s.backend.info?.backend).toBe('wasm');
    // The same model back on WebAssembly: the failed run, its message and its last good step stay on screen.
    const reloaded = apply(s, { type: 'modelReady', info: model });
    expect(reloaded.model).toMatchObject({ status: 'ready', info: model });
    expect(reloaded.run.status).toBe('error');
    expect(reloaded.run.error?.code).toBe('DeviceLost');
    expect(reloaded.run.steps.length).toBe(s.run.steps.length);
    // Another model after the loss does clear it.
    expect(apply(s, { type: 'modelReady', info: { sha256: 'b'.repeat(64) } as ModelInfo }).run.status).toBe('idle');
  });

  it('ignores steps and endings of a run the user moved away from', () => {
    // Run 1 is on screen; the user picks another sample: the store shows no run while the worker stops run 1.
    let s = apply(started(), step(0), { type: 'sampleLoading', ref: { split: 'train', index: 4 } });
    expect(s.run.status).toBe('idle');
    s = apply(s, step(1), ended('cancelled'), { type: 'runFailed', runId: 1, error: { code: 'GpuError', message: 'late' } });
    expect(s.run).toMatchObject({ status: 'idle', steps: [] });
    expect(s.preview).toBeUndefined();
    // Run 2 starts; a late event of run 1 does not mix into it.
    s = apply(s, startRun(2), step(0, 2), step(1, 1), ended('done', 1));
    expect(s.run).toMatchObject({ id: 2, status: 'running' });
    expect(s.run.steps).toHaveLength(1);
    expect(apply(s, startRun(1)).run.id).toBe(2);
    expect(apply(s, ended('cancelled', 2)).run.status).toBe('cancelled');
  });

  it('shows a run failure: of the run on screen, of a run that never started; else a notice', () => {
    const oom = { code: 'GpuOutOfMemory', message: 'the GPU ran out of memory' };
    expect(apply(started(), step(0), { type: 'runFailed', runId: 1, error: oom }).run).toMatchObject({ status: 'error', error: oom });
    const done = apply(started(), step(0), ended('done'));
    const bad = { code: 'RunSettingsError', message: 'steps must be an integer in 1..1000 (got 2000)' };
    // refused before it started: shown as a refusal, the finished run and its images stay
    const refused = apply(done, { type: 'runFailed', runId: 2, error: bad });
    expect(refused.run).toMatchObject({ id: 1, status: 'done' });
    expect(refused.refusal).toEqual(bad);
    expect(apply(refused, { type: 'settings', patch: { steps: 5 } }).refusal).toBeUndefined();
    const busy = apply(started(), { type: 'runFailed', runId: 2, error: { code: 'Busy', message: 'a run is already in progress' } });
    expect(busy.run.status).toBe('running');
    expect(busy.notice).toMatchObject({ kind: 'error', text: 'Run refused — Busy: a run is already in progress' });
  });

  it('a failed reload after device loss leaves no model; an engine crash stops the run', () => {
    const model = { sha256: 'a'.repeat(64), label: 'A' } as ModelInfo;
    let s = apply(initialState, { type: 'modelReady', info: model }, startRun(), step(0));
    s = apply(s, { type: 'deviceLost', message: 'lost', info: { backend: 'wasm' } });
    expect(s.model).toMatchObject({ status: 'busy', label: 'A' });
    s = apply(s, { type: 'modelFailed', error: { code: 'BundleError', message: 'offline' } });
    expect(s.model.status).toBe('error');
    expect(s.model.info).toBeUndefined();
    const crash = { code: 'EngineCrashed', message: 'engine crashed — reload the page' };
    const c = apply(initialState, { type: 'backendReady', info: { backend: 'webgpu' } }, startRun(), {
      type: 'engineFailed',
      error: crash,
    });
    expect(c.backend).toMatchObject({ status: 'error', error: crash });
    expect(c.run).toMatchObject({ status: 'error', error: crash });
  });

  it('a receipt sets the sampler settings and says what does not match', () => {
    const receipt = parseReceipt({
      kind: RECEIPT_KIND,
      receiptVersion: 1,
      appVersion: '0.1.0',
      createdAt: '2026-11-24T00:00:00Z',
      model: { name: 'tiny', sha256: 'b'.repeat(64), synthetic: true },
      fmri: { fileName: 'x.npy', sha256: 'c'.repeat(64), split: 'all', sampleIndex: 0 },
      sampler: 'plms',
      steps: 10,
      eta: 0,
      seed: 42,
      numSamples: 3,
      backend: 'wasm',
    });
    const s = apply(initialState, { type: 'modelReady', info: { sha256: 'a'.repeat(64) } as ModelInfo }, { type: 'receipt', receipt });
    // A receipt from before img2img / guidance replays with their defaults.
    expect(s.settings).toEqual({ sampler: 'plms', steps: 10, eta: 0, seed: 42, numSamples: 3, init: 'noise', strength: 1, guidance: 1 });
    expect(s.notice?.kind).toBe('warning');
    expect(s.notice?.text).toMatch(/sha256 aaaaaaaaaaaa… differs/);
    expect(s.notice?.text).toMatch(/open x\.npy/);
  });

  it('a receipt carries init, strength and guidance into the settings', () => {
    const receipt = parseReceipt({
      kind: RECEIPT_KIND,
      receiptVersion: 1,
      appVersion: '0.1.0',
      createdAt: '2026-11-24T00:00:00Z',
      model: { name: 'tiny', sha256: 'b'.repeat(64), synthetic: true },
      fmri: { fileName: 'x.npy', sha256: 'c'.repeat(64), split: 'all', sampleIndex: 0 },
      sampler: 'ddim',
      steps: 20,
      eta: 0,
      seed: 1,
      numSamples: 2,
      backend: 'wasm',
      init: 'lowlevel',
      strength: 0.4,
      guidance: 2,
    });
    expect(apply(initialState, { type: 'receipt', receipt }).settings).toMatchObject({ init: 'lowlevel', strength: 0.4, guidance: 2 });
  });
});

describe('settings from the loaded model (config.sampling)', () => {
  const sampling = { sampler: 'plms' as const, steps: 20, init: 'lowlevel' as const, strength: 0.45, guidance: 3 };
  const full = { lowLevel: true, nullContext: true };
  const withDefaults = { sha256: 'a'.repeat(64), label: 'A', config: { sampling }, capabilities: full } as unknown as ModelInfo;
  const plain = { sha256: 'b'.repeat(64), label: 'B', config: {}, capabilities: full } as unknown as ModelInfo;
  const user = { ...settings, sampler: 'ddim' as const, steps: 7, eta: 0.5, seed: 9, numSamples: 3 };

  it('a newly loaded model with defaults switches sampler, steps, init, strength and guidance; seed and samples stay', () => {
    const s = apply({ ...initialState, settings: user }, { type: 'modelReady', info: withDefaults });
    // PLMS takes eta 0 only: the user's 0.5 goes with the switch to PLMS.
    expect(s.settings).toEqual({
      sampler: 'plms',
      steps: 20,
      eta: 0,
      seed: 9,
      numSamples: 3,
      init: 'lowlevel',
      strength: 0.45,
      guidance: 3,
    });
  });

  it('a model without defaults keeps the current settings; the same model again (device-loss reload) keeps user edits', () => {
    expect(apply({ ...initialState, settings: user }, { type: 'modelReady', info: plain }).settings).toEqual(user);
    const edited = apply(
      initialState,
      { type: 'modelReady', info: withDefaults },
      { type: 'settings', patch: { steps: 30, strength: 0.6 } },
    );
    expect(apply(edited, { type: 'modelReady', info: withDefaults }).settings).toMatchObject({ steps: 30, strength: 0.6 });
    // Another model with defaults replaces them again.
    expect(apply(edited, { type: 'modelReady', info: plain }, { type: 'modelReady', info: withDefaults }).settings).toMatchObject({
      steps: 20,
      strength: 0.45,
    });
  });

  it('settings the model cannot run fall back: noise start without a low-level decoder, guidance 1 without a null context', () => {
    const bare = { ...plain, capabilities: { lowLevel: false, nullContext: false } } as ModelInfo;
    const s = apply(initialState, { type: 'modelReady', info: withDefaults }, { type: 'modelReady', info: bare });
    expect(s.settings).toMatchObject({ sampler: 'plms', steps: 20, init: 'noise', strength: 1, guidance: 1 });
    // Defaults a model carries but cannot run are made runnable too.
    const odd = { ...withDefaults, sha256: 'c'.repeat(64), capabilities: { lowLevel: false, nullContext: true } } as ModelInfo;
    expect(apply(initialState, { type: 'modelReady', info: odd }).settings).toMatchObject({ init: 'noise', strength: 1, guidance: 3 });
  });

  it("loading the model a receipt was made with keeps the receipt's settings", () => {
    const receipt = parseReceipt({
      kind: RECEIPT_KIND,
      receiptVersion: 1,
      appVersion: '0.1.0',
      createdAt: '2026-11-24T00:00:00Z',
      model: { name: 'A', sha256: 'a'.repeat(64), synthetic: true },
      fmri: { fileName: 'x.npy', sha256: 'c'.repeat(64), split: 'all', sampleIndex: 0 },
      sampler: 'ddim',
      steps: 12,
      eta: 0,
      seed: 5,
      numSamples: 1,
      backend: 'wasm',
      init: 'lowlevel',
      strength: 0.8,
      guidance: 1.5,
    });
    const s = apply(
      initialState,
      { type: 'modelReady', info: plain },
      { type: 'receipt', receipt },
      { type: 'modelReady', info: withDefaults },
    );
    expect(s.settings).toEqual({
      sampler: 'ddim',
      steps: 12,
      eta: 0,
      seed: 5,
      numSamples: 1,
      init: 'lowlevel',
      strength: 0.8,
      guidance: 1.5,
    });
    expect(s.receiptModel).toBeUndefined();
  });
});

describe('status line: the actual blocker, refusals as errors', () => {
  const model = { sha256: 'a'.repeat(64), label: 'A' } as ModelInfo;
  const fileInfo = {
    name: 'x.npz',
    format: 'npz',
    sha256: 'b'.repeat(64),
    bytes: 1,
    voxels: 10,
    splits: [],
    defaultSplit: 'test-avg',
    roiNames: ['VC'],
  };
  const base = apply(
    initialState,
    { type: 'backendReady', info: { backend: 'wasm' } },
    { type: 'modelReady', info: model },
    { type: 'fileReady', info: fileInfo },
  );
  const info = (extra: object = {}) => ({
    ref: sample,
    voxelCount: 4466,
    voxels: new Float32Array(1),
    preprocess: null,
    roi: 'V1',
    ...extra,
  });

  it('names each blocker in order, with the rejected sample as an error', () => {
    expect(runBlocker(initialState)).toEqual({ tone: 'info', text: 'Starting the compute backend…' });
    expect(runBlocker(apply(initialState, { type: 'backendReady', info: { backend: 'wasm' } }))?.text).toBe('Load a model (Model panel).');
    expect(
      runBlocker(
        apply(
          initialState,
          { type: 'backendReady', info: { backend: 'wasm' } },
          { type: 'modelFailed', error: { code: 'BundleError', message: 'bad shard' } },
        ),
      ),
    ).toEqual({ tone: 'error', text: 'No model: loading failed — BundleError: bad shard' });
    expect(runBlocker(apply(base, { type: 'sampleLoading', ref: sample }))?.text).toBe('Reading the sample…');
    const rejected = apply(
      base,
      { type: 'sampleLoading', ref: sample },
      {
        type: 'sampleReady',
        info: info({ preprocessError: { code: 'FmriShapeError', message: 'the model expects 4511 voxels, got 4466' } }),
      },
    );
    // The model is ready and a sample is chosen: the message is the rejection, not "load a model".
    expect(runStatusLine(rejected)).toEqual({
      tone: 'error',
      text: 'The model cannot take this sample (4466 voxels, ROI V1) — FmriShapeError: the model expects 4511 voxels, got 4466',
    });
    const failed = apply(
      base,
      { type: 'sampleLoading', ref: sample },
      { type: 'sampleFailed', ref: sample, error: { code: 'RangeError', message: 'sample 9 out of range' } },
    );
    expect(runStatusLine(failed)).toEqual({ tone: 'error', text: 'The sample was rejected — RangeError: sample 9 out of range' });
    const ok = apply(base, { type: 'sampleLoading', ref: sample }, { type: 'sampleReady', info: info() });
    expect(runBlocker(ok)).toBeNull();
    expect(runStatusLine(ok)).toEqual({ tone: 'info', text: 'Ready to run.' });
  });

  it('a refused run is an error, not a stop; a failed run says where it failed', () => {
    const refused = apply(initialState, {
      type: 'runFailed',
      runId: 1,
      error: { code: 'RunSettingsError', message: 'steps must be an integer in 1..1000 (got 0)' },
    });
    expect(refused.run.status).toBe('idle');
    expect(runStatusLine(refused)).toEqual({
      tone: 'error',
      text: 'Run refused — RunSettingsError: steps must be an integer in 1..1000 (got 0)',
    });
    const failed = apply(started(), step(0), {
      type: 'runFailed',
      runId: 1,
      error: { code: 'GPUOutOfMemoryError', message: 'out of memory' },
    });
    expect(runStatusLine(failed)).toEqual({ tone: 'error', text: 'Run failed after 1 of 3 steps — GPUOutOfMemoryError: out of memory' });
    // a refusal of a new run while one runs leaves the running one alone and says so
    const busy = apply(started(), step(0), {
      type: 'runFailed',
      runId: 2,
      error: { code: 'Busy', message: 'a run is already in progress' },
    });
    expect(busy.run.status).toBe('running');
    expect(busy.notice).toEqual({ kind: 'error', text: 'Run refused — Busy: a run is already in progress' });
  });
});

describe('counterfactuals (issue 14): the form, the result of the run on screen, a dropped receipt replayed', () => {
  const model = { sha256: 'a'.repeat(64), label: 'A' } as ModelInfo;
  const file = { name: 'x.npz', sha256: 'c'.repeat(64), splits: [], roiNames: ['V1'] } as unknown as FileInfo;
  const ref = { split: 'test-avg', index: 3 };
  const cfSettings = { ...settings, seed: 2, steps: 4 };
  const receiptWith = (counterfactual: unknown, seed = 2) =>
    parseReceipt({
      kind: RECEIPT_KIND,
      receiptVersion: 1,
      appVersion: '0.1.0',
      createdAt: '2026-11-24T00:00:00Z',
      model: { name: 'A', sha256: model.sha256, synthetic: true },
      fmri: { fileName: file.name, sha256: file.sha256, split: ref.split, sampleIndex: ref.index },
      ...cfSettings,
      seed,
      backend: 'webgpu',
      ...(counterfactual ? { counterfactual } : {}),
    });
  const lesion = { kind: 'lesion', roi: 'V1', fill: 'shuffle', seed: 7 };
  const ready = apply(initialState, { type: 'modelReady', info: model }, { type: 'fileReady', info: file });
  // What the controller does after a drop: the receipt, then its sample (the file is open).
  const dropped = (counterfactual: unknown = lesion) =>
    apply(ready, { type: 'receipt', receipt: receiptWith(counterfactual) }, { type: 'sampleLoading', ref });
  const run = (runId: number, s = cfSettings, sample = ref): Action => ({ type: 'runStarted', runId, total: 4, settings: s, sample });
  const view = (original: number): CounterfactualView => ({
    edit: { kind: 'control', fill: 'mean', seed: 0 },
    description: 'all-mean control',
    original: Array.from({ length: original }, () => img),
    edited: [img],
  });

  it("restores the receipt's edit in the form and says it will be decoded beside the replayed run", () => {
    const s = dropped();
    expect(s.cf.form).toMatchObject({ kind: 'lesion', roi: 'V1', fill: 'shuffle', seed: 7 });
    expect(s.cf.replay).toMatchObject({ edit: lesion, sample: ref, settings: cfSettings, modelSha256: model.sha256 });
    expect(s.notice).toEqual({
      kind: 'info',
      text: 'Receipt settings applied (test-avg sample 3). Press Run to replay. The counterfactual (lesion V1 (shuffle, seed 7)) is decoded beside it once it is done.',
    });
    // Not before the run is done.
    expect(dueReplay(s)).toBeUndefined();
    expect(dueReplay(apply(s, run(1)))).toBeUndefined();
  });

  it('decodes it once the run of the receipt is done, and only once', () => {
    let s = apply(dropped(), run(1), { type: 'runEnded', runId: 1, reason: 'done' });
    expect(s.notice).toBeUndefined();
    expect(dueReplay(s)).toEqual(lesion);
    s = apply(s, { type: 'cfStarted', runId: 1 });
    expect(s.cf.status).toBe('busy');
    expect(s.cf.replay).toBeUndefined();
    expect(dueReplay(apply(s, { type: 'cfFailed', runId: 1, error: 'x' }))).toBeUndefined();
  });

  it('waits through reading the file again, and for a cancelled run, until a matching run is done', () => {
    let s = apply(dropped(), { type: 'fileReading', name: 'x.npz' }, { type: 'fileReady', info: file }, { type: 'sampleLoading', ref });
    s = apply(s, run(1), { type: 'runEnded', runId: 1, reason: 'cancelled' });
    expect(dueReplay(s)).toBeUndefined();
    s = apply(s, run(2), { type: 'runEnded', runId: 2, reason: 'done' });
    expect(dueReplay(s)).toEqual(lesion);
  });

  it('another run (seed, sample, model or file) drops it and says why', () => {
    const other = [
      apply(dropped(), run(1, { ...cfSettings, seed: 3 })),
      apply(dropped(), run(1, cfSettings, { split: 'test-avg', index: 4 })),
      apply(dropped(), { type: 'modelReady', info: { ...model, sha256: 'd'.repeat(64) } }, run(1)),
      apply(dropped(), { type: 'fileReady', info: { ...file, sha256: 'e'.repeat(64) } }, run(1)),
    ];
    for (const s of other) {
      expect(s.cf.replay).toBeUndefined();
      expect(s.notice?.kind).toBe('warning');
      expect(s.notice?.text).toMatch(/counterfactual \(lesion V1 \(shuffle, seed 7\)\) is not decoded beside this run/);
      expect(dueReplay(apply(s, { type: 'runEnded', runId: 1, reason: 'done' }))).toBeUndefined();
    }
  });

  it("an interpolation towards another file is restored but not replayed: the notice names decode's --interpolate", () => {
    const other = { fileName: 'y.npy', sha256: 'f'.repeat(64), split: 'all', sampleIndex: 2 };
    const s = dropped({ kind: 'interpolate', other, alpha: 0.25 });
    expect(s.cf.form).toMatchObject({ kind: 'interpolate', other: 2, alpha: 0.25 });
    expect(s.cf.replay).toBeUndefined();
    expect(s.notice?.kind).toBe('warning');
    expect(s.notice?.text).toMatch(/takes the other sample from y\.npy split 'all'.*--interpolate y\.npy/);
    // The same file and split replays.
    expect(
      dropped({ kind: 'interpolate', other: { ...other, fileName: file.name, sha256: file.sha256, split: ref.split }, alpha: 0.25 }).cf
        .replay,
    ).toBeDefined();
  });

  it('a receipt without an edit drops a waiting one', () => {
    expect(apply(dropped(), { type: 'receipt', receipt: receiptWith(undefined) }).cf.replay).toBeUndefined();
  });

  it('shows the result of the run on screen only; the original is decoded once per run and kept', () => {
    let s = apply(ready, { type: 'sampleLoading', ref }, run(1), { type: 'runEnded', runId: 1, reason: 'done' });
    s = apply(s, { type: 'cfStarted', runId: 1 }, { type: 'cfDone', runId: 1, view: view(1) });
    expect(counterfactualShown(s)?.original).toHaveLength(1);
    // The next edit skips the original (the engine sends none): the one on screen stays.
    s = apply(s, { type: 'cfStarted', runId: 1 });
    expect(counterfactualShown(s)?.original).toHaveLength(1);
    s = apply(s, { type: 'cfDone', runId: 1, view: view(0) });
    expect(counterfactualShown(s)?.original).toHaveLength(1);
    // A failure keeps the last result and says why.
    s = apply(s, { type: 'cfStarted', runId: 1 }, { type: 'cfFailed', runId: 1, error: 'sample 999 out of range' });
    expect(s.cf).toMatchObject({ status: 'error', error: 'sample 999 out of range' });
    expect(counterfactualShown(s)).toBeDefined();
    // A new run clears it; late answers for the old run, or for a run no longer shown, are dropped.
    const next = apply(s, run(2));
    expect(counterfactualShown(next)).toBeUndefined();
    expect(apply(next, { type: 'cfDone', runId: 1, view: view(1) }).cf.view).toBeUndefined();
    expect(apply(next, { type: 'cfStarted', runId: 1 }).cf.status).toBe('idle');
    const busy = apply(s, { type: 'cfStarted', runId: 1 }, { type: 'sampleLoading', ref: { ...ref, index: 0 } });
    const late = apply(busy, { type: 'cfDone', runId: 1, view: view(1) }).cf;
    expect(late.status).toBe('idle');
    expect(late.view).toBeUndefined();
  });

  it('the form keeps every field across kinds', () => {
    const s = apply(ready, { type: 'cfForm', patch: { kind: 'roi-only', value: 2 } }, { type: 'cfForm', patch: { kind: 'lesion' } });
    expect(s.cf.form).toMatchObject({ kind: 'lesion', value: 2, roi: 'V1' });
  });
});
