// A studio receipt replays in the CLI to the same pixels: the Engine (the worker's state, in Node on tfjs wasm) decodes
// a sample of the bundled SYNTHETIC set, the reducer takes its answers as the studio would, studioReceipt writes the
// receipt, and `npm run decode -- --receipt` (a separate process) must write byte-identical sample PNGs.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { RunSettings, SampleRef } from '../engine/protocol';
import { parseReceipt, receiptArgs, receiptToJson } from '../engine/receipt';
import { bundledFile, DATA_DIR, harness, MODEL_DIR, modelSource } from '../../test/engineTestKit';
import { initialState, reduce, type Action, type StudioState } from './reducer';
import { studioReceipt } from './receipt';

const run = promisify(execFile);

describe('studio receipt → npm run decode --receipt', () => {
  it('carries ROI, scale and metrics, and replays to the same pixels', async () => {
    const h = harness();
    const engine = h.engine;
    let s: StudioState = initialState;
    const apply = (a: Action) => {
      s = reduce(s, a);
    };
    apply({ type: 'backendReady', info: await engine.handle('init', { prefer: ['wasm'] }) });
    apply({ type: 'modelReady', info: (await engine.handle('loadModel', { source: await modelSource(), save: false })).info });
    const f = await bundledFile();
    apply({ type: 'fileReading', name: f.name });
    // read with an explicit value scale of 1 so the receipt has one to carry (the pixels are those of no scale)
    apply({ type: 'fileReady', info: await engine.handle('readFile', { ...f, scale: 1 }) });
    const ref: SampleRef = { split: 'test-avg', index: 1 };
    apply({ type: 'sampleLoading', ref });
    apply({ type: 'sampleReady', info: await engine.handle('selectSample', ref) });
    const settings: RunSettings = { sampler: 'ddim', steps: 4, eta: 0, seed: 11, numSamples: 2, init: 'noise', strength: 1, guidance: 1 };
    const r = await engine.handle('run', { runId: 1, settings, sample: ref });
    for (const e of h.events) {
      if (e.event === 'runStarted') apply({ type: 'runStarted', runId: e.runId, total: e.total, settings: e.settings, sample: e.sample });
      if (e.event === 'step') apply({ type: 'step', runId: e.runId, step: e.step, preview: e.preview });
    }
    apply({ type: 'runEnded', runId: 1, reason: r.reason, ...(r.final ? { final: r.final } : {}) });
    expect(s.run.status).toBe('done');

    const receipt = studioReceipt(s, '0.0.0-test')!;
    expect(receipt.fmri).toMatchObject({ fileName: 'sbj_3.npz', split: 'test-avg', sampleIndex: 1, roi: 'VC', scale: 1 });
    expect(receipt.metrics?.perSample.map((m) => m.pcc)).toEqual(r.final!.metrics!.map((m) => m.pcc));
    expect(receipt.metrics?.spread?.ssim.sd).toBe(r.final!.spread!.ssim.sd);
    expect(receipt.metrics?.pixelSd?.max).toBe(r.final!.stdMax);
    // what the studio writes, the CLI parses back unchanged
    const json = receiptToJson(receipt);
    expect(parseReceipt(json)).toEqual(receipt);
    expect(receiptArgs(receipt)).toMatchObject({ roi: 'VC', scale: '1', split: 'test-avg', sample: 1, seed: 11, samples: 2 });

    const dir = await mkdtemp(join(tmpdir(), 'receipt-replay-'));
    try {
      await writeFile(join(dir, 'receipt.json'), json);
      await run(
        'npx',
        [
          'tsx',
          'src/cli/decode.ts',
          '--receipt',
          join(dir, 'receipt.json'),
          '--fmri',
          join(DATA_DIR, 'sbj_3.npz'),
          '--model',
          MODEL_DIR,
          '--backend',
          'wasm',
          '--out',
          join(dir, 'out'),
        ],
        { timeout: 180_000 },
      );
      for (let i = 0; i < 2; i++) {
        const studio = await engine.handle('export', { format: 'png', position: r.steps, sample: i, scale: 1, baseName: 'x' });
        const cli = new Uint8Array(await readFile(join(dir, 'out', `sample_${i}.png`)));
        expect(cli.length).toBeGreaterThan(100);
        expect(Buffer.from(cli).equals(Buffer.from(studio.bytes))).toBe(true);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
