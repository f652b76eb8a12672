// The weight-writing variant of the fused cross-attention kernel (issue 14) in headless Chromium
// (SwiftShader): its output against the float64 reference and its weights against a float64 softmax. The normal
// path never runs it. The UNet's maps it makes are compared with PyTorch's forward hooks in
// src/explain/explain.browser.test.ts.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { attention, attentionWithWeights } from './attention';
import { CROSS_ATTENTION_WEIGHTS_KERNEL } from './fusedAttention';
import { attentionCases, makeInputs, referenceOf, unetCrossScaled, type AttentionCase } from '../../test/attentionTestCases';
import { maxRel } from '../../test/compare';

/** softmax(q kᵀ·scale) per head in float64: [B, H, N, M]. */
async function weightsReference(c: AttentionCase, q: tf.Tensor, k: tf.Tensor): Promise<Float64Array> {
  const [qa, ka] = await Promise.all([q.data(), k.data()]);
  const d = c.width / c.heads,
    scale = d ** -0.5;
  const out = new Float64Array(c.batch * c.heads * c.queries * c.keys);
  for (let b = 0; b < c.batch; b++)
    for (let h = 0; h < c.heads; h++)
      for (let i = 0; i < c.queries; i++) {
        const s = Array.from({ length: c.keys }, (_, j) => {
          let acc = 0;
          for (let e = 0; e < d; e++) acc += qa[(b * c.queries + i) * c.width + h * d + e] * ka[(b * c.keys + j) * c.width + h * d + e];
          return acc * scale;
        });
        const mx = Math.max(...s),
          ex = s.map((x) => Math.exp(x - mx)),
          sum = ex.reduce((a, x) => a + x, 0);
        ex.forEach((x, j) => {
          out[((b * c.heads + h) * c.queries + i) * c.keys + j] = x / sum;
        });
      }
  return out;
}

beforeAll(async () => {
  if (!(await tf.setBackend('webgpu')))
    throw new Error('tf.setBackend("webgpu") failed in chromium: launch it with --enable-unsafe-webgpu');
});

describe('cross-attention with weights on WebGPU (chromium)', () => {
  const cases = [attentionCases[1]!, attentionCases[2]!, attentionCases[3]!, unetCrossScaled];
  for (const [i, c] of cases.entries()) {
    it(`B${c.batch} N${c.queries} M${c.keys} C${c.width} H${c.heads}: out and weights within 1e-4`, async () => {
      const [q, k, v] = makeInputs(c, 11 * i + 5);
      const profile = await tf.profile(() => {
        const r = attentionWithWeights(q, k, v, { numHeads: c.heads });
        return tf.concat([tf.reshape(r.out, [-1]), tf.reshape(r.weights, [-1])]);
      });
      expect(profile.kernels.map((x) => x.name)).toContain(CROSS_ATTENTION_WEIGHTS_KERNEL);
      const { out, weights } = attentionWithWeights(q, k, v, { numHeads: c.heads });
      expect(weights.shape).toEqual([c.batch, c.heads, c.queries, c.keys]);
      expect(maxRel(await out.data(), await referenceOf(c, q, k, v))).toBeLessThan(1e-4);
      expect(maxRel(await weights.data(), await weightsReference(c, q, k))).toBeLessThan(1e-4);
      tf.dispose([q, k, v, out, weights, profile.result as tf.Tensor]);
    });
  }

  it('the normal attention() path does not run the weight-writing variant', async () => {
    const [q, k, v] = makeInputs(unetCrossScaled, 1);
    const profile = await tf.profile(() => attention(q, k, v, { numHeads: 1 }));
    expect(profile.kernels.map((x) => x.name)).not.toContain(CROSS_ATTENTION_WEIGHTS_KERNEL);
    tf.dispose([q, k, v, profile.result as tf.Tensor]);
  });
});
