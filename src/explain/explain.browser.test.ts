// The explanation views on WebGPU in headless Chromium (SwiftShader) against the PyTorch reference directly:
// python/cad_ref/explain.py's forward hooks on the golden checkpoint's attn2 layers and its float64 attribution
// (test/oracles/explain.ts, run in Node by the browser project's global set-up). The cases and the bound are the
// Node parity test's (test/explainParity.ts; src/explain/explain.parity.test.ts runs them on cpu, wasm and Dawn):
// maxRel = max|a − b| / max|b| < 1e-4, fp32.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgpu';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { arraysIn, goldenModelFiles } from '../../test/browserGolden';
import { maxRel } from '../../test/compare';
import { attributionOfGolden, ddimMapsError, EXPLAIN_TOLERANCE, mapsOfUnetCall } from '../../test/explainParity';
import { modelFromWeights, type EngineModel } from '../engine/pipeline';
import { CROSS_ATTENTION_WEIGHTS_KERNEL } from '../kernels/fusedAttention';

const gold = arraysIn(inject('goldenDir'));
const ref = arraysIn(inject('explainRefDir'));
let model: EngineModel;

beforeAll(async () => {
  if (!(await tf.setBackend('webgpu'))) throw new Error('no WebGPU in chromium: launch it with --enable-unsafe-webgpu');
  const { cfg, weights } = await goldenModelFiles(inject('goldenDir'));
  model = modelFromWeights(cfg, weights);
}, 120_000);

describe('explanation parity with PyTorch forward hooks on WebGPU (chromium, SwiftShader, fp32)', () => {
  it('maps of unet(unet_x, unet_t, cond) equal the hooked reference to 1e-4, from the fused weight-writing kernel', async () => {
    expect(tf.getBackend()).toBe('webgpu');
    const m = await mapsOfUnetCall(model, gold, ref);
    expect(m.kernels).toContain(CROSS_ATTENTION_WEIGHTS_KERNEL);
    expect(m.shape).toEqual(m.want.shape);
    expect(m.layers).toBeGreaterThanOrEqual(3);
    expect(maxRel(m.got, m.want.data)).toBeLessThan(EXPLAIN_TOLERANCE);
  });

  it('per-step maps of the first, a middle and the last golden DDIM step equal the reference to 1e-4', async () => {
    // SwiftShader is a CPU: three of the 13 steps, as the Node WebGPU case.
    expect(await ddimMapsError(model, gold, ref, (steps) => [0, steps >> 1, steps - 1])).toBeLessThan(EXPLAIN_TOLERANCE);
  });

  it('token → patch → voxel shares from the WebGPU encoder output equal the float64 reference to 1e-4', async () => {
    const { got, patch, bias, voxel } = await attributionOfGolden(model, gold, ref);
    expect([got.batch, got.tokens, got.patches]).toEqual(patch.shape);
    expect([got.batch, got.tokens, got.voxels]).toEqual(voxel.shape);
    expect(maxRel(got.tokenPatch, patch.data)).toBeLessThan(EXPLAIN_TOLERANCE);
    expect(maxRel(got.tokenBias, bias.data)).toBeLessThan(EXPLAIN_TOLERANCE);
    expect(maxRel(got.tokenVoxel, voxel.data)).toBeLessThan(EXPLAIN_TOLERANCE);
  });
});
