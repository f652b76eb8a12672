import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import {
  goldenArray,
  goldenConfig,
  goldenDir,
  goldenSamplers,
  goldenTrajectory,
  type GoldenSamplers,
  type GoldenTrajectory,
} from '../../test/golden';
import { maxRel } from '../../test/compare';
import { makeSchedule, SamplerOptionsError, type Schedule } from './schedule';
import { ddimSampler } from './ddim';
import type { EpsFn } from './sampler';

let schedule: Schedule;
let g: GoldenTrajectory;
let settings: GoldenSamplers['ddim'];

beforeAll(async () => {
  const dir = await goldenDir('tiny');
  schedule = makeSchedule((await goldenConfig(dir)).schedule);
  settings = (await goldenSamplers(dir)).ddim;
  g = await goldenTrajectory(dir, 'ddim');
});

describe.each(['cpu', 'wasm'])('DDIM on %s', (backend) => {
  beforeAll(async () => {
    expect(await tf.setBackend(backend)).toBe(true);
  });

  it('reproduces the PyTorch trajectory (eta 0.5, 12 → 13 steps) when fed the golden ε and noise', async () => {
    const xT = tf.tensor4d(g.xT, g.shape);
    const base = tf.memory().numTensors;
    const inputErr: number[] = [];
    const eps: EpsFn = (x, t) => {
      const i = inputErr.length;
      expect(t).toBe(g.timesteps[i]);
      inputErr.push(maxRel(x.dataSync(), g.x_t[i]));
      return tf.tensor4d(g.eps[i], g.shape);
    };
    const sampler = ddimSampler({
      schedule,
      steps: settings.steps,
      eta: settings.eta,
      eps,
      xT,
      noise: (i) => tf.tensor4d(g.noise[i], g.shape),
    });
    let worst = 0,
      count = 0;
    for (;;) {
      const r = await sampler.next();
      if (r.done) {
        worst = Math.max(worst, maxRel(await r.value.data(), g.final));
        r.value.dispose();
        break;
      }
      const s = r.value;
      expect([s.index, s.total, s.t]).toEqual([count, 13, g.timesteps[count]]);
      worst = Math.max(
        worst,
        maxRel(s.xt.dataSync(), g.x_t[count]),
        maxRel(s.x0.dataSync(), g.x0[count]),
        maxRel(s.next.dataSync(), count + 1 < 13 ? g.x_t[count + 1] : g.final),
      );
      expect(Array.from(s.eps.dataSync())).toEqual(Array.from(g.eps[count]));
      count++;
    }
    expect(count).toBe(13);
    expect(Math.max(...inputErr)).toBeLessThanOrEqual(1e-4);
    expect(worst).toBeLessThanOrEqual(1e-4);
    expect(tf.memory().numTensors).toBe(base);
    xT.dispose();
  });

  it('reproduces the PyTorch trajectory on the trailing spacing (3 steps: t = 999, 666, 332) fed the golden ε and noise', async () => {
    const dir = await goldenDir('tiny');
    const gt = await goldenTrajectory(dir, 'ddim', 'trailing');
    const steps = (await goldenSamplers(dir)).trailing.steps;
    expect(gt.timesteps).toEqual([999, 666, 332]);
    const xT = tf.tensor4d(gt.xT, gt.shape);
    let worst = 0,
      count = 0;
    const eps: EpsFn = (x, t) => {
      expect(t).toBe(gt.timesteps[count]);
      worst = Math.max(worst, maxRel(x.dataSync(), gt.x_t[count]));
      return tf.tensor4d(gt.eps[count], gt.shape);
    };
    const sampler = ddimSampler({ schedule, steps, eta: settings.eta, eps, xT, noise: (i) => tf.tensor4d(gt.noise[i], gt.shape) });
    for (;;) {
      const r = await sampler.next();
      if (r.done) {
        worst = Math.max(worst, maxRel(await r.value.data(), gt.final));
        r.value.dispose();
        break;
      }
      expect([r.value.index, r.value.total, r.value.t]).toEqual([count, 3, gt.timesteps[count]]);
      worst = Math.max(worst, maxRel(r.value.x0.dataSync(), gt.x0[count]));
      count++;
    }
    expect(count).toBe(3);
    expect(worst).toBeLessThanOrEqual(1e-4);
    xT.dispose();
  });

  it('img2img: starts at t = 499 from the noised init latent, draws noise only for the steps run, and follows PyTorch', async () => {
    const dir = await goldenDir('tiny');
    const gi = await goldenTrajectory(dir, 'ddim', 'img2img');
    const { strength } = (await goldenSamplers(dir)).img2img;
    const x0Init = tf.tensor4d((await goldenArray(dir, 'img2img_x0_init')).data, gi.shape);
    const xT = tf.tensor4d(gi.xT, gi.shape);
    expect(gi.timesteps).toEqual([499, 416, 333, 250, 167, 84, 1]);
    const base = tf.memory().numTensors;
    const noiseAsked: number[] = [];
    let k = 0;
    const eps: EpsFn = (x, t) => {
      expect(t).toBe(gi.timesteps[k]);
      expect(maxRel(x.dataSync(), gi.x_t[k])).toBeLessThanOrEqual(1e-4);
      return tf.tensor4d(gi.eps[k++], gi.shape);
    };
    const sampler = ddimSampler({
      schedule,
      steps: settings.steps,
      eta: settings.eta,
      eps,
      xT,
      init: { x0: x0Init, strength },
      noise: (i) => {
        noiseAsked.push(i);
        return tf.tensor4d(gi.noise[i], gi.shape);
      },
    });
    let worst = 0,
      n = 0;
    for (;;) {
      const r = await sampler.next();
      if (r.done) {
        worst = Math.max(worst, maxRel(await r.value.data(), gi.final));
        r.value.dispose();
        break;
      }
      const s = r.value;
      expect([s.index, s.total, s.t]).toEqual([n, 7, gi.timesteps[n]]);
      worst = Math.max(
        worst,
        maxRel(s.xt.dataSync(), gi.x_t[n]),
        maxRel(s.x0.dataSync(), gi.x0[n]),
        maxRel(s.next.dataSync(), n + 1 < 7 ? gi.x_t[n + 1] : gi.final),
      );
      n++;
    }
    expect(n).toBe(7);
    expect(noiseAsked).toEqual([0, 1, 2, 3, 4, 5, 6]); // by the index of the steps run, not of the full list
    expect(worst).toBeLessThanOrEqual(1e-4);
    expect(tf.memory().numTensors).toBe(base);
    expect(xT.isDisposed || x0Init.isDisposed).toBe(false);
    tf.dispose([xT, x0Init]);
  });

  it('img2img with strength 1 starts at the first step from the noised init, not from x_T', async () => {
    const xT = tf.tensor4d(g.xT, g.shape);
    const x0Init = tf.zeros(g.shape) as tf.Tensor4D;
    const eps: EpsFn = (x) => tf.mul(x, 0.5) as tf.Tensor4D;
    const it = ddimSampler({ schedule, steps: settings.steps, eps, xT, init: { x0: x0Init, strength: 1 } });
    const first = await it.next();
    if (first.done) throw new Error('no step');
    expect([first.value.index, first.value.total, first.value.t]).toEqual([0, 13, 997]);
    const scale = Math.sqrt(1 - schedule.alphasCumprod[997]);
    expect(
      maxRel(
        first.value.xt.dataSync(),
        g.xT.map((v) => v * scale),
      ),
    ).toBeLessThan(1e-6);
    await it.return(undefined as never);
    tf.dispose([xT, x0Init]);
  });

  it('differs from the golden trajectory without the injected noise (the noise path is exercised)', async () => {
    const xT = tf.tensor4d(g.xT, g.shape);
    let i = 0;
    const eps: EpsFn = () => tf.tensor4d(g.eps[i++], g.shape);
    const sampler = ddimSampler({ schedule, steps: settings.steps, eta: settings.eta, eps, xT, noise: () => tf.zeros(g.shape) });
    const first = await sampler.next();
    expect(first.done).toBe(false);
    if (!first.done) expect(maxRel(first.value.next.dataSync(), g.x_t[1])).toBeGreaterThan(1e-3);
    await sampler.return(undefined as never);
    xT.dispose();
  });

  it('needs a noise source for eta > 0 and is deterministic for eta 0', async () => {
    const xT = tf.tensor4d(g.xT, g.shape);
    const eps: EpsFn = (x) => tf.mul(x, 0.5) as tf.Tensor4D;
    await expect(ddimSampler({ schedule, steps: 4, eta: 1, eps, xT }).next()).rejects.toThrow(SamplerOptionsError);
    const run = async (): Promise<Float32Array> => {
      const it = ddimSampler({ schedule, steps: 4, eps, xT });
      let r = await it.next();
      while (!r.done) r = await it.next();
      const out = (await r.value.data()) as Float32Array;
      r.value.dispose();
      return out;
    };
    expect(Array.from(await run())).toEqual(Array.from(await run()));
    xT.dispose();
  });

  it('stops with an AbortError when the signal fires, releasing its tensors', async () => {
    const xT = tf.tensor4d(g.xT, g.shape);
    const base = tf.memory().numTensors;
    const ctl = new AbortController();
    const eps: EpsFn = (x) => tf.mul(x, 0.1) as tf.Tensor4D;
    const it = ddimSampler({ schedule, steps: 10, eta: 0.5, eps, xT, signal: ctl.signal, noise: () => tf.ones(g.shape) });
    await it.next();
    await it.next();
    ctl.abort();
    await expect(it.next()).rejects.toMatchObject({ name: 'AbortError' });
    expect(tf.memory().numTensors).toBe(base);
    xT.dispose();
  });
});
