import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { guidedEps, type ApplyModel } from './guidance';
import { SamplerOptionsError } from './schedule';

// A stand-in UNet whose output reveals which context each batch row saw: ε = x · context[:, 0, 0].
function recorder(): { apply: ApplyModel; calls: { batch: number; t: number; ctx0: number[] }[] } {
  const calls: { batch: number; t: number; ctx0: number[] }[] = [];
  const apply: ApplyModel = (x, t, c) => {
    calls.push({ batch: x.shape[0], t, ctx0: Array.from(tf.slice(c, [0, 0, 0], [-1, 1, 1]).dataSync()) });
    return tf.mul(x, tf.reshape(tf.slice(c, [0, 0, 0], [-1, 1, 1]), [-1, 1, 1, 1])) as tf.Tensor4D;
  };
  return { apply, calls };
}

describe('classifier-free guidance', () => {
  it('makes one batched call on [x, x] with context [null, c] and returns ε_u + g(ε_c − ε_u)', async () => {
    await tf.setBackend('cpu');
    const x = tf.tensor4d(
      Float32Array.from({ length: 2 * 3 * 2 * 2 }, (_, i) => Math.sin(i)),
      [2, 3, 2, 2],
    );
    const c = tf.concat([tf.fill([1, 5, 4], 2), tf.fill([1, 5, 4], 3)], 0) as tf.Tensor3D;
    const cNull = tf.fill([5, 4], -1);
    const base = tf.memory().numTensors;
    const { apply, calls } = recorder();
    const eps = guidedEps(apply, c, cNull, 3);
    const e = await eps(x, 42);
    expect(calls).toEqual([{ batch: 4, t: 42, ctx0: [-1, -1, 2, 3] }]);
    // Independent: per row, ε_u = −x, ε_c = k·x with k = 2, 3 → −x + 3(k·x + x).
    const xs = x.dataSync(),
      es = e.dataSync();
    for (let i = 0; i < xs.length; i++) {
      const k = i < 12 ? 2 : 3;
      expect(es[i]).toBeCloseTo(-xs[i] + 3 * (k * xs[i] + xs[i]), 5);
    }
    e.dispose();
    eps.dispose();
    expect(tf.memory().numTensors).toBe(base); // the context batch is released by dispose()
    tf.dispose([x, c, cNull]);
  });

  it('scale 1 is one plain conditional call and needs no null context', async () => {
    const x = tf.ones([2, 1, 1, 1]) as tf.Tensor4D;
    const c = tf.fill([2, 5, 4], 2) as tf.Tensor3D;
    const { apply, calls } = recorder();
    const e = await guidedEps(apply, c, undefined, 1)(x, 7);
    expect(calls).toEqual([{ batch: 2, t: 7, ctx0: [2, 2] }]);
    expect(Array.from(e.dataSync())).toEqual([2, 2]);
    tf.dispose([x, c, e]);
  });

  it('refuses a missing or mis-shaped null context and a bad scale', () => {
    const c = tf.zeros([2, 5, 4]) as tf.Tensor3D;
    const { apply } = recorder();
    expect(() => guidedEps(apply, c, undefined, 3)).toThrow(/guidance 3 ≠ 1 needs a null context/);
    expect(() => guidedEps(apply, c, tf.zeros([77, 4]), 3)).toThrow(
      /null context has shape \[77,4\]; the conditioning's tokens are \[5, 4\]/,
    );
    expect(() => guidedEps(apply, c, undefined, Number.NaN)).toThrow(SamplerOptionsError);
    expect(() => guidedEps(apply, c, undefined, -1)).toThrow(/finite number ≥ 0 \(got -1\)/);
    c.dispose();
  });
});
