import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { goldenArray, goldenConfig, goldenDir, goldenWeights, type HostArray } from '../../test/golden';
import { maxRel } from '../../test/compare';
import type { ModelConfig } from './config';
import type { WeightMap } from './weights';
import { condStage, timeCondition } from './condStage';

const WEIGHT_PREFIXES = ['cond_stage_model.channel_mapper.', 'cond_stage_model.dim_mapper.', 'model.diffusion_model.time_embed_condtion.'];
let dir: string;
let cfg: ModelConfig;
let golden: Record<'encoder_out' | 'cond' | 'time_cond', HostArray>;

beforeAll(async () => {
  dir = await goldenDir('tiny');
  cfg = await goldenConfig(dir);
  const load = (n: string): Promise<HostArray> => goldenArray(dir, n);
  golden = { encoder_out: await load('encoder_out'), cond: await load('cond'), time_cond: await load('time_cond') };
});

describe.each(['cpu', 'wasm'])('cond stage on %s', (backend) => {
  let w: WeightMap;
  beforeAll(async () => {
    expect(await tf.setBackend(backend)).toBe(true);
    w = await goldenWeights(dir, (n) => WEIGHT_PREFIXES.some((p) => n.startsWith(p)));
    return () => tf.dispose(Object.values(w));
  });

  it('maps encoder tokens to c [B, 77, condDim] as PyTorch, without leaks', () => {
    const enc = tf.tensor3d(golden.encoder_out.data, golden.encoder_out.shape as [number, number, number]);
    const before = tf.memory().numTensors;
    const c = condStage(cfg, w, enc);
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(c.shape).toEqual(golden.cond.shape);
    expect(maxRel(c.dataSync(), golden.cond.data)).toBeLessThanOrEqual(1e-4);
    tf.dispose([enc, c]);
  });

  it('computes time_embed_condtion(c) [B, 4·modelChannels] as PyTorch', () => {
    const c = tf.tensor3d(golden.cond.data, golden.cond.shape as [number, number, number]);
    const before = tf.memory().numTensors;
    const e = timeCondition(cfg, w, c);
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(e.shape).toEqual([2, 4 * cfg.unet.modelChannels]);
    expect(maxRel(e.dataSync(), golden.time_cond.data)).toBeLessThanOrEqual(1e-4);
    tf.dispose([c, e]);
  });

  it('fails parity when a mapper bias is off by 1e-3, and rejects wrong input shapes', () => {
    const bad = { ...w, 'cond_stage_model.channel_mapper.1.bias': tf.tidy(() => tf.add(w['cond_stage_model.channel_mapper.1.bias'], tf.mul(tf.oneHot(0, 77), 1e-3))) };
    const enc = tf.tensor3d(golden.encoder_out.data, golden.encoder_out.shape as [number, number, number]);
    const c = condStage(cfg, bad, enc);
    expect(maxRel(c.dataSync(), golden.cond.data)).toBeGreaterThan(1e-4);
    expect(() => condStage(cfg, w, tf.zeros([2, 8, 128]) as tf.Tensor3D)).toThrow(/must be \[batch, 7, 128\], found \[2,8,128\]/);
    tf.dispose([enc, c, bad['cond_stage_model.channel_mapper.1.bias']]);
  });
});
