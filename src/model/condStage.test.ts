import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { goldenArray, goldenConfig, goldenDir, goldenWeights, type HostArray } from '../../test/golden';
import { maxRel } from '../../test/compare';
import type { ModelConfig } from './config';
import type { WeightMap } from './weights';
import {
  condStage,
  prepareCondStage,
  prepareTimeCondition,
  timeCondition,
  type CondStageParams,
  type TimeConditionParams,
} from './condStage';

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
  let cond: CondStageParams;
  let time: TimeConditionParams;
  beforeAll(async () => {
    expect(await tf.setBackend(backend)).toBe(true);
    w = await goldenWeights(dir, (n) => WEIGHT_PREFIXES.some((p) => n.startsWith(p)));
    cond = prepareCondStage(cfg, w);
    time = prepareTimeCondition(cfg, w);
    return () =>
      tf.dispose([
        ...Object.values(w),
        cond.mix1.weight,
        cond.mix2.weight,
        cond.mix1.bias,
        cond.mix2.bias,
        cond.dim.kernel,
        time.mix1.weight,
        time.mix2.weight,
        time.mix1.bias,
        time.mix2.bias,
        time.out.kernel,
      ]);
  });

  it('maps encoder tokens to c [B, 77, condDim] as PyTorch, without leaks', () => {
    const enc = tf.tensor3d(golden.encoder_out.data, golden.encoder_out.shape as [number, number, number]);
    const before = tf.memory().numTensors;
    const c = condStage(cfg, cond, enc);
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(c.shape).toEqual(golden.cond.shape);
    expect(maxRel(c.dataSync(), golden.cond.data)).toBeLessThanOrEqual(1e-4);
    tf.dispose([enc, c]);
  });

  it('computes time_embed_condtion(c) [B, 4·modelChannels] as PyTorch', () => {
    const c = tf.tensor3d(golden.cond.data, golden.cond.shape as [number, number, number]);
    const before = tf.memory().numTensors;
    const e = timeCondition(cfg, time, c);
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(e.shape).toEqual([2, 4 * cfg.unet.modelChannels]);
    expect(maxRel(e.dataSync(), golden.time_cond.data)).toBeLessThanOrEqual(1e-4);
    tf.dispose([c, e]);
  });

  it('fails parity when a mapper bias is off by 1e-3, and rejects wrong input shapes', () => {
    const bad = {
      ...w,
      'cond_stage_model.channel_mapper.1.bias': tf.tidy(() =>
        tf.add(w['cond_stage_model.channel_mapper.1.bias'], tf.mul(tf.oneHot(0, 77), 1e-3)),
      ),
    };
    const enc = tf.tensor3d(golden.encoder_out.data, golden.encoder_out.shape as [number, number, number]);
    const badCond = prepareCondStage(cfg, bad);
    const c = condStage(cfg, badCond, enc);
    expect(maxRel(c.dataSync(), golden.cond.data)).toBeGreaterThan(1e-4);
    expect(() => condStage(cfg, cond, tf.zeros([2, 8, 128]) as tf.Tensor3D)).toThrow(/must be \[batch, 7, 128\], found \[2,8,128\]/);
    tf.dispose([
      enc,
      c,
      bad['cond_stage_model.channel_mapper.1.bias'],
      badCond.mix1.weight,
      badCond.mix2.weight,
      badCond.mix1.bias,
      badCond.mix2.bias,
      badCond.dim.kernel,
    ]);
  });

  it('prepares once: the per-call functions transpose nothing and read no weight by name', async () => {
    // Every checkpoint tensor the prepare steps laid out may go: the results stay those of PyTorch.
    const copy: Record<string, tf.Tensor> = Object.fromEntries(Object.entries(w).map(([n, t]) => [n, tf.clone(t)]));
    const pc = prepareCondStage(cfg, copy),
      pt = prepareTimeCondition(cfg, copy);
    expect(pc.dim.kernel.shape).toEqual([cfg.encoder.embedDim, cfg.cond.condDim]);
    expect(pt.out.kernel.shape).toEqual([cfg.unet.contextDim, 4 * cfg.unet.modelChannels]);
    for (const [n, t] of Object.entries(copy))
      if (t.rank >= 2) {
        t.dispose();
        delete copy[n];
      }
    const enc = tf.tensor3d(golden.encoder_out.data, golden.encoder_out.shape as [number, number, number]);
    const profile = await tf.profile(() => {
      const c = condStage(cfg, pc, enc);
      const e = timeCondition(cfg, pt, c);
      c.dispose();
      return e;
    });
    expect(profile.kernelNames).not.toContain('Transpose');
    const c = condStage(cfg, pc, enc),
      e = timeCondition(cfg, pt, c);
    expect(maxRel(c.dataSync(), golden.cond.data)).toBeLessThanOrEqual(1e-4);
    expect(maxRel(e.dataSync(), golden.time_cond.data)).toBeLessThanOrEqual(1e-4);
    // The unprepared path did transpose: the profile can see it.
    const raw = await tf.profile(() => tf.transpose(pc.dim.kernel));
    expect(raw.kernelNames).toContain('Transpose');
    tf.dispose([
      enc,
      c,
      e,
      raw.result as tf.Tensor,
      profile.result as tf.Tensor,
      ...Object.values(copy),
      pc.mix1.weight,
      pc.mix2.weight,
      pc.mix1.bias,
      pc.mix2.bias,
      pc.dim.kernel,
      pt.mix1.weight,
      pt.mix2.weight,
      pt.mix1.bias,
      pt.mix2.bias,
      pt.out.kernel,
    ]);
  });

  it('names a mis-shaped mapper weight when preparing', () => {
    const bad = { ...w, 'cond_stage_model.dim_mapper.weight': tf.zeros([3, 3]) };
    expect(() => prepareCondStage(cfg, bad)).toThrow(/tensor cond_stage_model\.dim_mapper\.weight has shape \[3,3\] but the config needs/);
    bad['cond_stage_model.dim_mapper.weight'].dispose();
  });
});
