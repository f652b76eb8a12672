// Phase-3 fMRI encoder `cond_stage_model.mae` (spec §2.1, §3.3 inference path):
// Conv1d patch embed (kernel = stride = patchSize) → + positional table → pre-LN ViT blocks → LayerNorm.
import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from './config';
import { getWeight, type WeightMap } from './weights';
import { gelu, layerNorm, linear, linearKernel } from './layers';
import { attention } from '../kernels/attention';
import { keepAsIs, type KeepKernel, type Weight } from '../kernels/packedWeights';

interface Norm {
  gamma: tf.Tensor1D;
  beta: tf.Tensor1D;
}

export interface FmriEncoderBlock {
  norm1: Norm;
  /** Prepared kernel [D, 3D] (PyTorch's [3D, D] transposed); columns q‖k‖v, heads contiguous inside each. */
  qkvWeight: Weight<tf.Tensor2D>;
  qkvBias: tf.Tensor1D;
  projWeight: Weight<tf.Tensor2D>;
  projBias: tf.Tensor1D;
  norm2: Norm;
  fc1Weight: Weight<tf.Tensor2D>;
  fc1Bias: tf.Tensor1D;
  fc2Weight: Weight<tf.Tensor2D>;
  fc2Bias: tf.Tensor1D;
}

export interface FmriEncoderParams {
  /** Patch-embed Conv1d weight [D, 1, p] viewed as a Linear [D, p]. */
  patchWeight: tf.Tensor2D;
  patchBias: tf.Tensor1D;
  /** Rows 1..L of the checkpoint's pos_embed (trained in phase 3, so not recomputed): [L, D]. */
  pos: tf.Tensor2D;
  blocks: FmriEncoderBlock[];
  norm: Norm;
}

/**
 * Checks and views the encoder weights under `prefix`; the reshaped/sliced tensors are new and owned by the caller.
 * `keep` decides what is kept of each block's re-laid-out kernels (see prepareUNet).
 */
export function prepareFmriEncoder(
  cfg: ModelConfig,
  w: WeightMap,
  prefix = 'cond_stage_model.mae.',
  keep: KeepKernel = keepAsIs,
): FmriEncoderParams {
  const { numVoxels, patchSize: p, embedDim: d, depth, mlpRatio } = cfg.encoder;
  if (numVoxels % p !== 0) throw new Error(`encoder numVoxels ${numVoxels} is not a multiple of patchSize ${p}`);
  const l = numVoxels / p;
  const hidden = Math.floor(d * mlpRatio);
  const get = <T extends tf.Tensor>(name: string, shape: number[]): T => getWeight(w, prefix + name, shape) as T;
  const norm = (name: string): Norm => ({ gamma: get(`${name}.weight`, [d]), beta: get(`${name}.bias`, [d]) });
  const posTable = get<tf.Tensor3D>('pos_embed', [1, l + 1, d]);
  const patch = get('patch_embed.proj.weight', [d, 1, p]);
  const kernel = (name: string, shape: number[]) => keep(linearKernel(get<tf.Tensor2D>(name, shape)), prefix + name);
  const blocks: FmriEncoderBlock[] = [];
  for (let i = 0; i < depth; i++) {
    const b = `blocks.${i}.`;
    blocks.push({
      norm1: norm(`${b}norm1`),
      qkvWeight: kernel(`${b}attn.qkv.weight`, [3 * d, d]),
      qkvBias: get(`${b}attn.qkv.bias`, [3 * d]),
      projWeight: kernel(`${b}attn.proj.weight`, [d, d]),
      projBias: get(`${b}attn.proj.bias`, [d]),
      norm2: norm(`${b}norm2`),
      fc1Weight: kernel(`${b}mlp.fc1.weight`, [hidden, d]),
      fc1Bias: get(`${b}mlp.fc1.bias`, [hidden]),
      fc2Weight: kernel(`${b}mlp.fc2.weight`, [d, hidden]),
      fc2Bias: get(`${b}mlp.fc2.bias`, [d]),
    });
  }
  return {
    patchWeight: linearKernel(patch),
    patchBias: get('patch_embed.proj.bias', [d]),
    pos: tf.tidy(() => tf.reshape(tf.slice(posTable, [0, 1, 0], [1, l, d]), [l, d])),
    blocks,
    norm: norm('norm'),
  };
}

/** One timm `Block`: x + attn(LN(x)), then + mlp(LN(x)). */
function block(x: tf.Tensor3D, b: FmriEncoderBlock, numHeads: number): tf.Tensor3D {
  const d = x.shape[2];
  const h = layerNorm(x, b.norm1.gamma, b.norm1.beta);
  const qkv = linear(h, b.qkvWeight, b.qkvBias);
  const [q, k, v] = tf.split(qkv, [d, d, d], 2);
  const a = linear(attention(q, k, v, { numHeads }), b.projWeight, b.projBias);
  const x1 = tf.add(x, a);
  const m = linear(gelu(linear(layerNorm(x1, b.norm2.gamma, b.norm2.beta), b.fc1Weight, b.fc1Bias)), b.fc2Weight, b.fc2Bias);
  return tf.add(x1, m) as tf.Tensor3D;
}

/** Padded, z-scored fMRI [B, V] → tokens [B, L, D]. */
export function fmriEncoder(cfg: ModelConfig, params: FmriEncoderParams, x: tf.Tensor2D): tf.Tensor3D {
  const { numVoxels, patchSize: p, numHeads } = cfg.encoder;
  if (x.rank !== 2 || x.shape[1] !== numVoxels) {
    throw new Error(`fMRI encoder input must be [batch, ${numVoxels}], found [${x.shape}]`);
  }
  return tf.tidy(() => {
    const [batch] = x.shape;
    const l = numVoxels / p;
    // kernel = stride = p: each patch is one dot product with the [D, p] kernel.
    let h = tf.add(linear(tf.reshape(x, [batch, l, p]), params.patchWeight, params.patchBias), params.pos) as tf.Tensor3D;
    // Each block in its own tidy, so that its intermediates are freed when it ends.
    for (const b of params.blocks) {
      const prev = h;
      h = tf.tidy(() => block(prev, b, numHeads));
      prev.dispose();
    }
    return layerNorm(h, params.norm.gamma, params.norm.beta) as tf.Tensor3D;
  });
}
