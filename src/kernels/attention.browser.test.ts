// Fused WGSL attention inside tfjs's WebGPU backend in headless chromium (SwiftShader adapter),
// against a float64 JS reference and the composed tfjs ops.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { attention, attentionComposed } from './attention';
import { fusedAttention, fusedKernelFor } from './fusedAttention';
import { attentionCases, makeInputs, referenceOf, roundToF16, unetCrossScaled } from '../../test/attentionTestCases';
import { maxRel } from '../../test/compare';

beforeAll(async () => {
  if (!(await tf.setBackend('webgpu'))) {
    throw new Error('tf.setBackend("webgpu") failed in chromium: launch it with --enable-unsafe-webgpu (scripts/chromium-webgpu.mjs)');
  }
});

describe('fused attention in chromium', () => {
  const cases = [attentionCases[1]!, attentionCases[3]!, attentionCases[4]!, attentionCases[6]!, unetCrossScaled];
  for (const [i, c] of cases.entries()) {
    it(`B${c.batch} N${c.queries} M${c.keys} C${c.width} H${c.heads} (f32, within 1e-4)`, async () => {
      const [q, k, v] = makeInputs(c, 7 * i + 3);
      const profile = await tf.profile(() => attention(q, k, v, { numHeads: c.heads }));
      expect(profile.kernels.map((kernel) => kernel.name)).toEqual([fusedKernelFor({ ...c, numHeads: c.heads })]);
      const fused = await (profile.result as tf.Tensor).data();
      const composed = attentionComposed(q, k, v, { numHeads: c.heads });
      expect(maxRel(fused, await referenceOf(c, q, k, v))).toBeLessThan(1e-4);
      expect(maxRel(fused, await composed.data())).toBeLessThan(1e-4);
      tf.dispose([q, k, v, composed, profile.result as tf.Tensor]);
    });
  }

  it('packed-f16 storage within 1e-4 of a reference on f16-rounded inputs, 2e-3 of f32', async () => {
    const c = attentionCases[4]!;
    const [q, k, v] = makeInputs(c, 42);
    const out = fusedAttention(q, k, v, c.heads, (c.width / c.heads) ** -0.5, 'f16');
    expect(out).not.toBeNull();
    const got = await out!.data();
    expect(maxRel(got, await referenceOf(c, q, k, v, roundToF16))).toBeLessThan(1e-4);
    expect(maxRel(got, await referenceOf(c, q, k, v))).toBeLessThan(2e-3);
    tf.dispose([q, k, v, out!]);
  });
});
