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

/** Split [B, N, H·d] into [B·H, N, d]. */
function splitHeads(x: tf.Tensor, heads: number): tf.Tensor3D {
  const [b, n, c] = x.shape as [number, number, number];
  return tf.reshape(tf.transpose(tf.reshape(x, [b, n, heads, c / heads]), [0, 2, 1, 3]), [b * heads, n, c / heads]);
}

export function attentionComposed(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, opts: AttentionOptions): tf.Tensor3D {
  const scale = checkInputs(q, k, v, opts);
  return tf.tidy(() => {
    const [b, n, c] = q.shape as [number, number, number];
    const h = opts.numHeads;
    const qh = splitHeads(q, h),
      kh = splitHeads(k, h),
      vh = splitHeads(v, h);
    const scores = tf.mul(tf.matMul(qh, kh, false, true), scale);
    const out = tf.matMul(tf.softmax(scores), vh); // [B·H, N, d]
    return tf.reshape(tf.transpose(tf.reshape(out, [b, h, n, c / h]), [0, 2, 1, 3]), [b, n, c]);
  });
}

/** Attention as the networks call it: fused on WebGPU where the kernels support the shapes, else composed. */
export function attention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, opts: AttentionOptions): tf.Tensor3D {
  const scale = checkInputs(q, k, v, opts);
  return fusedAttention(q, k, v, opts.numHeads, scale, opts.precision) ?? attentionComposed(q, k, v, opts);
}

/**
 * Attention that also returns its softmax weights (issue 14: attention maps), for callers that asked for
 * maps only: out [B, N, C] as attention(), weights [B, heads, N, M] (rows sum to 1). On WebGPU the fused
 * cross kernel's weight-writing variant where the shapes allow, else the composed ops; the normal
 * attention() path is untouched, so decoding without maps keeps its speed.
 */
export function attentionWithWeights(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  opts: AttentionOptions,
): { out: tf.Tensor3D; weights: tf.Tensor4D } {
  const scale = checkInputs(q, k, v, opts);
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
    const [b, n, c] = q.shape as [number, number, number];
    const m = k.shape[1] as number;
    const h = opts.numHeads;
    const qh = splitHeads(q, h),
      kh = splitHeads(k, h),
      vh = splitHeads(v, h);
    const probs = tf.softmax(tf.mul(tf.matMul(qh, kh, false, true), scale)); // [B·H, N, M]
    const out = tf.matMul(probs, vh);
    return {
      out: tf.reshape(tf.transpose(tf.reshape(out, [b, h, n, c / h]), [0, 2, 1, 3]), [b, n, c]) as tf.Tensor3D,
      weights: tf.reshape(probs, [b, h, n, m]) as tf.Tensor4D,
    };
  });
}
