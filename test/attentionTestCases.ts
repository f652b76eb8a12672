// Shared by the Node and Chromium kernel tests: shapes, seeded inputs and comparison helpers.
import * as tf from '@tensorflow/tfjs-core';
import { attentionReference } from '../src/kernels/attentionReference';

export interface AttentionCase {
  batch: number;
  queries: number;
  keys: number;
  width: number;
  heads: number;
}

/** Edge cases (N = 1, odd N, M ≠ N, head width not a multiple of 4) and both kernels (M ≤ 128 → cross, else flash). */
export const attentionCases: AttentionCase[] = [
  { batch: 1, queries: 1, keys: 1, width: 4, heads: 1 },
  { batch: 2, queries: 7, keys: 5, width: 6, heads: 2 }, // d = 3
  { batch: 1, queries: 1, keys: 77, width: 10, heads: 2 }, // d = 5, N = 1
  { batch: 3, queries: 33, keys: 128, width: 40, heads: 4 }, // cross at its key limit
  { batch: 1, queries: 17, keys: 129, width: 24, heads: 3 }, // flash just past it, odd N, d = 8
  { batch: 2, queries: 150, keys: 150, width: 6, heads: 2 }, // flash, 3 key tiles, d = 3
  { batch: 1, queries: 65, keys: 200, width: 132, heads: 1 }, // flash, d = 132 over several chunks
  { batch: 2, queries: 20, keys: 20, width: 256, heads: 16 }, // encoder-like: 16 heads × 16
  { batch: 1, queries: 140, keys: 140, width: 1026, heads: 1 }, // flash, d = 1026 > MAX_D → composed fallback
];

/** Real UNet cross-attention width (C = 384, 77 keys), scaled down from N = 1024 to 256 queries. */
export const unetCrossScaled: AttentionCase = { batch: 2, queries: 256, keys: 77, width: 384, heads: 1 };

export function makeInputs(c: AttentionCase, seed: number): [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D] {
  return [
    tf.randomNormal([c.batch, c.queries, c.width], 0, 1, 'float32', seed),
    tf.randomNormal([c.batch, c.keys, c.width], 0, 1, 'float32', seed + 1),
    tf.randomNormal([c.batch, c.keys, c.width], 0, 1, 'float32', seed + 2),
  ];
}

export async function referenceOf(
  c: AttentionCase,
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  round: (x: number) => number = (x) => x,
): Promise<Float64Array> {
  const [qa, ka, va] = await Promise.all([q.data(), k.data(), v.data()]);
  const r = (a: ArrayLike<number>) => Float64Array.from(a, round);
  return attentionReference(r(qa), r(ka), r(va), c.batch, c.queries, c.keys, c.width, c.heads, (c.width / c.heads) ** -0.5);
}

/** Round to the nearest IEEE half (ties to even), as pack2x16float does for normal values. */
export function roundToF16(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  if (a >= 65520) return Math.sign(x) * Infinity;
  const exponent = Math.max(Math.floor(Math.log2(a)), -14); // below 2^-14: subnormal spacing 2^-24
  const ulp = 2 ** (exponent - 10);
  const q = a / ulp,
    f = Math.floor(q),
    rem = q - f;
  const rounded = rem > 0.5 || (rem === 0.5 && f % 2 === 1) ? f + 1 : f;
  return Math.sign(x) * rounded * ulp;
}
