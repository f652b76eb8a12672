// Cross-attention maps of the UNet per sampler step (issue 14, item 1): for the step's input latent x_t,
// timestep t and conditioning c, the softmax weights of every attn2 (image positions × context tokens),
// averaged over heads, then each layer brought to the latent resolution by nearest-neighbour upsampling
// (a 4×4 layer's weight is repeated over the 2×2 latent positions it covers), then averaged over layers.
// Method: DAAM (Tang et al., "What the DAAM: Interpreting Stable Diffusion Using Cross Attention", ACL 2023),
// which aggregates Stable Diffusion's cross-attention over heads and layers after upsampling; here the
// mean (not the sum), so a map is a distribution over tokens at every position.
import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from '../model/config';
import { latentShape } from '../model/config';
import { unet, type UNetParams } from '../model/unet';
import { errorClass } from '../errors';

/** Maps of one UNet call: [B, h, w, tokens] row-major, h × w the latent size; every (b, y, x) row sums to 1. */
export interface AttentionMaps {
  data: Float32Array;
  batch: number;
  height: number;
  width: number;
  tokens: number;
  /** Number of attn2 layers averaged. */
  layers: number;
}

export class AttentionMapError extends errorClass('AttentionMapError', 'attention maps: ') {}

/**
 * Runs εθ(x_t, t, c) once with attention capture and returns the averaged maps as a tensor
 * [B, h, w, tokens] (the caller disposes it) and the layer count. The ε of that call is discarded: the maps
 * are those of the conditional UNet call of the step (with guidance, the conditional half of its batch;
 * batch rows are independent in the UNet, so this is the same computation).
 */
export function crossAttentionMapsTensor(
  cfg: ModelConfig,
  params: UNetParams,
  xt: tf.Tensor4D,
  t: number | ArrayLike<number>,
  c: tf.Tensor3D,
): { maps: tf.Tensor4D; layers: number } {
  const [, h, w] = latentShape(cfg);
  if (xt.shape[2] !== h || xt.shape[3] !== w) throw new AttentionMapError(`x_t must be [batch, C, ${h}, ${w}], found [${xt.shape}]`);
  let sum: tf.Tensor4D | undefined;
  let layers = 0;
  const eps = unet(cfg, params, xt, t, c, (weights, where) => {
    const [b, , n, m] = weights.shape;
    if (where.height * where.width !== n || h % where.height !== 0 || w % where.width !== 0) {
      throw new AttentionMapError(
        `attn2 layer ${where.layer} has ${where.height}×${where.width} positions, not a divisor of the latent ${h}×${w}`,
      );
    }
    const mean = tf.reshape(tf.mean(weights, 1), [b, where.height, where.width, m]) as tf.Tensor4D;
    // resizeNearestNeighbor without corner alignment or half-pixel centres: src = floor(dst·in/out), i.e.
    // F.interpolate(mode='nearest') for integer factors.
    const up = where.height === h && where.width === w ? mean : tf.image.resizeNearestNeighbor(mean, [h, w], false, false);
    const next = tf.keep(sum ? (tf.add(sum, up) as tf.Tensor4D) : tf.clone(up));
    sum?.dispose();
    sum = next;
    layers++;
  });
  eps.dispose();
  if (!sum || layers === 0) throw new AttentionMapError('the UNet has no cross-attention (attn2) layer');
  const total = sum;
  const maps = tf.tidy(() => tf.div(total, layers) as tf.Tensor4D);
  total.dispose();
  return { maps, layers };
}

/**
 * The maps of one sampler step for latents x_t (NCHW [B, C, h, w] as read back from a step event) and the
 * conditioning c [B, tokens, condDim] (a tensor the caller keeps): see crossAttentionMapsTensor.
 */
export async function crossAttentionMaps(
  cfg: ModelConfig,
  params: UNetParams,
  xt: Float32Array,
  t: number,
  c: tf.Tensor3D,
): Promise<AttentionMaps> {
  const [ch, h, w] = latentShape(cfg);
  const b = c.shape[0];
  if (xt.length !== b * ch * h * w) {
    throw new AttentionMapError(`x_t has ${xt.length} values; ${b} sample(s) of [${ch}, ${h}, ${w}] need ${b * ch * h * w}`);
  }
  const x = tf.tensor4d(xt, [b, ch, h, w]);
  try {
    const { maps, layers } = crossAttentionMapsTensor(cfg, params, x, t, c);
    const data = (await maps.data()) as Float32Array;
    maps.dispose();
    return { data, batch: b, height: h, width: w, tokens: c.shape[1], layers };
  } finally {
    x.dispose();
  }
}
