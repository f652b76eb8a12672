import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { goldenArray, goldenConfig, goldenDir, goldenWeights, webgpuInNode } from '../../test/golden';
import { maxRel } from '../../test/compare';
import type { ModelConfig } from './config';
import type { WeightMap } from './weights';
import { fmriEncoder, prepareFmriEncoder } from './fmriEncoder';

const PREFIX = 'cond_stage_model.mae.';

interface Golden {
  dir: string;
  cfg: ModelConfig;
  fmri: Float32Array;
  out: Float32Array;
}

async function loadGolden(): Promise<Golden> {
  const dir = await goldenDir('tiny');
  return {
    dir,
    cfg: await goldenConfig(dir),
    fmri: (await goldenArray(dir, 'fmri')).data,
    out: (await goldenArray(dir, 'encoder_out')).data,
  };
}

const encoderWeights = (g: Golden): Promise<Record<string, tf.Tensor>> => goldenWeights(g.dir, (n) => n.startsWith(PREFIX));

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
beforeAll(async () => {
  golden = await loadGolden();
});

describe.each(['cpu', 'wasm'])('fmriEncoder on %s', (backend) => {
  beforeAll(async () => {
    expect(await tf.setBackend(backend)).toBe(true);
  });
  afterAll(() => tf.disposeVariables());

  it('matches the PyTorch encoder output to 1e-4 without leaking tensors', async () => {
    const w = await encoderWeights(golden);
    const { out, leaked } = run(golden, w);
    expect(maxRel(out, golden.out)).toBeLessThanOrEqual(1e-4);
    expect(leaked).toBe(0);
    tf.dispose(Object.values(w));
  });

  it('fails parity when one weight is off by 1e-3 (the check can fail)', async () => {
    const w = await encoderWeights(golden);
    const name = `${PREFIX}patch_embed.proj.weight`;
    const bumped = w[name].dataSync().slice();
    bumped[0] += 1e-3;
    const shape = w[name].shape;
    w[name].dispose();
    w[name] = tf.tensor(bumped, shape);
    const { out } = run(golden, w);
    // Measured ≈ 3.8e-4: the first patch-embed tap reaches every token through attention.
    expect(maxRel(out, golden.out)).toBeGreaterThan(1e-4);
    tf.dispose(Object.values(w));
  });

  it('names the tensor whose shape disagrees with the config', async () => {
    const w = await encoderWeights(golden);
    const cfg = { ...golden.cfg, encoder: { ...golden.cfg.encoder, numVoxels: 128 } };
    expect(() => prepareFmriEncoder(cfg, w)).toThrow(
      /cond_stage_model\.mae\.pos_embed has shape \[1,8,128\] but the config needs \[1,9,128\]/,
    );
    tf.dispose(Object.values(w));
  });
});

describe('fmriEncoder on webgpu (SwiftShader in Node)', () => {
  const webgpu = webgpuInNode();

  it('matches the PyTorch encoder output to 1e-4', async () => {
    // scripts/setup-test-deps.sh installs chromium (SwiftShader) and libvulkan1, so an adapter must exist.
    expect(webgpu(), 'no WebGPU adapter in Node: run scripts/setup-test-deps.sh').toBe(true);
    const w = await encoderWeights(golden);
    const params = prepareFmriEncoder(golden.cfg, w);
    const x = tf.tensor2d(golden.fmri, [2, golden.cfg.encoder.numVoxels]);
    const y = fmriEncoder(golden.cfg, params, x);
    const out = await y.data();
    expect(maxRel(out, golden.out)).toBeLessThanOrEqual(1e-4);
    tf.dispose([x, y, params.patchWeight, params.pos, ...Object.values(w)]);
  });
});
