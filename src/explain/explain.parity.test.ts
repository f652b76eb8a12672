// Parity of the explanation views with the PyTorch reference (python/cad_ref/explain.py: forward hooks on
// the golden checkpoint's attn2 layers, the mapper attribution in float64; test/oracles/explain.ts): fp32 to
// 1e-4 relative (maxRel, test/compare.ts) on cpu and wasm, and on tfjs-webgpu in Node (Dawn on SwiftShader: the
// fused weight-writing kernel runs, checked by profile). The same cases run on WebGPU in Chromium in
// src/explain/explain.browser.test.ts (test/explainParity.ts). Also: capturing the maps does not change the
// UNet's output.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { goldenArray, goldenConfig, goldenDir, goldenWeights, type HostArray } from '../../test/golden';
import { maxRel } from '../../test/compare';
import { explainReference } from '../../test/oracles/explain';
import { attributionOfGolden, ddimMapsError, EXPLAIN_TOLERANCE, mapsOfUnetCall } from '../../test/explainParity';
import type { ModelConfig } from '../model/config';
import { modelFromWeights, type EngineModel } from '../engine/pipeline';
import { unet } from '../model/unet';
import { CROSS_ATTENTION_WEIGHTS_KERNEL } from '../kernels/fusedAttention';

let dir: string, ref: string, cfg: ModelConfig;
const gold = (name: string): Promise<HostArray> => goldenArray(dir, name);
const refArr = (name: string): Promise<HostArray> => goldenArray(ref, name);

beforeAll(async () => {
  dir = await goldenDir('tiny');
  cfg = await goldenConfig(dir);
  ref = await explainReference(dir);
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
      const m = await mapsOfUnetCall(model, gold, refArr);
      // On WebGPU the maps come from the fused variant, not the composed ops.
      if (backend === 'webgpu') expect(m.kernels).toContain(CROSS_ATTENTION_WEIGHTS_KERNEL);
      expect(m.shape).toEqual(m.want.shape);
      expect(m.layers).toBeGreaterThanOrEqual(3);
      expect(maxRel(m.got, m.want.data)).toBeLessThan(EXPLAIN_TOLERANCE);
      // Each position's map is a distribution over the 77 tokens.
      for (let i = 0; i < m.got.length; i += 77) expect(m.got.subarray(i, i + 77).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    });

    it('per-step maps along the golden DDIM trajectory equal the reference to 1e-4', async () => {
      // SwiftShader is a CPU: on WebGPU the first, a middle and the last step.
      const which = backend === 'webgpu' ? (steps: number) => [0, steps >> 1, steps - 1] : undefined;
      expect(await ddimMapsError(model, gold, refArr, which)).toBeLessThan(EXPLAIN_TOLERANCE);
    });

    it('token → patch → voxel shares from our encoder output equal the float64 reference to 1e-4', async () => {
      const { got: a, patch, bias, voxel } = await attributionOfGolden(model, gold, refArr);
      expect([a.batch, a.tokens, a.patches]).toEqual(patch.shape);
      expect(maxRel(a.tokenPatch, patch.data)).toBeLessThan(EXPLAIN_TOLERANCE);
      expect(maxRel(a.tokenBias, bias.data)).toBeLessThan(EXPLAIN_TOLERANCE);
      expect(maxRel(a.tokenVoxel, voxel.data)).toBeLessThan(EXPLAIN_TOLERANCE);
      // Voxel shares plus the bias share make one per token.
      const v = a.voxels;
      for (let r = 0; r < a.batch * 77; r++)
        expect(a.tokenVoxel.subarray(r * v, (r + 1) * v).reduce((x, y) => x + y, 0) + a.tokenBias[r]).toBeCloseTo(1, 4);
    });
  },
  600_000,
);
