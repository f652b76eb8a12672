// Parity of the explanation views with the PyTorch reference (python/cad_ref/explain.py: forward hooks on
// the golden checkpoint's attn2 layers, the mapper attribution in float64): fp32 to 1e-4 relative on cpu and
// wasm, and on tfjs-webgpu in Node (Dawn on SwiftShader: the fused weight-writing kernel runs, checked by
// profile). Also: capturing the maps does not change the UNet's output.
import { beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { goldenArray, goldenConfig, goldenDir, goldenWeights, PYTHON, REPO_ROOT, type HostArray } from '../../test/golden';
import { maxRel } from '../../test/compare';
import type { ModelConfig } from '../model/config';
import { conditioning, modelFromWeights, type EngineModel } from '../engine/pipeline';
import { unet } from '../model/unet';
import { crossAttentionMaps, crossAttentionMapsTensor } from './attentionMaps';
import { tokenAttribution } from './attribution';

const run = promisify(execFile);
let dir: string, ref: string, cfg: ModelConfig;
const gold = (name: string): Promise<HostArray> => goldenArray(dir, name);
const refArr = (name: string): Promise<HostArray> => goldenArray(ref, name);

beforeAll(async () => {
  dir = await goldenDir('tiny');
  cfg = await goldenConfig(dir);
  ref = await mkdtemp(join(tmpdir(), 'explain-ref-'));
  await run(PYTHON, ['-m', 'cad_ref.explain', '--golden', dir, '--out', ref], {
    cwd: REPO_ROOT,
    env: { ...process.env, PYTHONPATH: join(REPO_ROOT, 'python') },
    timeout: 300_000,
  });
}, 600_000);

describe.each(['cpu', 'wasm', 'webgpu'])(
  'explanation parity with PyTorch forward hooks (fp32, %s)',
  (backend) => {
    let model: EngineModel;
    beforeAll(async () => {
      if (backend === 'webgpu') await import('@tensorflow/tfjs-backend-webgpu');
      if (!(await tf.setBackend(backend)))
        throw new Error(`no ${backend} backend here (WebGPU: Dawn on SwiftShader, see test/setup-webgpu.ts)`);
      model = modelFromWeights(cfg, await goldenWeights(dir));
    });

    it('the hooked PyTorch UNet gives its golden output, and capturing maps leaves ours unchanged', async () => {
      expect(maxRel((await refArr('unet_out_hooked')).data, (await gold('unet_out')).data)).toBe(0);
      const [x, t, c] = await Promise.all([gold('unet_x'), gold('unet_t'), gold('cond')]);
      const xs = tf.tensor4d(x.data, x.shape as [number, number, number, number]);
      const cs = tf.tensor3d(c.data, c.shape as [number, number, number]);
      let calls = 0;
      const plain = unet(cfg, model.unet, xs, t.data, cs);
      const captured = unet(cfg, model.unet, xs, t.data, cs, () => {
        calls++;
      });
      expect(calls).toBeGreaterThan(0);
      expect(maxRel(await captured.data(), await plain.data())).toBeLessThan(1e-6);
      tf.dispose([xs, cs, plain, captured]);
    });

    it('maps of unet(unet_x, unet_t, cond) equal the hooked reference to 1e-4 (two samples, two timesteps)', async () => {
      const [x, t, c, want] = await Promise.all([gold('unet_x'), gold('unet_t'), gold('cond'), refArr('attn_unet')]);
      const xs = tf.tensor4d(x.data, x.shape as [number, number, number, number]);
      const cs = tf.tensor3d(c.data, c.shape as [number, number, number]);
      const profile = await tf.profile(() => crossAttentionMapsTensor(cfg, model.unet, xs, t.data, cs).maps);
      const { maps, layers } = crossAttentionMapsTensor(cfg, model.unet, xs, t.data, cs);
      (profile.result as tf.Tensor).dispose();
      // On WebGPU the maps come from the fused variant, not the composed ops.
      if (backend === 'webgpu') expect(profile.kernels.map((k) => k.name)).toContain('DSCrossAttentionWeights');
      expect(maps.shape).toEqual(want.shape);
      expect(layers).toBeGreaterThanOrEqual(3);
      const got = (await maps.data()) as Float32Array;
      expect(maxRel(got, want.data)).toBeLessThan(1e-4);
      // Each position's map is a distribution over the 77 tokens.
      for (let i = 0; i < got.length; i += 77) expect(got.subarray(i, i + 77).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
      tf.dispose([xs, cs, maps]);
    });

    it('per-step maps along the golden DDIM trajectory equal the reference to 1e-4', async () => {
      const [xt, ts, c, want] = await Promise.all([gold('ddim_x_t'), gold('ddim_timesteps'), gold('cond'), refArr('attn_ddim')]);
      const cs = tf.tensor3d(c.data, c.shape as [number, number, number]);
      const steps = ts.data.length,
        per = xt.data.length / steps,
        perMap = want.data.length / steps;
      let worst = 0;
      // SwiftShader is a CPU: on WebGPU the first, a middle and the last step.
      const which = backend === 'webgpu' ? [0, steps >> 1, steps - 1] : Array.from({ length: steps }, (_, i) => i);
      for (const i of which) {
        const m = await crossAttentionMaps(cfg, model.unet, xt.data.slice(i * per, (i + 1) * per), ts.data[i], cs);
        worst = Math.max(worst, maxRel(m.data, want.data.subarray(i * perMap, (i + 1) * perMap)));
      }
      expect(worst).toBeLessThan(1e-4);
      cs.dispose();
    });

    it('token → patch → voxel shares from our encoder output equal the float64 reference to 1e-4', async () => {
      const raw = await gold('fmri_raw');
      const [b, v] = raw.shape;
      const rows = Array.from({ length: b }, (_, i) => raw.data.slice(i * v, (i + 1) * v));
      const { fmri, encoderOut, c } = conditioning(model, rows);
      const a = await tokenAttribution(cfg, model.cond, model.encoder.patchWeight, fmri, encoderOut, v);
      tf.dispose([encoderOut, c]);
      const [tp, tb, tv] = await Promise.all([refArr('token_patch'), refArr('token_bias'), refArr('token_voxel')]);
      expect([a.batch, a.tokens, a.patches]).toEqual(tp.shape);
      expect(maxRel(a.tokenPatch, tp.data)).toBeLessThan(1e-4);
      expect(maxRel(a.tokenBias, tb.data)).toBeLessThan(1e-4);
      expect(maxRel(a.tokenVoxel, tv.data)).toBeLessThan(1e-4);
      // Voxel shares plus the bias share make one per token.
      for (let r = 0; r < b * 77; r++)
        expect(a.tokenVoxel.subarray(r * v, (r + 1) * v).reduce((x, y) => x + y, 0) + a.tokenBias[r]).toBeCloseTo(1, 4);
    });
  },
  600_000,
);
