// The Engine (the worker's state) driven in Node on tfjs's wasm CPU backend with the embedded default model and the
// bundled SYNTHETIC god-synth set: a full run, exports from the kept frames, and the races the worker must survive
// (file opened, model loaded, cancel twice, device loss and GPU error mid-run), each forced deterministically by
// pausing the run from the before-step hook.
import { beforeAll, describe, expect, it } from 'vitest';
import type { EngineEvent, RunSettings, SampleRef, StepPreview } from '../engine/protocol';
import { EngineCallError } from './client';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFmriFile } from '../io/fmriFile';
import { inModelOrder } from '../io/voxelOrder';
import type { ModelConfig } from '../model/config';
import { readVoxelPositions } from '../cli/nodeModel';
import { PYTHON } from '../../test/golden';
import { bundledFile, DATA_DIR, harness, MODEL_DIR, modelSource, type Harness } from '../../test/engineTestKit';

const settings: RunSettings = { sampler: 'ddim', steps: 4, eta: 0, seed: 7, numSamples: 2, init: 'noise', strength: 1, guidance: 1 };
const sample: SampleRef = { split: 'test-avg', index: 0 };

/** PNG width and height from the IHDR chunk. */
function pngSize(bytes: Uint8Array): [number, number] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset);
  return [dv.getUint32(16), dv.getUint32(20)];
}

const stepsOf = (events: EngineEvent[], runId: number) => events.filter((e) => e.event === 'step' && e.runId === runId);

async function ready(): Promise<Harness> {
  const h = harness();
  await h.engine.handle('init', { prefer: ['cpu'] });
  await h.engine.handle('loadModel', { source: await modelSource(), save: false });
  await h.engine.handle('readFile', await bundledFile());
  await h.engine.handle('selectSample', sample);
  return h;
}

/** Rejection code of a promise (EngineCallError-like: the thrown error's name). */
async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return e instanceof EngineCallError ? e.error.code : (e as Error).name;
  }
  return 'resolved';
}

describe('Engine on a CPU backend (tfjs wasm)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await ready();
  });

  it('refuses a run without a model or file, naming what is missing', async () => {
    const bare = harness();
    await bare.engine.handle('init', { prefer: ['cpu'] });
    expect(await codeOf(bare.engine.handle('run', { runId: 1, settings, sample }))).toBe('NoModel');
    expect(await codeOf(bare.engine.handle('export', { format: 'png', position: 0, sample: 0, scale: 1, baseName: 'x' }))).toBe('NoRun');
    expect(bare.events.filter((e) => e.event === 'runStarted')).toHaveLength(0);
  });

  let final: StepPreview | undefined;
  it('runs to Done and answers with the final frame: images, metrics, mean, sd map and spread together', async () => {
    const r = await h.engine.handle('run', { runId: 1, settings, sample });
    expect(r.reason).toBe('done');
    expect(r.steps).toBe(4);
    expect(stepsOf(h.events, 1)).toHaveLength(4);
    final = r.final;
    expect(final?.position).toBe(4);
    expect(final?.x0).toHaveLength(2);
    expect(final?.metrics).toHaveLength(2);
    expect(Number.isFinite(final!.metrics![0].pcc)).toBe(true);
    expect(final?.meanMetrics?.ssim).toBeTypeOf('number');
    expect(final?.std?.width).toBe(32);
    expect(final!.stdMax!).toBeGreaterThan(0);
    const sp = final!.spread!;
    expect(sp.pcc.min).toBe(Math.min(final!.metrics![0].pcc, final!.metrics![1].pcc));
    expect(sp.pcc.max).toBe(Math.max(final!.metrics![0].pcc, final!.metrics![1].pcc));
    expect(sp.pcc.sd).toBeCloseTo(Math.abs(final!.metrics![0].pcc - final!.metrics![1].pcc) / 2, 12);
  });

  it('exports from the kept frames: PNG at ×1 and ×8, mean, sd map, sheet; the preview is the same final frame', async () => {
    const png1 = await h.engine.handle('export', { format: 'png', position: 4, sample: 0, scale: 1, baseName: 't' });
    expect(pngSize(png1.bytes)).toEqual([32, 32]);
    expect(png1.fileName).toBe('t-final-sample0-x1.png');
    const png8 = await h.engine.handle('export', { format: 'png', position: 4, sample: 1, scale: 8, baseName: 't' });
    expect(pngSize(png8.bytes)).toEqual([256, 256]);
    const mean = await h.engine.handle('export', { format: 'png', position: 4, sample: 'mean', scale: 8, baseName: 't' });
    expect(mean.fileName).toBe('t-final-mean2-x8.png');
    const sd = await h.engine.handle('export', { format: 'png', position: 4, sample: 'std', scale: 2, baseName: 't' });
    expect(pngSize(sd.bytes)).toEqual([64, 64]);
    const sheet = await h.engine.handle('export', { format: 'sheet', position: 4, sample: 0, scale: 4, baseName: 't' });
    const [w] = pngSize(sheet.bytes);
    // ground truth, 2 samples, mean and sd map, each 128 px wide, side by side
    expect(w).toBeGreaterThanOrEqual(5 * 128);
    expect(new TextDecoder('latin1').decode(sheet.bytes)).toContain(`PCC ${final!.metrics![0].pcc.toFixed(3)}`);
    expect(await codeOf(h.engine.handle('export', { format: 'png', position: 4, sample: 0, scale: 17, baseName: 't' }))).toBe(
      'ExportError',
    );
    expect(await codeOf(h.engine.handle('export', { format: 'png', position: 4, sample: 2, scale: 1, baseName: 't' }))).toBe('ExportError');
    const p = await h.engine.handle('preview', { position: 4 });
    expect(p.metrics).toEqual(final!.metrics);
    expect(Array.from(p.x0[0].pixels)).toEqual(Array.from(final!.x0[0].pixels));
  });

  it('refuses a second run while one is active (Busy), and the first one goes on', async () => {
    let second: Promise<string> | undefined;
    h.beforeStep.fn = (id, pos) => {
      if (id === 2 && pos === 1) second = codeOf(h.engine.handle('run', { runId: 3, settings, sample }));
    };
    const r = await h.engine.handle('run', { runId: 2, settings, sample });
    h.beforeStep.fn = undefined;
    expect(await second).toBe('Busy');
    expect(r.reason).toBe('done');
    expect(h.events.some((e) => e.event === 'runStarted' && e.runId === 3)).toBe(false);
  });

  it('cancel twice: both calls resolve, the run ends cancelled once, no step after the cancel returned', async () => {
    let cancels: Promise<unknown>[] = [];
    h.beforeStep.fn = (id, pos) => {
      if (id === 4 && pos === 1) cancels = [h.engine.handle('cancel', {}), h.engine.handle('cancel', {})];
    };
    const r = await h.engine.handle('run', { runId: 4, settings, sample });
    h.beforeStep.fn = undefined;
    await Promise.all(cancels);
    const after = stepsOf(h.events, 4).length;
    expect(r.reason).toBe('cancelled');
    expect(r.final).toBeUndefined();
    expect(after).toBe(1);
    // a cancel with no run is a no-op
    await h.engine.handle('cancel', {});
    expect(stepsOf(h.events, 4)).toHaveLength(after);
  });

  it('opening a file during a run cancels the run first; the run is gone with the old file', async () => {
    let opened: Promise<unknown> | undefined;
    h.beforeStep.fn = async (id, pos) => {
      if (id === 5 && pos === 1) {
        await h.engine.handle('pause', {});
        opened = bundledFile().then((f) => h.engine.handle('readFile', f));
      }
    };
    const r = await h.engine.handle('run', { runId: 5, settings, sample });
    h.beforeStep.fn = undefined;
    await opened;
    // step 0, and step 1 that was computing when the hook paused the run; none after
    expect(r.reason).toBe('cancelled');
    expect(stepsOf(h.events, 5)).toHaveLength(2);
    expect(await codeOf(h.engine.handle('preview', { position: 0 }))).toBe('NoRun');
  });

  it('loading a model during a run waits for the run to release the old weights, then runs work on the new one', async () => {
    let loaded: Promise<unknown> | undefined;
    h.beforeStep.fn = async (id, pos) => {
      if (id === 6 && pos === 1) {
        await h.engine.handle('pause', {});
        loaded = modelSource().then((source) => h.engine.handle('loadModel', { source, save: false }));
      }
    };
    const r = await h.engine.handle('run', { runId: 6, settings, sample });
    h.beforeStep.fn = undefined;
    expect(r.reason).toBe('cancelled');
    await loaded;
    const again = await h.engine.handle('run', { runId: 7, settings, sample });
    expect(again.reason).toBe('done');
    // Same seed, same model bytes: the run on the reloaded model reproduces the first run's final pixels.
    expect(Array.from(again.final!.x0[0].pixels)).toEqual(Array.from(final!.x0[0].pixels));
  });

  it('a GPU error mid-run fails the run with that error rather than showing its images', async () => {
    h.beforeStep.fn = (id, pos) => {
      if (id === 8 && pos === 1) h.gpu.raiseGpuError({ code: 'GPUOutOfMemoryError', message: 'out of memory (simulated)' });
    };
    const code = await codeOf(h.engine.handle('run', { runId: 8, settings, sample }));
    h.beforeStep.fn = undefined;
    expect(code).toBe('GPUOutOfMemoryError');
    expect(stepsOf(h.events, 8)).toHaveLength(1);
  });

  it('device loss mid-step fails the run, falls back, reloads the model, and the next run works', async () => {
    const before = h.events.length;
    h.beforeStep.fn = (id, pos) => {
      if (id === 9 && pos === 1) h.gpu.loseDevice('device destroyed (simulated)');
    };
    const code = await codeOf(h.engine.handle('run', { runId: 9, settings, sample }));
    h.beforeStep.fn = undefined;
    expect(code).toBe('DeviceLost');
    // The reload waits for the run to end, then emits modelReloaded.
    for (let i = 0; i < 600 && !h.events.slice(before).some((e) => e.event === 'modelReloaded'); i++)
      await new Promise((r) => setTimeout(r, 50));
    const kinds = h.events.slice(before).map((e) => e.event);
    expect(kinds.indexOf('deviceLost')).toBeGreaterThanOrEqual(0);
    expect(kinds.indexOf('modelReloaded')).toBeGreaterThan(kinds.indexOf('deviceLost'));
    expect(h.gpu.dropped).toBe(1);
    expect(stepsOf(h.events, 9)).toHaveLength(1);
    const next = await h.engine.handle('run', { runId: 10, settings, sample });
    expect(next.reason).toBe('done');
  });
});

describe('explain op: the brain slice gets the coordinates the reader put in the file', () => {
  const one: RunSettings = { ...settings, steps: 1, numSamples: 1 };
  const explainAfterRun = async (h: Harness, ref: SampleRef, runId: number) => {
    await h.engine.handle('selectSample', ref);
    expect((await h.engine.handle('run', { runId, settings: one, sample: ref })).reason).toBe('done');
    return h.engine.handle('explain', { position: 0, sample: 0 });
  };
  const blob = async (name: string) => ({ name, file: new Blob([await readFile(join(DATA_DIR, name))]) });

  it("the bundled .npz's voxel_xyz (mm, VC voxels), then the NIfTI sample's mask grid (i, j, k) in the model's voxel order", async () => {
    const h = await ready();
    const npz = await explainAfterRun(h, sample, 1);
    const god = await readFmriFile('sbj_3.npz', new Uint8Array(await readFile(join(DATA_DIR, 'sbj_3.npz'))));
    expect(npz.coords).toMatchObject({ space: 'mm', step: 3 });
    expect(npz.coords?.xyz).toEqual(god.coords?.xyz);
    expect(npz.coords?.xyz).toHaveLength(3 * npz.importance.length);

    await h.engine.handle('readFile', { ...(await blob('sample_test0.nii.gz')), mask: await blob('sample_mask.nii.gz') });
    const nii = await explainAfterRun(h, { split: 'all', index: 0 }, 2);
    const maskBytes = new Uint8Array(await readFile(join(DATA_DIR, 'sample_mask.nii.gz')));
    const grid = await readFmriFile('sample_test0.nii.gz', new Uint8Array(await readFile(join(DATA_DIR, 'sample_test0.nii.gz'))), {
      mask: maskBytes,
    });
    expect(nii.coords).toMatchObject({ space: 'grid', step: 1, dims: [60, 72, 60], affine: { from: 'sform', file: 'sample_mask.nii.gz' } });
    // The grid's (i, j, k), reordered as the voxels were: row v is the model's voxel v.
    expect(nii.coords?.xyz).toHaveLength(3 * 4511);
    expect(nii.coords?.xyz).not.toEqual(grid.coords?.xyz);
    const { config } = JSON.parse(await readFile(join(MODEL_DIR, 'manifest.json'), 'utf8')) as { config: ModelConfig };
    expect(nii.coords?.xyz).toEqual(inModelOrder(grid, { config, voxelXyzMm: await readVoxelPositions(MODEL_DIR) }).file.coords?.xyz);
  });
});

describe("the studio's samples in the model's voxel order", () => {
  const blob = async (name: string, dir = DATA_DIR) => ({ name, file: new Blob([await readFile(join(dir, name))]) });
  const one: RunSettings = { ...settings, steps: 1, numSamples: 1 };
  const ref: SampleRef = { split: 'all', index: 0 };

  it("the NIfTI sample through its mask: the .npy's vector, with the note; a mask lacking model voxels: refused in the sample and the run", async () => {
    const h = await ready();
    await h.engine.handle('readFile', { ...(await blob('sample_test0.nii.gz')), mask: await blob('sample_mask.nii.gz') });
    const info = await h.engine.handle('selectSample', ref);
    const npy = await readFmriFile('sample_test0.npy', new Uint8Array(await readFile(join(DATA_DIR, 'sample_test0.npy'))));
    expect(Array.from(info.voxels)).toEqual(Array.from(npy.getSample(0)));
    expect(info.voxelOrder).toBe(
      "voxel order: put into the model's (its 4,511 voxels' positions matched in mm through sample_mask.nii.gz's sform)",
    );
    expect(info.preprocessError).toBeUndefined();
    expect(info.preprocess?.rawVoxels).toBe(4511);

    // The mask less three voxels: the sample is shown as read, with the refusal; a run is refused, never started.
    const tmp = await mkdtemp(join(tmpdir(), 'engine-order-'));
    try {
      execFileSync(PYTHON, [
        '-c',
        'import sys, numpy as np, nibabel as nib\n' +
          "m = nib.load(sys.argv[1] + '/sample_mask.nii.gz'); d = m.get_fdata().astype(np.uint8); d[tuple(np.argwhere(d)[:3].T)] = 0\n" +
          "nib.Nifti1Image(d, m.affine).to_filename(sys.argv[2] + '/less.nii.gz')",
        DATA_DIR,
        tmp,
      ]);
      await h.engine.handle('readFile', { ...(await blob('sample_test0.nii.gz')), mask: await blob('less.nii.gz', tmp) });
      const refused = await h.engine.handle('selectSample', ref);
      expect(refused.voxelCount).toBe(4508);
      expect(refused.preprocessError?.code).toBe('VoxelOrderError');
      expect(refused.preprocessError?.message).toMatch(
        /^3 of the 4,511 voxels the model default-god-synth-sbj3 takes are not among the 4,508 voxels of sample_test0\.nii\.gz, the first at \(.+\) mm; the mask is not the one the model was trained on/,
      );
      const before = h.events.length;
      expect(await codeOf(h.engine.handle('run', { runId: 50, settings: one, sample: ref }))).toBe('VoxelOrderError');
      expect(h.events.slice(before).filter((e) => e.event === 'runStarted')).toHaveLength(0);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});
