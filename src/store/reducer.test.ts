import { describe, expect, it } from 'vitest';
import type { ModelInfo, RgbaImage, StepPreview } from '../engine/protocol';
import { parseReceipt, RECEIPT_KIND } from '../engine/receipt';
import { initialState, lastPosition, normaliseSettings, PREVIEW_CACHE, reduce, type Action, type StudioState } from './reducer';

const img: RgbaImage = { width: 1, height: 1, pixels: new Uint8ClampedArray(4) };
const preview = (position: number): StepPreview => ({ position, x0: [img], xt: [img] });
const settings = { sampler: 'ddim' as const, steps: 3, eta: 0, seed: 1, numSamples: 1 };
const sample = { split: 'test-avg', index: 0 };

function apply(state: StudioState, ...actions: Action[]): StudioState {
  return actions.reduce(reduce, state);
}
const started = () => apply(initialState, { type: 'runStarted', total: 3, settings, sample });
const step = (i: number): Action => ({ type: 'step', step: { index: i, total: 3, t: 900 - i * 300, ms: 10 }, preview: preview(i) });

describe('studio reducer', () => {
  it('follows the newest step while running, then the final image', () => {
    let s = apply(started(), step(0), step(1));
    expect(s.run.steps).toHaveLength(2);
    expect(s.position).toBe(1);
    s = apply(s, step(2), { type: 'runEnded', reason: 'done' });
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
    s = apply(s, step(0), { type: 'runEnded', reason: 'cancelled' });
    expect(s.run.status).toBe('cancelled');
    expect(lastPosition(s.run)).toBe(0);
    expect(apply(s, step(1)).run.steps).toHaveLength(1);
  });

  it('evicts least recently used previews but keeps the one on screen', () => {
    let s = started();
    for (let i = 0; i < PREVIEW_CACHE + 5; i++) s = apply(s, { type: 'preview', preview: preview(i) });
    expect(Object.keys(s.previews)).toHaveLength(PREVIEW_CACHE);
    expect(s.position).toBe(0);
    expect(s.previews[0]).toBeDefined(); // on screen
    expect(s.previews[1]).toBeUndefined(); // least recently used after it
    expect(s.previews[PREVIEW_CACHE + 4]).toBeDefined();
  });

  it('normalises settings: integer ranges, PLMS forces eta 0', () => {
    expect(normaliseSettings({ sampler: 'plms', steps: 0, eta: 0.7, seed: -3.2, numSamples: 99 }))
      .toEqual({ sampler: 'plms', steps: 1, eta: 0, seed: 0, numSamples: 16 });
    const s = apply(initialState, { type: 'settings', patch: { eta: 2, steps: 12.4 } });
    expect(s.settings.eta).toBe(1);
    expect(s.settings.steps).toBe(12);
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
    const s = apply(initialState, { type: 'modelReady', info: a }, { type: 'runStarted', total: 3, settings, sample }, step(0));
    expect(apply(s, { type: 'modelReady', info: a }).run.steps).toHaveLength(1);
    expect(apply(s, { type: 'modelReady', info: { ...a, sha256: 'b'.repeat(64) } }).run.steps).toHaveLength(0);
    expect(apply(s, { type: 'fileReading', name: 'a.npy' }).run.status).toBe('idle');
    const failed = apply(s, { type: 'modelLoading', label: 'B' }, { type: 'modelFailed', error: { code: 'AbortError', message: 'cancelled' } });
    expect(failed.model).toMatchObject({ status: 'ready', info: a, error: { code: 'AbortError' } });
    expect(failed.run.steps).toHaveLength(1);
    expect(apply(initialState, { type: 'modelFailed', error: { code: 'BundleError', message: 'x' } }).model.status).toBe('error');
  });

  it('device loss stops the run and marks the model as reloading', () => {
    const model = { sha256: 'a'.repeat(64) } as ModelInfo;
    let s = apply(started(), { type: 'modelReady', info: model }, { type: 'runStarted', total: 3, settings, sample }, step(0));
    s = apply(s, { type: 'deviceLost', message: 'lost', info: { backend: 'wasm' } });
    expect(s.run.status).toBe('error');
    expect(s.run.error?.code).toBe('DeviceLost');
    expect(s.model.status).toBe('busy');
    expect(s.backend.info?.backend).toBe('wasm');
  });

  it('a receipt sets the sampler settings and says what does not match', () => {
    const receipt = parseReceipt({
      kind: RECEIPT_KIND, receiptVersion: 1, appVersion: '0.1.0', createdAt: '2026-11-24T00:00:00Z',
      model: { name: 'tiny', sha256: 'b'.repeat(64), synthetic: true },
      fmri: { fileName: 'x.npy', sha256: 'c'.repeat(64), split: 'all', sampleIndex: 0 },
      sampler: 'plms', steps: 10, eta: 0, seed: 42, numSamples: 3, backend: 'wasm',
    });
    const s = apply(initialState, { type: 'modelReady', info: { sha256: 'a'.repeat(64) } as ModelInfo }, { type: 'receipt', receipt });
    expect(s.settings).toEqual({ sampler: 'plms', steps: 10, eta: 0, seed: 42, numSamples: 3 });
    expect(s.notice?.kind).toBe('warning');
    expect(s.notice?.text).toMatch(/sha256 aaaaaaaaaaaa… differs/);
    expect(s.notice?.text).toMatch(/open x\.npy/);
  });
});
