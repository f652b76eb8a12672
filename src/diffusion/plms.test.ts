import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { goldenConfig, goldenDir, goldenArray, goldenSamplers, goldenTrajectory, type GoldenTrajectory } from '../../test/golden';
import { maxRel } from '../../test/compare';
import { makeSchedule, SamplerOptionsError, type Schedule } from './schedule';
import { plmsSampler } from './plms';
import type { EpsFn, SamplerStep } from './sampler';

let schedule: Schedule;
/** ᾱ as stored in the PyTorch checkpoint: the oracle's coefficients come from here, not from makeSchedule. */
let acTorch: Float32Array;
let g: GoldenTrajectory;
let steps: number;

beforeAll(async () => {
  const dir = await goldenDir('tiny');
  schedule = makeSchedule((await goldenConfig(dir)).schedule);
  steps = (await goldenSamplers(dir)).plms.steps;
  acTorch = (await goldenArray(dir, 'tensors/alphas_cumprod')).data;
  g = await goldenTrajectory(dir, 'plms');
});

const map = (n: number, f: (j: number) => number): Float64Array => Float64Array.from({ length: n }, (_, j) => f(j));

/** DDIM update (eta 0) in float64: returns [x0, next]. */
function ddim64(x: ArrayLike<number>, e: ArrayLike<number>, a: number, aPrev: number): [Float64Array, Float64Array] {
  const x0 = map(x.length, (j) => (x[j] - Math.sqrt(1 - a) * e[j]) / Math.sqrt(a));
  return [x0, map(x.length, (j) => Math.sqrt(aPrev) * x0[j] + Math.sqrt(1 - aPrev) * e[j])];
}

/** Pulls every step, handing a copy of each to `onStep`; returns the final latent. */
async function drain(
  it: AsyncGenerator<SamplerStep, tf.Tensor4D>,
  onStep: (s: Record<'xt' | 'eps' | 'x0' | 'next', Float32Array> & SamplerStep) => void,
): Promise<Float32Array> {
  for (;;) {
    const r = await it.next();
    if (r.done) {
      const out = (await r.value.data()) as Float32Array;
      r.value.dispose();
      return out;
    }
    const s = r.value;
    onStep({
      ...s,
      xt: s.xt.dataSync() as Float32Array,
      eps: s.eps.dataSync() as Float32Array,
      x0: s.x0.dataSync() as Float32Array,
      next: s.next.dataSync() as Float32Array,
    } as never);
  }
}

describe.each(['cpu', 'wasm'])('PLMS on %s', (backend) => {
  beforeAll(async () => {
    expect(await tf.setBackend(backend)).toBe(true);
  });

  /**
   * Replays a golden run (its first recorded input x_t[0] is x_T, or the noised init for img2img) and
   * checks every step. Call 0 is ε(x_t[0]); call 1 is the first step's extra ε at t_next on the DDIM guess,
   * which the goldens do not store: the replay checks that guess against a float64 derivation and answers
   * with the ε that makes the averaged ε reproduce golden x_t[1]. Calls k ≥ 2 are step k − 1 with the golden ε.
   */
  async function replay(gr: GoldenTrajectory, init?: { x0: Float32Array; strength: number }): Promise<void> {
    const ts = gr.timesteps;
    const x1 = gr.x_t[0];
    const [, guess] = ddim64(x1, gr.eps[0], acTorch[ts[0]], acTorch[ts[1]]);
    const k1 = Math.sqrt(acTorch[ts[1]] / acTorch[ts[0]]);
    const k2 = Math.sqrt(1 - acTorch[ts[1]]) - (Math.sqrt(acTorch[ts[1]]) * Math.sqrt(1 - acTorch[ts[0]])) / Math.sqrt(acTorch[ts[0]]);
    const averaged = map(x1.length, (j) => (gr.x_t[1][j] - k1 * x1[j]) / k2);
    const extra = Float32Array.from(averaged, (v, j) => 2 * v - gr.eps[0][j]);

    const xT = tf.tensor4d(gr.xT, gr.shape);
    const x0Init = init ? tf.tensor4d(init.x0, gr.shape) : undefined;
    const base = tf.memory().numTensors;
    const calls: { t: number; err: number }[] = [];
    const eps: EpsFn = (x, t) => {
      const k = calls.length;
      const want = k === 1 ? guess : gr.x_t[k === 0 ? 0 : k - 1];
      calls.push({ t, err: maxRel(x.dataSync(), want) });
      return tf.tensor4d(k === 1 ? extra : gr.eps[k === 0 ? 0 : k - 1], gr.shape);
    };
    let worst = 0,
      n = 0;
    const opts = { schedule, steps, eps, xT, ...(x0Init ? { init: { x0: x0Init, strength: init!.strength } } : {}) };
    const final = await drain(plmsSampler(opts), (s) => {
      expect([s.index, s.total, s.t]).toEqual([n, ts.length, ts[n]]);
      expect(Array.from(s.eps)).toEqual(Array.from(gr.eps[n])); // the raw ε, not the combination
      worst = Math.max(
        worst,
        maxRel(s.xt, gr.x_t[n]),
        maxRel(s.x0, gr.x0[n]),
        maxRel(s.next, n + 1 < ts.length ? gr.x_t[n + 1] : gr.final),
      );
      n++;
    });
    expect(n).toBe(ts.length);
    expect(calls.map((c) => c.t)).toEqual([ts[0], ts[1], ...ts.slice(1)]);
    expect(Math.max(...calls.map((c) => c.err))).toBeLessThanOrEqual(1e-4);
    expect(worst).toBeLessThanOrEqual(1e-4);
    expect(maxRel(final, gr.final)).toBeLessThanOrEqual(1e-4);
    expect(tf.memory().numTensors).toBe(base);
    expect(xT.isDisposed || x0Init?.isDisposed).toBeFalsy(); // the caller's
    tf.dispose([xT, ...(x0Init ? [x0Init] : [])]);
  }

  it('follows the PyTorch trajectory when replaying the golden ε', async () => {
    expect(g.timesteps.length).toBe(10);
    await replay(g);
  });

  it('img2img: starts at t = 501 from the noised init latent with a fresh history and follows PyTorch (strength 0.5)', async () => {
    const dir = await goldenDir('tiny');
    const gi = await goldenTrajectory(dir, 'plms', 'img2img');
    const { strength } = (await goldenSamplers(dir)).img2img;
    const x0 = (await goldenArray(dir, 'img2img_x0_init')).data;
    expect(gi.timesteps).toEqual([501, 401, 301, 201, 101, 1]);
    // Independent check of the start latent: √ᾱ·x0 + √(1−ᾱ)·x_T in float64 from the PyTorch ᾱ buffer.
    const a = acTorch[501];
    expect(
      maxRel(
        gi.x_t[0],
        map(x0.length, (j) => Math.sqrt(a) * x0[j] + Math.sqrt(1 - a) * gi.xT[j]),
      ),
    ).toBeLessThan(1e-6);
    await replay(gi, { x0, strength });
  });

  it('img2img refuses a strength outside (0, 1] and an init latent of another shape, holding nothing', async () => {
    const xT = tf.tensor4d(g.xT, g.shape);
    const base = tf.memory().numTensors;
    const eps: EpsFn = (x) => tf.mul(x, 0.5) as tf.Tensor4D;
    const bad = tf.zeros([1, 3, 8, 8]) as tf.Tensor4D;
    await expect(plmsSampler({ schedule, steps, eps, xT, init: { x0: xT, strength: 0 } }).next()).rejects.toThrow(
      /strength must be a number above 0 and at most 1 \(got 0\)/,
    );
    await expect(plmsSampler({ schedule, steps, eps, xT, init: { x0: bad, strength: 0.5 } }).next()).rejects.toThrow(
      /init latent has shape \[1,3,8,8\], the noise xT \[2,3,8,8\]/,
    );
    bad.dispose();
    expect(tf.memory().numTensors).toBe(base);
    xT.dispose();
  });

  // S = 7: the authors' uniform list (1000 // 7 = 142 → 8 timesteps); S = 9: its uniform list would end at
  // t = 1000, so the trailing one runs (9 timesteps, written out by hand from round(1000·k/9) − 1).
  it.each([
    [7, [995, 853, 711, 569, 427, 285, 143, 1]],
    [9, [999, 888, 777, 666, 555, 443, 332, 221, 110]],
  ])('matches a float64 PLMS on a nonlinear toy ε, first-step correction included (S = %d)', async (S, ts) => {
    const shape: [number, number, number, number] = [2, 2, 3, 3];
    const size = 36;
    const x0Init = Float32Array.from({ length: size }, (_, j) => Math.sin(1.3 * j) * 1.5);
    const toy = (x: number, t: number): number => Math.sin(x) * (t / 1000) + 0.1 * Math.cos(0.01 * t);
    const eps: EpsFn = (x, t) => tf.tidy(() => tf.add(tf.mul(tf.sin(x), t / 1000), 0.1 * Math.cos(0.01 * t)) as tf.Tensor4D);

    // Oracle: CompVis PLMS in float64 with ᾱ from the PyTorch buffer, on the step list `ts`.
    const want: { x0: Float64Array; next: Float64Array }[] = [];
    let x: Float64Array = Float64Array.from(x0Init);
    const old: Float64Array[] = [];
    let calls64 = 0;
    ts.forEach((t, i) => {
      const a = acTorch[t],
        aPrev = i + 1 < ts.length ? acTorch[ts[i + 1]] : acTorch[0];
      const e = map(size, (j) => toy(x[j], t));
      calls64++;
      let ep: Float64Array;
      if (old.length === 0) {
        const [, xg] = ddim64(x, e, a, aPrev);
        const tn = ts[Math.min(i + 1, ts.length - 1)];
        ep = map(size, (j) => (e[j] + toy(xg[j], tn)) / 2);
        calls64++;
      } else if (old.length === 1) ep = map(size, (j) => (3 * e[j] - old[0][j]) / 2);
      else if (old.length === 2) ep = map(size, (j) => (23 * e[j] - 16 * old[1][j] + 5 * old[0][j]) / 12);
      else ep = map(size, (j) => (55 * e[j] - 59 * old[2][j] + 37 * old[1][j] - 9 * old[0][j]) / 24);
      const [x0, next] = ddim64(x, ep, a, aPrev);
      want.push({ x0, next });
      old.push(e);
      if (old.length > 3) old.shift();
      x = next;
    });

    const xT = tf.tensor4d(x0Init, shape);
    let calls = 0,
      worst = 0,
      n = 0;
    const counted: EpsFn = (xx, t) => {
      calls++;
      return eps(xx, t);
    };
    const final = await drain(plmsSampler({ schedule, steps: S, eps: counted, xT }), (s) => {
      worst = Math.max(worst, maxRel(s.x0, want[n].x0), maxRel(s.next, want[n].next));
      n++;
    });
    expect(n).toBe(ts.length);
    expect(calls).toBe(calls64);
    expect(calls).toBe(n + 1);
    expect(worst).toBeLessThanOrEqual(1e-4);
    expect(maxRel(final, x)).toBeLessThanOrEqual(1e-4);
    xT.dispose();
  });

  it('rejects ε of the wrong shape and impossible step counts', async () => {
    const xT = tf.tensor4d(g.xT, g.shape);
    const base = tf.memory().numTensors;
    const eps: EpsFn = (x) => tf.mul(x, 0.5) as tf.Tensor4D;
    await expect(plmsSampler({ schedule, steps: 0, eps, xT }).next()).rejects.toThrow(SamplerOptionsError);
    await expect(plmsSampler({ schedule, steps: 1001, eps, xT }).next()).rejects.toThrow(/whole number from 1 to 1000/);
    const bad: EpsFn = () => tf.zeros([1, 3, 8, 8]);
    await expect(plmsSampler({ schedule, steps, eps: bad, xT }).next()).rejects.toThrow(
      /returned shape \[1,3,8,8\] for a latent of shape \[2,3,8,8\]/,
    );
    expect(tf.memory().numTensors).toBe(base);
    xT.dispose();
  });

  it('releases everything when the consumer stops early or the signal aborts', async () => {
    const xT = tf.tensor4d(g.xT, g.shape);
    const base = tf.memory().numTensors;
    const eps: EpsFn = (x, t) => tf.mul(x, t / 2000) as tf.Tensor4D;
    let seen = 0;
    for await (const s of plmsSampler({ schedule, steps, eps, xT })) {
      if (++seen === 5) {
        expect(s.index).toBe(4);
        break;
      }
    }
    expect(tf.memory().numTensors).toBe(base);

    const ctl = new AbortController();
    const it = plmsSampler({ schedule, steps, eps, xT, signal: ctl.signal });
    await it.next();
    await it.next();
    ctl.abort();
    const err = await it.next().then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err?.name).toBe('AbortError');
    expect(err?.message).toBe('sampling cancelled before step 3 of 10');
    expect(tf.memory().numTensors).toBe(base);
    expect(xT.isDisposed).toBe(false);
    xT.dispose();
  });
});
