// Fused WGSL attention on the tfjs WebGPU backend in Node (Dawn on SwiftShader via test/setup-webgpu.ts)
// against a float64 JS reference and the composed tfjs ops.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgpu';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { attention, attentionComposed, AttentionShapeError } from './attention';
import { CrossAttentionProgram } from './attentionPrograms';
import {
  CROSS_ATTENTION_KERNEL,
  f16StorageFor,
  FLASH_ATTENTION_KERNEL,
  fusedAttention,
  fusedKernelFor,
  hookEnableF16,
  PACK_F16_KERNEL,
  precompileAttentionKernels,
} from './fusedAttention';
import { attentionCases, makeInputs, referenceOf, roundToF16, unetCrossScaled, type AttentionCase } from '../../test/attentionTestCases';
import { maxRel } from '../../test/compare';

const F32_TOL = 1e-4;
// f16 storage: inputs rounded to 11 significant bits, math in f32. Against a reference on the same rounded
// inputs the kernel must stay at f32 accuracy; against the unrounded f32 inputs the error is the rounding's
// effect on scores and values (observed ≤ 7.5e-4 for N(0,1) data, the real UNet shapes included), bounded at 2e-3.
const F16_SELF_TOL = 1e-4;
const F16_TOL = 2e-3;

const label = (c: AttentionCase) => `B${c.batch} N${c.queries} M${c.keys} C${c.width} H${c.heads}`;

beforeAll(async () => {
  const ok = await tf.setBackend('webgpu');
  if (!ok) {
    throw new Error(
      'tf.setBackend("webgpu") failed: Dawn found no adapter. Install Debian\'s chromium (it ships the ' +
        'SwiftShader Vulkan ICD) and make libvulkan.so.1 loadable (libvulkan1, or LD_LIBRARY_PATH=/usr/lib/chromium)',
    );
  }
});
afterEach(() => vi.restoreAllMocks());

describe('fused attention (f32) vs float64 reference and composed ops', () => {
  for (const [i, c] of [...attentionCases, unetCrossScaled].entries()) {
    it(label(c), async () => {
      const [q, k, v] = makeInputs(c, 10 * i + 1);
      const profile = await tf.profile(() => attention(q, k, v, { numHeads: c.heads }));
      const fused = await (profile.result as tf.Tensor).data();
      const composed = attentionComposed(q, k, v, { numHeads: c.heads });
      const expected = fusedKernelFor({ ...c, numHeads: c.heads });
      // The kernel that should run did run, alone; where no kernel fits, only composed ops ran.
      if (expected) expect(profile.kernels.map((kernel) => kernel.name)).toEqual([expected]);
      else expect(profile.kernelNames).toEqual(expect.arrayContaining(['BatchMatMul', 'Softmax']));
      if (!expected) expect(profile.kernelNames.filter((n) => n.startsWith('DS'))).toEqual([]);
      expect(maxRel(fused, await referenceOf(c, q, k, v))).toBeLessThan(F32_TOL);
      expect(maxRel(fused, await composed.data())).toBeLessThan(F32_TOL);
      tf.dispose([q, k, v, composed, profile.result as tf.Tensor]);
    });
  }

  it('routes M ≤ 128 to the cross kernel, longer key sequences to flash, d > 1024 with M > 128 to composed', () => {
    const g = { batch: 1, queries: 1024, width: 384, numHeads: 1 };
    expect(fusedKernelFor({ ...g, keys: 77 })).toBe(CROSS_ATTENTION_KERNEL);
    expect(fusedKernelFor({ ...g, keys: 1024 })).toBe(FLASH_ATTENTION_KERNEL);
    expect(fusedKernelFor({ ...g, keys: 1024, width: 2048 })).toBeNull();
    expect(fusedKernelFor({ ...g, keys: 77, width: 2048 })).toBe(CROSS_ATTENTION_KERNEL);
  });

  it('is not used on other backends', async () => {
    await tf.setBackend('cpu');
    try {
      const [q, k, v] = makeInputs({ batch: 1, queries: 3, keys: 3, width: 4, heads: 1 }, 5);
      expect(fusedAttention(q, k, v, 1, 0.5)).toBeNull();
      const profile = await tf.profile(() => attention(q, k, v, { numHeads: 1 }));
      expect(profile.kernelNames).toContain('BatchMatMul');
    } finally {
      await tf.setBackend('webgpu');
    }
  });

  it('rejects inconsistent shapes with AttentionShapeError', () => {
    const q = tf.zeros([1, 4, 6]),
      k = tf.zeros([1, 5, 6]),
      v = tf.zeros([1, 5, 6]);
    expect(() => attention(q, k, v, { numHeads: 4 })).toThrow(AttentionShapeError);
    expect(() => attention(q, tf.zeros([1, 5, 8]), tf.zeros([1, 5, 8]), { numHeads: 1 })).toThrow(/agree in batch and width/);
    expect(() => attention(q, k, tf.zeros([1, 4, 6]), { numHeads: 1 })).toThrow(/equal shapes/);
    expect(() => attention(tf.zeros([4, 6]), k, v, { numHeads: 1 })).toThrow(/\[batch, tokens, width\]/);
  });
});

describe('precompileAttentionKernels', () => {
  it('puts every attention pipeline of the requested precisions in the backend cache', async () => {
    // pipelineCache is private in tfjs 4.22; reading it is the only way to see compile-only work.
    const cache = (tf.backend() as unknown as { pipelineCache: Record<string, unknown> }).pipelineCache;
    const keys = () =>
      Object.keys(cache)
        .filter((k) => k.startsWith('ds_'))
        .map((k) => k.replace(/_\d.*$/, ''));
    for (const k of Object.keys(cache)) if (k.startsWith('ds_')) delete cache[k]; // recompiled on demand
    await precompileAttentionKernels(['f32', 'f16']);
    expect(new Set(keys())).toEqual(
      new Set([
        'ds_cross_attention_f32',
        'ds_flash_attention_f32',
        'ds_pack_f16',
        'ds_cross_attention_f16-packed',
        'ds_flash_attention_f16-packed',
      ]),
    );
    expect(tf.env().getBool('WEBGPU_ENGINE_COMPILE_ONLY')).toBe(false);
  });
});

describe('f16 storage', () => {
  it('picks native shader-f16 loads only when the device has the feature', () => {
    expect(f16StorageFor(new Set(['shader-f16', 'timestamp-query']))).toBe('f16-native');
    expect(f16StorageFor(new Set(['timestamp-query']))).toBe('f16-packed');
    // tfjs requests no shader-f16 (and SwiftShader has none): the packed variant must be the one that runs.
    const backend = tf.backend() as WebGPUBackend;
    expect(f16StorageFor(backend.device.features)).toBe('f16-packed');
  });

  it('native variant: the device hook puts `enable f16;` first in marked shaders only', () => {
    const create = vi.fn((desc: GPUShaderModuleDescriptor) => desc.code);
    const device = { createShaderModule: create } as unknown as GPUDevice;
    hookEnableF16(device);
    hookEnableF16(device); // idempotent: one wrapper per device
    const native = new CrossAttentionProgram({ batch: 1, queries: 2, keys: 3, width: 4, numHeads: 1 }, 'f16-native');
    const marked = `struct Uniforms { x : f32, };\n${native.getUserCode()}`;
    device.createShaderModule({ code: marked });
    device.createShaderModule({ code: 'fn main() {}' });
    expect(create.mock.calls.map(([d]) => d.code)).toEqual([`enable f16;\n${marked}`, 'fn main() {}']);
    expect(native.getUserCode()).toContain('bitcast<vec2<f16>>');
  });

  it('attention() with precision f16 packs Q, K, V and runs the fused kernel on them', async () => {
    const c = attentionCases[1]!;
    const [q, k, v] = makeInputs(c, 3);
    const profile = await tf.profile(() => attention(q, k, v, { numHeads: c.heads, precision: 'f16' }));
    expect(profile.kernels.map((kernel) => kernel.name)).toEqual([
      PACK_F16_KERNEL,
      PACK_F16_KERNEL,
      PACK_F16_KERNEL,
      CROSS_ATTENTION_KERNEL,
    ]);
    expect(maxRel(await (profile.result as tf.Tensor).data(), await referenceOf(c, q, k, v))).toBeLessThan(F16_TOL);
    tf.dispose([q, k, v, profile.result as tf.Tensor]);
  });

  it('packs f32 pairs into int32 words of two halves (odd length pads the last high half with 0)', async () => {
    const x = tf.tensor1d([1, -2, 0.1, 65504, 1e-5, 3.14159, 7]);
    const words = tf.engine().runKernel(PACK_F16_KERNEL, { x }, {}) as tf.Tensor;
    expect(words.shape).toEqual([4]);
    expect(words.dtype).toBe('int32');
    const bits = new Uint32Array(Int32Array.from(await words.data()).buffer);
    const halves = Array.from(bits, (w) => [w & 0xffff, w >>> 16]).flat();
    const expected = [1, -2, 0.1, 65504, 1e-5, 3.14159, 7, 0].map(roundToF16);
    expect(halves.map(halfToNumber)).toEqual(expected);
  });

  for (const c of [attentionCases[2]!, attentionCases[4]!, attentionCases[6]!, unetCrossScaled]) {
    it(`${label(c)}: packed-f16 kernel within ${F16_TOL} of f32, ${F16_SELF_TOL} of its rounded inputs`, async () => {
      const [q, k, v] = makeInputs(c, 99);
      const spy = vi.spyOn(tf.backend() as WebGPUBackend, 'runWebGPUProgram');
      const out = fusedAttention(q, k, v, c.heads, (c.width / c.heads) ** -0.5, 'f16');
      expect(out).not.toBeNull();
      expect(spy.mock.calls.map(([program]) => program.shaderKey.replace(/_\d.*$/, ''))).toEqual([
        'ds_pack_f16',
        'ds_pack_f16',
        'ds_pack_f16',
        expect.stringMatching(/attention_f16-packed$/),
      ]);
      const got = await out!.data();
      expect(maxRel(got, await referenceOf(c, q, k, v, roundToF16))).toBeLessThan(F16_SELF_TOL);
      expect(maxRel(got, await referenceOf(c, q, k, v))).toBeLessThan(F16_TOL);
      tf.dispose([q, k, v, out!]);
    });
  }
});

function halfToNumber(h: number): number {
  const sign = h >> 15 ? -1 : 1,
    exponent = (h >> 10) & 0x1f,
    mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}
