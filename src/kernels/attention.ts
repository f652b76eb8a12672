// Multi-head attention softmax(Q·Kᵀ·scale)·V on [B, N, C] tensors (heads contiguous along C,
// as in both timm's qkv and the CompVis `rearrange('b n (h d) -> (b h) n d')`).
// This composed-op form is the reference and the path on non-WebGPU backends; on the WebGPU backend
// attention() runs the fused WGSL kernels of ./fusedAttention.ts where the shapes allow.
import * as tf from '@tensorflow/tfjs-core';
import { fusedAttention, fusedAttentionWithWeights, type AttentionPrecision } from './fusedAttention';
import { errorClass } from '../errors';

export interface AttentionOptions {
  numHeads: number;
  /** Defaults to headDim^-0.5. */
  scale?: number;
  /**
   * Storage precision of Q/K/V in the fused WebGPU kernels (math is f32 either way; 'f16' is within 2e-3
   * relative of f32, see docs/kernels.md). Default 'f32'. The composed path always computes in f32.
   */
  precision?: AttentionPrecision;
}

export class AttentionShapeError extends errorClass('AttentionShapeError', 'attention: ') {}

/** Checks q [B, N, C], k and v [B, M, C] with C divisible into numHeads heads; returns the scale to use. */
function checkInputs(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, opts: AttentionOptions): number {
  for (const [name, t] of [
    ['q', q],
    ['k', k],
    ['v', v],
  ] as const) {
    if (t.rank !== 3) throw new AttentionShapeError(`${name} must be [batch, tokens, width], found shape [${t.shape}]`);
  }
  if (!tf.util.arraysEqual(k.shape, v.shape)) {
    throw new AttentionShapeError(`k and v must have equal shapes, found [${k.shape}] and [${v.shape}]`);
  }
  if (q.shape[0] !== k.shape[0] || q.shape[2] !== k.shape[2]) {
    throw new AttentionShapeError(`q [${q.shape}] and k [${k.shape}] must agree in batch and width`);
  }
  const h = opts.numHeads,
    c = q.shape[2] as number;
  if (!Number.isInteger(h) || h < 1 || c % h !== 0) {
    throw new AttentionShapeError(`width ${c} is not divisible into ${h} heads`);
  }
  return opts.scale ?? (c / h) ** -0.5;
}

/** Split [B, N, H·d] into [B·H, N, d]. One head is the tensor itself: the transpose would only copy it. */
function splitHeads(x: tf.Tensor, heads: number): tf.Tensor3D {
  if (heads === 1) return x as tf.Tensor3D;
  const [b, n, c] = x.shape as [number, number, number];
  return tf.reshape(tf.transpose(tf.reshape(x, [b, n, heads, c / heads]), [0, 2, 1, 3]), [b * heads, n, c / heads]);
}

/** [B·H, N, d] back to [B, N, H·d] (splitHeads' inverse). */
function mergeHeads(x: tf.Tensor, b: number, heads: number): tf.Tensor3D {
  if (heads === 1) return x as tf.Tensor3D;
  const [, n, d] = x.shape as [number, number, number];
  return tf.reshape(tf.transpose(tf.reshape(x, [b, heads, n, d]), [0, 2, 1, 3]), [b, n, heads * d]);
}

/** Kᵀ per (sample, head): [B, M, H·d] → [B·H, d, M]. */
function splitHeadsTransposed(x: tf.Tensor, heads: number): tf.Tensor3D {
  const [b, m, c] = x.shape as [number, number, number];
  return tf.reshape(tf.transpose(tf.reshape(x, [b, m, heads, c / heads]), [0, 2, 3, 1]), [b * heads, c / heads, m]);
}

/**
 * The composed attention as one 2-D product per (sample, head) on a Kᵀ laid out once, for tfjs-wasm: its
 * BatchMatMul runs XNNPACK only on an untransposed product with a single batch, and every batched or transposeB
 * product on a generic loop 10–20× slower (default UNet at batch 2: Q·Kᵀ [2, 64, 64]·[2, 77, 64]ᵀ 0.52 ms, the
 * two slices 0.03 ms each). The scale multiplies Q (one op, not one per slice): within float32 rounding of
 * attentionComposed, exact when the scale is a power of 2.
 */
function attentionSliced(q: tf.Tensor, slices: KeySlices, heads: number, scale: number): tf.Tensor3D {
  return tf.tidy(() => slicedProducts(q, slices, heads, scale).out);
}

/**
 * attentionSliced's products, and the softmax weights [B, heads, N, M] when asked for (attentionWithWeights on
 * tfjs-wasm: the same ops as attention() there, so capturing maps leaves the output as it is). In a caller's tidy.
 */
function slicedProducts(
  q: tf.Tensor,
  { kT, v }: KeySlices,
  heads: number,
  scale: number,
  withWeights = false,
): { out: tf.Tensor3D; weights?: tf.Tensor4D } {
  const [b, n] = q.shape as [number, number, number];
  const probs = tf.unstack(splitHeads(tf.mul(q, scale), heads)).map((qi, i) => tf.softmax(tf.matMul(qi as tf.Tensor2D, kT[i])));
  const out = mergeHeads(tf.stack(probs.map((p, i) => tf.matMul(p, v[i]))), b, heads);
  return withWeights ? { out, weights: tf.reshape(tf.stack(probs), [b, heads, n, kT[0].shape[1]]) } : { out };
}

/** Kᵀ [d, M] and V [M, d] per (sample, head), in attentionSliced's order. */
interface KeySlices {
  kT: tf.Tensor2D[];
  v: tf.Tensor2D[];
}

function keySlices(k: tf.Tensor, v: tf.Tensor, heads: number): KeySlices {
  return tf.tidy(() => ({
    kT: tf.unstack(splitHeadsTransposed(k, heads)) as tf.Tensor2D[],
    v: tf.unstack(splitHeads(v, heads)) as tf.Tensor2D[],
  }));
}

/**
 * Keys and values [B, M, C] laid out once for attention on them at every call (a sampler run's cross-attention on
 * its fixed context): on tfjs-wasm also split per (sample, head) as attentionSliced multiplies them, which
 * attention() would otherwise do per call. New tensors are the caller's (attentionKeysTensors lists them).
 */
export interface AttentionKeys {
  k: tf.Tensor3D;
  v: tf.Tensor3D;
  slices?: KeySlices;
}

export function attentionKeys(k: tf.Tensor3D, v: tf.Tensor3D, numHeads: number): AttentionKeys {
  return tf.getBackend() === 'wasm' ? { k, v, slices: keySlices(k, v, numHeads) } : { k, v };
}

/** Every tensor of an AttentionKeys (k and v included). */
export function attentionKeysTensors({ k, v, slices }: AttentionKeys): tf.Tensor[] {
  return [k, v, ...(slices ? [...slices.kT, ...slices.v] : [])];
}

/** attention() on keys laid out by attentionKeys (the same values, without splitting K and V again). */
export function attentionOnKeys(q: tf.Tensor, keys: AttentionKeys, opts: AttentionOptions): tf.Tensor3D {
  if (!keys.slices) return attention(q, keys.k, keys.v, opts);
  return attentionSliced(q, keys.slices, opts.numHeads, checkInputs(q, keys.k, keys.v, opts));
}

export function attentionComposed(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, opts: AttentionOptions): tf.Tensor3D {
  const scale = checkInputs(q, k, v, opts);
  return tf.tidy(() => {
    const b = q.shape[0] as number;
    const h = opts.numHeads;
    const qh = splitHeads(q, h),
      kh = splitHeads(k, h),
      vh = splitHeads(v, h);
    const scores = tf.mul(tf.matMul(qh, kh, false, true), scale);
    const out = tf.matMul(tf.softmax(scores), vh); // [B·H, N, d]
    return mergeHeads(out, b, h);
  });
}

/** Attention as the networks call it: fused on WebGPU where the kernels support the shapes, else composed. */
export function attention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, opts: AttentionOptions): tf.Tensor3D {
  const scale = checkInputs(q, k, v, opts);
  if (tf.getBackend() === 'wasm') return tf.tidy(() => attentionSliced(q, keySlices(k, v, opts.numHeads), opts.numHeads, scale));
  return fusedAttention(q, k, v, opts.numHeads, scale, opts.precision) ?? attentionComposed(q, k, v, opts);
}

/**
 * Attention that also returns its softmax weights (issue 14: attention maps), for callers that asked for
 * maps only: out [B, N, C] as attention(), weights [B, heads, N, M] (rows sum to 1). On WebGPU the fused
 * cross kernel's weight-writing variant where the shapes allow, on tfjs-wasm attention()'s own sliced products,
 * else the composed ops; the normal attention() path is untouched, so decoding without maps keeps its speed.
 */
export function attentionWithWeights(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  opts: AttentionOptions,
): { out: tf.Tensor3D; weights: tf.Tensor4D } {
  const scale = checkInputs(q, k, v, opts);
  if (tf.getBackend() === 'wasm') {
    return tf.tidy(
      () => slicedProducts(q, keySlices(k, v, opts.numHeads), opts.numHeads, scale, true) as { out: tf.Tensor3D; weights: tf.Tensor4D },
    );
  }
  return fusedAttentionWithWeights(q, k, v, opts.numHeads, scale) ?? attentionWeightsComposed(q, k, v, opts.numHeads, scale);
}

/** The composed form of attentionWithWeights (all backends; the reference for the fused variant). */
export function attentionWeightsComposed(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  numHeads: number,
  scale: number,
): { out: tf.Tensor3D; weights: tf.Tensor4D } {
  const opts = { numHeads };
  return tf.tidy(() => {
    const [b, n] = q.shape as [number, number, number];
    const m = k.shape[1] as number;
    const h = opts.numHeads;
    const qh = splitHeads(q, h),
      kh = splitHeads(k, h),
      vh = splitHeads(v, h);
    const probs = tf.softmax(tf.mul(tf.matMul(qh, kh, false, true), scale)); // [B·H, N, M]
    const out = tf.matMul(probs, vh);
    return {
      out: mergeHeads(out, b, h),
      weights: tf.reshape(probs, [b, h, n, m]) as tf.Tensor4D,
    };
  });
}
