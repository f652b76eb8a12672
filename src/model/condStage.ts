// The phase-3 conditioning mappers (spec §4.1) and the UNet's `time_embed_condtion` (spec §4.3).
// A Conv1d with kernel 1 whose channels are tokens mixes tokens: out[b, m, :] = Σ_l W[m, l]·x[b, l, :] + bias[m].
import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from './config';
import { getWeight, type WeightMap } from './weights';
import { linear, linearKernel } from './layers';

/** Conv1d(in → out tokens, k=1) on [B, in, D] → [B, out, D]; weight [out, in, 1] in PyTorch layout. */
function tokenMix(x: tf.Tensor3D, weight: tf.Tensor, bias: tf.Tensor): tf.Tensor3D {
  return tf.tidy(() => {
    const [out, inTokens] = weight.shape;
    // W [out, in] · x [B, in, D], broadcast over the batch; the bias is per output token.
    const y = tf.matMul(tf.reshape(weight, [1, out, inTokens]) as tf.Tensor3D, x);
    return tf.add(y, tf.reshape(bias, [1, out, 1])) as tf.Tensor3D;
  });
}

/** cond_stage_model mappers: encoder tokens [B, L, D] → c [B, outTokens, condDim]. */
export function condStage(cfg: ModelConfig, w: WeightMap, encoded: tf.Tensor3D, prefix = 'cond_stage_model.'): tf.Tensor3D {
  const { numTokens: l, midTokens: mid, outTokens: out, condDim } = cfg.cond;
  const d = cfg.encoder.embedDim;
  if (encoded.rank !== 3 || encoded.shape[1] !== l || encoded.shape[2] !== d) {
    throw new Error(`cond stage input must be [batch, ${l}, ${d}], found [${encoded.shape}]`);
  }
  const get = (name: string, shape: number[]): tf.Tensor => getWeight(w, prefix + name, shape);
  return tf.tidy(() => {
    const m1 = tokenMix(encoded, get('channel_mapper.0.weight', [mid, l, 1]), get('channel_mapper.0.bias', [mid]));
    const m2 = tokenMix(m1, get('channel_mapper.1.weight', [out, mid, 1]), get('channel_mapper.1.bias', [out]));
    return linear(m2, linearKernel(get('dim_mapper.weight', [condDim, d])), get('dim_mapper.bias', [condDim])) as tf.Tensor3D;
  });
}

/**
 * MinD-Vis "double conditioning": time_embed_condtion(c) = Linear(Conv1d(Conv1d(c))), squeezed to
 * [B, 4·modelChannels]; the UNet adds it to the timestep embedding. c: [B, outTokens, contextDim].
 */
export function timeCondition(cfg: ModelConfig, w: WeightMap, c: tf.Tensor3D,
  prefix = 'model.diffusion_model.time_embed_condtion.'): tf.Tensor2D {
  const tokens = cfg.cond.outTokens, mid = Math.floor(tokens / 2);
  const ctx = cfg.unet.contextDim, ted = 4 * cfg.unet.modelChannels;
  if (c.rank !== 3 || c.shape[1] !== tokens || c.shape[2] !== ctx) {
    throw new Error(`time condition input must be [batch, ${tokens}, ${ctx}], found [${c.shape}]`);
  }
  const get = (name: string, shape: number[]): tf.Tensor => getWeight(w, prefix + name, shape);
  return tf.tidy(() => {
    const m1 = tokenMix(c, get('0.weight', [mid, tokens, 1]), get('0.bias', [mid]));
    const m2 = tokenMix(m1, get('1.weight', [1, mid, 1]), get('1.bias', [1]));
    const e = linear(m2, linearKernel(get('2.weight', [ted, ctx])), get('2.bias', [ted]));
    return tf.squeeze(e, [1]) as tf.Tensor2D;
  });
}
