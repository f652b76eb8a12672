// Low-level decoder (fMRI → grey image → VQ-encoded start latent) against the PyTorch reference
// (python/cad_ref/lowlevel.py, golden `lowlevel_pix` / `lowlevel_z0` of the golden fMRI), on cpu and wasm,
// through the engine model the way the pipeline uses it (prepared weights released, as loadModel does).
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { goldenArray, goldenConfig, goldenDir, goldenExtras, goldenWeights, type HostArray } from '../../test/golden';
import { maxRel } from '../../test/compare';
import type { ModelConfig } from './config';
import { WeightMismatchError } from './layout';
import { countParams, modelFromWeights, type EngineModel } from '../engine/pipeline';
import {
  hasLowLevel,
  lowLevelLatent,
  lowLevelLatentTensors,
  LowLevelInputError,
  LOWLEVEL_COEF_NORM,
  LOWLEVEL_NAMES,
  lowLevelPixels,
  NoLowLevelError,
  prepareLowLevel,
} from './lowlevel';
import { prepareVQ, vqEncode } from './vq';

let dir: string;
let cfg: ModelConfig;
let fmri: HostArray, pix: HostArray, z0: HostArray, pixRaw: HostArray;

beforeAll(async () => {
  dir = await goldenDir('tiny');
  cfg = await goldenConfig(dir);
  [fmri, pix, z0, pixRaw] = await Promise.all(['fmri', 'lowlevel_pix', 'lowlevel_z0', 'lowlevel_pix_raw'].map((n) => goldenArray(dir, n)));
});

/** All golden phase-3 weights plus the low-level tensors, minus the names `drop` rejects. */
async function allWeights(drop: (n: string) => boolean = () => false): Promise<Record<string, tf.Tensor>> {
  const w = { ...(await goldenWeights(dir)), ...(await goldenExtras(dir)) };
  for (const n of Object.keys(w))
    if (drop(n)) {
      w[n].dispose();
      delete w[n];
    }
  return w;
}

describe('golden low-level vectors', () => {
  it('have the shapes of the plan and pixels spread over [0, 1] with some clamped', () => {
    expect(pix.shape).toEqual([2, cfg.vq.resolution ** 2]);
    expect(z0.shape).toEqual([2, cfg.vq.embedDim, 8, 8]);
    const clamped = pix.data.filter((v) => v === 0 || v === 1).length / pix.data.length;
    expect(clamped).toBeGreaterThan(0.01);
    expect(clamped).toBeLessThan(0.3);
  });
});

describe.each(['cpu', 'wasm'])('low-level decoder on %s', (backend) => {
  let model: EngineModel;
  beforeAll(async () => {
    expect(await tf.setBackend(backend)).toBe(true);
    // As loadModel: the original kernels are freed once re-laid out; the low-level tensors must survive.
    model = modelFromWeights(cfg, await allWeights(), undefined, { releaseRelaid: true });
    return () => model.dispose();
  });

  it('lowLevelLatent matches PyTorch: pixels and z0 (≤ 1e-4), both fMRI rows at once and one at a time', async () => {
    expect(hasLowLevel(model)).toBe(true);
    for (const name of Object.values(LOWLEVEL_NAMES)) expect(model.weights[name]?.isDisposed, name).toBe(false);
    const before = tf.memory().numTensors;
    const both = await lowLevelLatent(model, fmri.data);
    expect(tf.memory().numTensors).toBe(before);
    expect(maxRel(both.pixels, pix.data)).toBeLessThanOrEqual(1e-4);
    expect(maxRel(both.latent, z0.data)).toBeLessThanOrEqual(1e-4);
    const v = cfg.encoder.numVoxels,
      rr = pix.data.length / 2,
      zz = z0.data.length / 2;
    const one = await lowLevelLatent(model, fmri.data.slice(v, 2 * v));
    expect(one.pixels.length).toBe(rr);
    expect(one.latent.length).toBe(zz);
    expect(maxRel(one.pixels, pix.data.subarray(rr))).toBeLessThanOrEqual(1e-4);
    expect(maxRel(one.latent, z0.data.subarray(zz))).toBeLessThanOrEqual(1e-4);
  });

  it('the VQ encoder alone maps the golden low-level image to z0 (≤ 1e-4)', () => {
    const img = tf.tidy(() => tf.sub(tf.mul(tf.tile(tf.reshape(tf.tensor(pix.data), [2, 1, 32, 32]), [1, 3, 1, 1]), 2), 1) as tf.Tensor4D);
    const z = vqEncode(cfg, model.vq, img);
    expect(maxRel(z.dataSync(), z0.data)).toBeLessThanOrEqual(1e-4);
    tf.dispose([img, z]);
  });

  it('fails parity when one ridge weight is off by 1e-3 (the test can fail)', async () => {
    const w = await allWeights((n) => !n.startsWith('first_stage_model.') && !n.startsWith('decoding_studio.'));
    const name = LOWLEVEL_NAMES.ridgeWeight;
    const bumped = tf.tidy(() => tf.add(w[name], tf.reshape(tf.mul(tf.oneHot([5], w[name].size), 1e-3), w[name].shape)));
    const vq = prepareVQ(cfg, w);
    const p = prepareLowLevel(cfg, { ...w, [name]: bumped })!;
    const x = tf.tensor2d(fmri.data, fmri.shape as [number, number]);
    const out = lowLevelLatentTensors(cfg, p, vq, x);
    expect(maxRel(out.pixels.dataSync(), pix.data)).toBeGreaterThan(1e-4);
    expect(maxRel(out.latent.dataSync(), z0.data)).toBeGreaterThan(1e-4);
    tf.dispose([x, bumped, out.pixels, out.latent, ...Object.values(w)]);
  });

  it('without coef_norm (older bundles) the raw ridge rows are used, as PyTorch (≤ 1e-4), and differ from the rescaled ones', async () => {
    const w = await allWeights((n) => n.startsWith('decoding_studio.'));
    const ex = await goldenExtras(dir);
    expect(ex[LOWLEVEL_COEF_NORM]?.shape).toEqual([1]);
    const p = prepareLowLevel(cfg, { ...w, ...ex })!;
    expect(p.coefNorm).toBeDefined();
    const { [LOWLEVEL_COEF_NORM]: norm, ...rest } = ex;
    const raw = prepareLowLevel(cfg, { ...w, ...rest })!;
    expect(raw.coefNorm).toBeUndefined();
    const x = tf.tensor2d(fmri.data, fmri.shape as [number, number]);
    const a = lowLevelPixels(raw, x);
    expect(maxRel(a.dataSync(), pixRaw.data)).toBeLessThanOrEqual(1e-4);
    expect(maxRel(a.dataSync(), pix.data)).toBeGreaterThan(1e-2);
    const b = lowLevelPixels(p, tf.zerosLike(x) as tf.Tensor2D);
    const meanOnly = lowLevelPixels(raw, tf.zerosLike(x) as tf.Tensor2D);
    // A zero prediction is not divided by zero: bias-only rows rescale, the result stays finite.
    expect(b.dataSync().every(Number.isFinite)).toBe(true);
    expect(meanOnly.dataSync().every(Number.isFinite)).toBe(true);
    tf.dispose([x, a, b, meanOnly, norm, ...Object.values(rest), ...Object.values(w)]);
  });

  it('rejects a coef_norm of the wrong shape', async () => {
    const w = await allWeights();
    const bad = tf.tensor1d([1, 2]);
    expect(() => prepareLowLevel(cfg, { ...w, [LOWLEVEL_COEF_NORM]: bad })).toThrow(WeightMismatchError);
    expect(() => prepareLowLevel(cfg, { ...w, [LOWLEVEL_COEF_NORM]: bad })).toThrow(/coef_norm: expected \[1\], found \[2\]/);
    tf.dispose([bad, ...Object.values(w)]);
  });

  it('rejects input whose length is not a multiple of the padded voxel count', async () => {
    await expect(lowLevelLatent(model, new Float32Array(cfg.encoder.numVoxels - 12))).rejects.toThrow(LowLevelInputError);
    await expect(lowLevelLatent(model, new Float32Array(0))).rejects.toThrow(/n × 112 values/);
  });
});

describe('models without a low-level decoder', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it("the authors' weights: hasLowLevel false, lowLevelLatent says why", async () => {
    const model = modelFromWeights(cfg, await allWeights((n) => n.startsWith('decoding_studio.')));
    expect(model.lowlevel).toBeUndefined();
    expect(hasLowLevel(model)).toBe(false);
    await expect(lowLevelLatent(model, fmri.data)).rejects.toThrow(NoLowLevelError);
    await expect(lowLevelLatent(model, fmri.data)).rejects.toThrow(/no low-level decoder \(decoding_studio\.lowlevel\.\* tensors\)/);
    model.dispose();
  });

  it('low-level tensors without the VQ encoder: hasLowLevel false, lowLevelLatent names the encoder', async () => {
    const model = modelFromWeights(cfg, await allWeights((n) => /^first_stage_model\.(encoder|quant_conv)\./.test(n)));
    expect(model.lowlevel).toBeDefined();
    expect(hasLowLevel(model)).toBe(false);
    await expect(lowLevelLatent(model, fmri.data)).rejects.toThrow(/no VQ encoder \(first_stage_model\.encoder\.\*, quant_conv\)/);
    model.dispose();
  });

  it('names missing and mis-shaped low-level tensors', async () => {
    const w = await goldenExtras(dir);
    const partial: Record<string, tf.Tensor> = { ...w, [LOWLEVEL_NAMES.mean]: tf.zeros([1000]) };
    delete partial[LOWLEVEL_NAMES.ridgeBias];
    let caught: unknown;
    try {
      prepareLowLevel(cfg, partial);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(WeightMismatchError);
    expect((caught as WeightMismatchError).missing).toEqual([LOWLEVEL_NAMES.ridgeBias]);
    expect((caught as WeightMismatchError).misShaped).toEqual([{ name: LOWLEVEL_NAMES.mean, expected: [1024], found: [1000] }]);
    tf.dispose([partial[LOWLEVEL_NAMES.mean], ...Object.values(w)]);
  });

  it('countParams puts the VQ encoder and the low-level decoder in their own groups', async () => {
    const w = await allWeights();
    const groups = countParams(w);
    const sum = (re: RegExp) =>
      Object.entries(w)
        .filter(([n]) => re.test(n))
        .reduce((a, [, t]) => a + t.size, 0);
    expect(groups.vqEncoder).toBe(sum(/^first_stage_model\.(encoder|quant_conv)\./));
    expect(groups.vqDecoder).toBe(sum(/^first_stage_model\.(?!encoder\.|quant_conv\.)/));
    expect(groups.lowLevel).toBe(112 * 8 + 8 + 8 * 1024 + 1024 + 1); // + coef_norm
    expect(groups.total).toBe(Object.values(w).reduce((a, t) => a + t.size, 0));
    tf.dispose(Object.values(w));
  });
});
