// The phase-3 conditioning mappers (spec §4.1) and the UNet's `time_embed_condtion` (spec §4.3).
// A Conv1d with kernel 1 whose channels are tokens mixes tokens: out[b, m, :] = Σ_l W[m, l]·x[b, l, :] + bias[m].
//
// Like every network here, the weights are laid out once by a prepare…() step (prepareCondStage,
// prepareTimeCondition) and the per-call functions take only prepared tensors: nothing is transposed or
// looked up by name per UNet step, and the loader may free the checkpoint's copies of them.
import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from './config';
import { getWeight, type WeightMap } from './weights';
import { linear, linearKernel } from './layers';

/** Conv1d(in → out tokens, k=1) prepared: W as [1, out, in] (a view of PyTorch's [out, in, 1]), bias as [1, out, 1]. */
export interface TokenMixParams {
  weight: tf.Tensor3D;
  bias: tf.Tensor3D;
}

/** nn.Linear prepared: kernel [in, out] (a transposed copy of PyTorch's [out, in]), bias [out]. */
export interface LinearParams {
  kernel: tf.Tensor2D;
  bias: tf.Tensor1D;
}

/** cond_stage_model's mappers: channel_mapper.0 (L → mid tokens), channel_mapper.1 (mid → out), dim_mapper (D → condDim). */
export interface CondStageParams {
  mix1: TokenMixParams;
  mix2: TokenMixParams;
  dim: LinearParams;
}

/** time_embed_condtion: Conv1d (tokens → tokens/2), Conv1d (→ 1), Linear (contextDim → 4·modelChannels). */
export interface TimeConditionParams {
  mix1: TokenMixParams;
  mix2: TokenMixParams;
  out: LinearParams;
}

function prepareMix(w: WeightMap, name: string, out: number, inTokens: number): TokenMixParams {
  return {
    weight: tf.reshape(getWeight(w, `${name}.weight`, [out, inTokens, 1]), [1, out, inTokens]) as tf.Tensor3D,
    bias: tf.reshape(getWeight(w, `${name}.bias`, [out]), [1, out, 1]) as tf.Tensor3D,
  };
}

function prepareLinear(w: WeightMap, name: string, out: number, inDim: number): LinearParams {
  return { kernel: linearKernel(getWeight(w, `${name}.weight`, [out, inDim])), bias: getWeight(w, `${name}.bias`, [out]) as tf.Tensor1D };
}

/** W [1, out, in] · x [B, in, D] + bias [1, out, 1], broadcast over the batch. */
function tokenMix(x: tf.Tensor3D, p: TokenMixParams): tf.Tensor3D {
  return tf.tidy(() => tf.add(tf.matMul(p.weight, x), p.bias) as tf.Tensor3D);
}

/**
 * Checks the mapper weights under `prefix` against the config (MissingWeightError, or an Error naming the
 * tensor and both shapes) and lays them out for condStage. New tensors (the reshaped views and the
 * transposed dim_mapper kernel) belong to the caller (disposeDerived); biases are the WeightMap's.
 */
export function prepareCondStage(cfg: ModelConfig, w: WeightMap, prefix = 'cond_stage_model.'): CondStageParams {
  const { numTokens: l, midTokens: mid, outTokens: out, condDim } = cfg.cond;
  return {
    mix1: prepareMix(w, `${prefix}channel_mapper.0`, mid, l),
    mix2: prepareMix(w, `${prefix}channel_mapper.1`, out, mid),
    dim: prepareLinear(w, `${prefix}dim_mapper`, condDim, cfg.encoder.embedDim),
  };
}

/** cond_stage_model mappers: encoder tokens [B, L, D] → c [B, outTokens, condDim]. */
export function condStage(cfg: ModelConfig, p: CondStageParams, encoded: tf.Tensor3D): tf.Tensor3D {
  const l = cfg.cond.numTokens,
    d = cfg.encoder.embedDim;
  if (encoded.rank !== 3 || encoded.shape[1] !== l || encoded.shape[2] !== d) {
    throw new Error(`cond stage input must be [batch, ${l}, ${d}], found [${encoded.shape}]`);
  }
  return tf.tidy(() => linear(tokenMix(tokenMix(encoded, p.mix1), p.mix2), p.dim.kernel, p.dim.bias) as tf.Tensor3D);
}

/** As prepareCondStage, for the UNet's time_embed_condtion weights under `prefix`. */
export function prepareTimeCondition(
  cfg: ModelConfig,
  w: WeightMap,
  prefix = 'model.diffusion_model.time_embed_condtion.',
): TimeConditionParams {
  const tokens = cfg.cond.outTokens,
    mid = Math.floor(tokens / 2);
  return {
    mix1: prepareMix(w, `${prefix}0`, mid, tokens),
    mix2: prepareMix(w, `${prefix}1`, 1, mid),
    out: prepareLinear(w, `${prefix}2`, 4 * cfg.unet.modelChannels, cfg.unet.contextDim),
  };
}

/**
 * MinD-Vis "double conditioning": time_embed_condtion(c) = Linear(Conv1d(Conv1d(c))), squeezed to
 * [B, 4·modelChannels]; the UNet adds it to the timestep embedding. c: [B, outTokens, contextDim].
 */
export function timeCondition(cfg: ModelConfig, p: TimeConditionParams, c: tf.Tensor3D): tf.Tensor2D {
  const tokens = cfg.cond.outTokens,
    ctx = cfg.unet.contextDim;
  if (c.rank !== 3 || c.shape[1] !== tokens || c.shape[2] !== ctx) {
    throw new Error(`time condition input must be [batch, ${tokens}, ${ctx}], found [${c.shape}]`);
  }
  return tf.tidy(() => tf.squeeze(linear(tokenMix(tokenMix(c, p.mix1), p.mix2), p.out.kernel, p.out.bias), [1]) as tf.Tensor2D);
}
