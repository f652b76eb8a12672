// Building blocks shared by the networks, each the tfjs form of one PyTorch module.
// Activations are channels-last (NHWC for images, [B, N, C] for tokens); weights come in PyTorch
// layout and are re-laid-out once by the callers' prepare step (see conv2dKernel).
// Only functional tf.* ops: tfjs-core alone does not register the chained tensor methods (x.reshape).
import * as tf from '@tensorflow/tfjs-core';
import { PackedF16, weightTensor, type Weight } from '../kernels/packedWeights';

/**
 * PyTorch Linear weight [out, in] → the [in, out] kernel `linear` takes. Done once when a network is
 * prepared: tfjs-wasm's matMul with transposeB is about 10× slower than on a pre-transposed kernel.
 */
export function linearKernel(weight: tf.Tensor): tf.Tensor2D {
  // In a tidy: the reshaped view shares the weight's buffer, and left alive it would keep that buffer on the device
  // after the weight itself is freed (a second copy of every linear weight, 1.2 GB at the published size).
  return tf.tidy(() => tf.transpose(tf.reshape(weight, [weight.shape[0], -1])) as tf.Tensor2D);
}

/**
 * nn.Linear: x[..., in] · K + b with the prepared kernel K [in, out] (see linearKernel; packed f16 or float32).
 * One 2-D product with the bias fused (a separate add was one more kernel launch per layer), on x flattened to
 * [rows, in]: tfjs-wasm runs XNNPACK on a single-batch product only.
 */
export function linear(x: tf.Tensor, kernel: Weight, bias?: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inDim = x.shape[x.shape.length - 1];
    const a = (x.rank === 2 ? x : tf.reshape(x, [-1, inDim])) as tf.Tensor2D;
    const b = weightTensor(kernel) as tf.Tensor2D;
    // Without a bias the plain product: tf.fused.matMul's reshapes and gradient wrapper cost more than it saves.
    const y = bias ? tf.fused.matMul({ a, b, bias }) : tf.matMul(a, b);
    return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), kernel.shape[1] as number]);
  });
}

/**
 * nn.LayerNorm over the last axis (biased variance, as PyTorch: the mean of the centred squares). The centred
 * values are computed once and reused for the variance, and 1/σ is one rsqrt: 9 kernels, where tf.moments and a
 * division took 13 (tf.moments casts, reshapes and centres again).
 */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps = 1e-5): tf.Tensor {
  return tf.tidy(() => {
    const axis = x.shape.length - 1;
    const centred = tf.sub(x, tf.mean(x, axis, true));
    const variance = tf.mean(tf.square(centred), axis, true);
    return tf.add(tf.mul(tf.mul(centred, tf.rsqrt(tf.add(variance, eps))), gamma), beta);
  });
}

/** nn.GroupNorm on NHWC: statistics over (H, W, channels of the group). */
export function groupNorm(x: tf.Tensor4D, groups: number, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, h, w, c] = x.shape;
    if (c % groups !== 0) throw new Error(`GroupNorm: ${c} channels are not divisible into ${groups} groups`);
    const cg = c / groups;
    // Statistics on a [b, G, h·w·cg] copy, so both means reduce the innermost axis: tfjs-wasm's Mean over
    // non-innermost axes transposes its input inside, once per mean. Two passes (mean, then the mean of the
    // centred squares) as PyTorch, not E[x²] − E[x]², which cancels when |mean| ≫ sd.
    const grouped = tf.reshape(tf.transpose(tf.reshape(x, [b, h * w, groups, cg]), [0, 2, 1, 3]), [b, groups, h * w * cg]);
    const mean = tf.mean(grouped, 2, true); // [b, G, 1]
    const variance = tf.mean(tf.square(tf.sub(grouped, mean)), 2, true); // [b, G, 1]
    // Normalise and apply gamma / beta as one scale and one shift per (sample, channel): y = x·s + t with
    // s = γ / sqrt(var + eps), t = β − mean·s; two full-size ops instead of four.
    const scale = tf.mul(tf.reshape(gamma, [1, groups, cg]), tf.rsqrt(tf.add(variance, eps))); // [b, G, cg]
    const shift = tf.sub(tf.reshape(beta, [1, groups, cg]), tf.mul(mean, scale));
    return tf.add(tf.mul(x, tf.reshape(scale, [b, 1, 1, c])), tf.reshape(shift, [b, 1, 1, c])) as tf.Tensor4D;
  });
}

/** PyTorch conv weight [out, in, kh, kw] → tfjs filter [kh, kw, in, out]. */
export function conv2dKernel(weight: tf.Tensor): tf.Tensor4D {
  return tf.transpose(weight, [2, 3, 1, 0]) as tf.Tensor4D;
}

/**
 * nn.Conv2d on NHWC with a prepared [kh, kw, in, out] kernel (packed f16 or float32); symmetric zero padding as PyTorch. One fused
 * kernel (explicit padding and bias inside the convolution): a separate pad and bias add were 2 of every 3
 * kernel launches of a convolution, and the pad a full copy of the activation (npm run profile:unet).
 */
export function conv2d(x: tf.Tensor4D, kernel: Weight<tf.Tensor4D>, bias: tf.Tensor | undefined, stride = 1, pad = 0): tf.Tensor4D {
  // A packed kernel is widened for this convolution only (src/kernels/packedWeights.ts).
  if (kernel instanceof PackedF16) return tf.tidy(() => conv2d(x, weightTensor(kernel) as tf.Tensor4D, bias, stride, pad));
  return tf.fused.conv2d({
    x,
    filter: kernel,
    strides: stride,
    pad:
      pad > 0
        ? [
            [0, 0],
            [pad, pad],
            [pad, pad],
            [0, 0],
          ]
        : 'valid',
    ...(bias ? { bias } : {}),
  });
}

/** Exact (erf) GELU, as torch.nn.GELU() / F.gelu default. */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))));
}

/** SiLU / swish: x·σ(x). */
export function silu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
}

/** Nearest-neighbour ×2 upsampling on NHWC (F.interpolate(scale_factor=2, mode='nearest')). */
export function upsampleNearest2x(x: tf.Tensor4D): tf.Tensor4D {
  const [, h, w] = x.shape;
  return tf.image.resizeNearestNeighbor(x, [h * 2, w * 2], false, false);
}

/**
 * CompVis `timestep_embedding`: [cos(t·f), sin(t·f)], f_k = exp(−ln(10000)·k/half), cos first.
 * Computed in float64 on the CPU, then uploaded; t may be fractional.
 */
export function timestepEmbedding(timesteps: ArrayLike<number>, dim: number, maxPeriod = 10000): tf.Tensor2D {
  const half = Math.floor(dim / 2);
  const out = new Float32Array(timesteps.length * dim);
  for (let b = 0; b < timesteps.length; b++) {
    for (let k = 0; k < half; k++) {
      // PyTorch computes freqs in float32: exp(-ln(maxPeriod) * arange(half) / half), then t * freqs in float32.
      const f = Math.fround(Math.exp(Math.fround((-Math.log(maxPeriod) * k) / half)));
      const arg = Math.fround(Math.fround(timesteps[b]) * f);
      out[b * dim + k] = Math.cos(arg);
      out[b * dim + half + k] = Math.sin(arg);
    }
  }
  return tf.tensor2d(out, [timesteps.length, dim]);
}
