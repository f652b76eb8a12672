import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { goldenDir, goldenNpy } from '../../test/golden';
import { npyToFloat32 } from '../io/npy';
import type { ModelConfig } from './config';
import type { WeightMap } from './weights';
import { fmriEncoder, prepareFmriEncoder } from './fmriEncoder';

const PREFIX = 'cond_stage_model.mae.';

/** max|a − b| / max|b| */
function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0, m = 0;
  for (let i = 0; i < b.length; i++) { d = Math.max(d, Math.abs(a[i] - b[i])); m = Math.max(m, Math.abs(b[i])); }
  return d / m;
}

interface Golden { cfg: ModelConfig; weights: Record<string, { data: Float32Array; shape: number[] }>; fmri: Float32Array; out: Float32Array }

async function loadGolden(): Promise<Golden> {
  const dir = await goldenDir('tiny');
  const cfg = JSON.parse(await readFile(join(dir, 'model_config.json'), 'utf8')) as ModelConfig;
  const names = (JSON.parse(await readFile(join(dir, 'tensors.json'), 'utf8')) as string[]).filter((n) => n.startsWith(PREFIX));
  const weights: Golden['weights'] = {};
  for (const n of names) {
    const a = await goldenNpy(dir, `tensors/${n}`);
    weights[n] = { data: npyToFloat32(a), shape: a.shape };
  }
  return { cfg, weights, fmri: npyToFloat32(await goldenNpy(dir, 'fmri')), out: npyToFloat32(await goldenNpy(dir, 'encoder_out')) };
}

function toWeightMap(g: Golden, edit?: (name: string, data: Float32Array) => void): WeightMap {
  const w: Record<string, tf.Tensor> = {};
  for (const [n, { data, shape }] of Object.entries(g.weights)) {
    const copy = data.slice();
    edit?.(n, copy);
    w[n] = tf.tensor(copy, shape);
  }
  return w;
}

/** Runs the encoder on the golden fMRI; returns the output and the tensor count change (leaks). */
function run(g: Golden, w: WeightMap): { out: Float32Array; leaked: number } {
  const params = prepareFmriEncoder(g.cfg, w);
  const x = tf.tensor2d(g.fmri, [g.fmri.length / g.cfg.encoder.numVoxels, g.cfg.encoder.numVoxels]);
  const before = tf.memory().numTensors;
  const y = fmriEncoder(g.cfg, params, x);
  const leaked = tf.memory().numTensors - before - 1;
  const out = y.dataSync() as Float32Array;
  expect(y.shape).toEqual([2, 7, 128]);
  y.dispose();
  x.dispose();
  return { out, leaked };
}

let golden: Golden;
beforeAll(async () => { golden = await loadGolden(); });

describe.each(['cpu', 'wasm'])('fmriEncoder on %s', (backend) => {
  beforeAll(async () => { expect(await tf.setBackend(backend)).toBe(true); });
  afterAll(() => tf.disposeVariables());

  it('matches the PyTorch encoder output to 1e-4 without leaking tensors', () => {
    const w = toWeightMap(golden);
    const { out, leaked } = run(golden, w);
    expect(maxRel(out, golden.out)).toBeLessThanOrEqual(1e-4);
    expect(leaked).toBe(0);
    tf.dispose(Object.values(w));
  });

  it('fails parity when one weight is off by 1e-3 (the check can fail)', () => {
    const w = toWeightMap(golden, (n, d) => { if (n === `${PREFIX}patch_embed.proj.weight`) d[0] += 1e-3; });
    const { out } = run(golden, w);
    // Measured ≈ 3.8e-4: the first patch-embed tap reaches every token through attention.
    expect(maxRel(out, golden.out)).toBeGreaterThan(1e-4);
    tf.dispose(Object.values(w));
  });

  it('names the tensor whose shape disagrees with the config', () => {
    const w = toWeightMap(golden);
    const cfg = { ...golden.cfg, encoder: { ...golden.cfg.encoder, numVoxels: 128 } };
    expect(() => prepareFmriEncoder(cfg, w)).toThrow(/cond_stage_model\.mae\.pos_embed has shape \[1,8,128\] but the config needs \[1,9,128\]/);
    tf.dispose(Object.values(w));
  });
});

describe('fmriEncoder on webgpu (SwiftShader in Node)', () => {
  let ok = false;
  beforeAll(async () => {
    try {
      await import('@tensorflow/tfjs-backend-webgpu');
      ok = await tf.setBackend('webgpu');
    } catch { ok = false; }
  });
  afterAll(async () => { await tf.setBackend('cpu'); });

  it('matches the PyTorch encoder output to 1e-4', async () => {
    // scripts/setup-test-deps.sh installs chromium (SwiftShader) and libvulkan1, so an adapter must exist.
    expect(ok, 'no WebGPU adapter in Node: run scripts/setup-test-deps.sh').toBe(true);
    const w = toWeightMap(golden);
    const params = prepareFmriEncoder(golden.cfg, w);
    const x = tf.tensor2d(golden.fmri, [2, golden.cfg.encoder.numVoxels]);
    const y = fmriEncoder(golden.cfg, params, x);
    const out = await y.data();
    expect(maxRel(out, golden.out)).toBeLessThanOrEqual(1e-4);
    tf.dispose([x, y, params.patchWeight, params.pos, ...Object.values(w)]);
  });
});
