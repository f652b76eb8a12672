// First stage: taming/CompVis VQ autoencoder (`VQModelInterface`, spec §4.4). Decoding quantises first
// (nearest codebook row, L2), then post_quant_conv and the Decoder. NCHW at the boundary, NHWC inside.
import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from './config';
import type { WeightMap } from './weights';
import { conv2d, conv2dKernel, groupNorm, linear, linearKernel, silu, upsampleNearest2x } from './layers';
import { checkWeights, vqDecoderShapes, vqEncoderShapes, vqLayout, VQ_PREFIX, type VQLevel } from './layout';
import { attention } from '../kernels/attention';
import { errorClass } from '../errors';

interface Conv {
  kernel: tf.Tensor4D;
  bias: tf.Tensor1D;
}
interface Pointwise {
  weight: tf.Tensor2D;
  bias: tf.Tensor1D;
}
interface Norm {
  gamma: tf.Tensor1D;
  beta: tf.Tensor1D;
}
interface ResnetParams {
  norm1: Norm;
  conv1: Conv;
  norm2: Norm;
  conv2: Conv;
  shortcut?: Pointwise;
}
interface AttnParams {
  norm: Norm;
  q: Pointwise;
  k: Pointwise;
  v: Pointwise;
  projOut: Pointwise;
}
interface LevelParams {
  blocks: ResnetParams[];
  attn: AttnParams[];
  resample?: Conv;
}
interface MidParams {
  block1: ResnetParams;
  attn: AttnParams;
  block2: ResnetParams;
}

export interface VQEncoderParams {
  convIn: Conv;
  down: LevelParams[];
  mid: MidParams;
  normOut: Norm;
  convOut: Conv;
  quantConv: Pointwise;
}

export interface VQParams {
  /** Codebook [nEmbed, embedDim] and its squared row norms [nEmbed]. */
  codebook: tf.Tensor2D;
  codebookSq: tf.Tensor1D;
  postQuantConv: Pointwise;
  convIn: Conv;
  mid: MidParams;
  /** decoder.up.{i}, i = 0 the full-resolution level (run last). */
  up: LevelParams[];
  normOut: Norm;
  convOut: Conv;
  /** Present only when the weights include the encoder and quant_conv (bundles ship the decode path only). */
  encoder?: VQEncoderParams;
}

export class VQInputError extends errorClass('VQInputError', 'vq: ') {}

/**
 * Validates the decode-path tensors (and the encoder's, when any `encoder.` / `quant_conv` tensor is there)
 * against the config, naming every missing / mis-shaped one; conv kernels become HWIO copies owned by the caller.
 */
export function prepareVQ(cfg: ModelConfig, w: WeightMap, prefix = VQ_PREFIX): VQParams {
  const hasEncoder = Object.keys(w).some((n) => n.startsWith(`${prefix}encoder.`) || n.startsWith(`${prefix}quant_conv.`));
  checkWeights(
    w,
    { ...vqDecoderShapes(cfg, prefix), ...(hasEncoder ? vqEncoderShapes(cfg, prefix) : {}) },
    `VQ ${hasEncoder ? 'encoder and decoder' : 'decoder'} weights under ${prefix}`,
  );

  const get = <T extends tf.Tensor>(name: string): T => w[prefix + name] as T;
  const conv = (name: string): Conv => ({ kernel: conv2dKernel(get(`${name}.weight`)), bias: get(`${name}.bias`) });
  const pointwise = (name: string): Pointwise => {
    return { weight: linearKernel(get(`${name}.weight`)), bias: get(`${name}.bias`) };
  };
  const norm = (name: string): Norm => ({ gamma: get(`${name}.weight`), beta: get(`${name}.bias`) });
  const resnet = (name: string, cin: number, cout: number): ResnetParams => ({
    norm1: norm(`${name}.norm1`),
    conv1: conv(`${name}.conv1`),
    norm2: norm(`${name}.norm2`),
    conv2: conv(`${name}.conv2`),
    shortcut: cin !== cout ? pointwise(`${name}.nin_shortcut`) : undefined,
  });
  const attn = (name: string): AttnParams => ({
    norm: norm(`${name}.norm`),
    q: pointwise(`${name}.q`),
    k: pointwise(`${name}.k`),
    v: pointwise(`${name}.v`),
    projOut: pointwise(`${name}.proj_out`),
  });
  const mid = (name: string, c: number): MidParams => ({
    block1: resnet(`${name}.block_1`, c, c),
    attn: attn(`${name}.attn_1`),
    block2: resnet(`${name}.block_2`, c, c),
  });
  const level = (name: string, l: VQLevel, resample: string): LevelParams => ({
    blocks: l.blocks.map((b, j) => resnet(`${name}.block.${j}`, b.cin, b.cout)),
    attn: l.attn ? l.blocks.map((_, j) => attn(`${name}.attn.${j}`)) : [],
    resample: l.resample !== undefined ? conv(`${name}.${resample}.conv`) : undefined,
  });

  const layout = vqLayout(cfg.vq);
  const codebook = get<tf.Tensor2D>('quantize.embedding.weight');
  return {
    codebook,
    codebookSq: tf.tidy(() => tf.sum(tf.square(codebook), 1)),
    postQuantConv: pointwise('post_quant_conv'),
    convIn: conv('decoder.conv_in'),
    mid: mid('decoder.mid', layout.decoderIn),
    up: layout.up.map((l, i) => level(`decoder.up.${i}`, l, 'upsample')),
    normOut: norm('decoder.norm_out'),
    convOut: conv('decoder.conv_out'),
    encoder: hasEncoder
      ? {
          convIn: conv('encoder.conv_in'),
          down: layout.down.map((l, i) => level(`encoder.down.${i}`, l, 'downsample')),
          mid: mid('encoder.mid', layout.encoderOut),
          normOut: norm('encoder.norm_out'),
          convOut: conv('encoder.conv_out'),
          quantConv: pointwise('quant_conv'),
        }
      : undefined,
  };
}

/** A 1×1 conv on NHWC as a Linear over channels. */
function pointwiseConv(x: tf.Tensor4D, p: Pointwise): tf.Tensor4D {
  return linear(x, p.weight, p.bias) as tf.Tensor4D;
}

function resnetBlock(p: ResnetParams, x: tf.Tensor4D): tf.Tensor4D {
  const h = conv2d(silu(groupNorm(x, 32, p.norm1.gamma, p.norm1.beta, 1e-6)) as tf.Tensor4D, p.conv1.kernel, p.conv1.bias, 1, 1);
  // Dropout (0) is the identity at inference.
  const h2 = conv2d(silu(groupNorm(h, 32, p.norm2.gamma, p.norm2.beta, 1e-6)) as tf.Tensor4D, p.conv2.kernel, p.conv2.bias, 1, 1);
  return tf.add(p.shortcut ? pointwiseConv(x, p.shortcut) : x, h2) as tf.Tensor4D;
}

/** AttnBlock: single-head self-attention over the H·W positions, scale C^-0.5, 1×1 q/k/v/proj_out. */
function attnBlock(p: AttnParams, x: tf.Tensor4D): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const n = tf.reshape(groupNorm(x, 32, p.norm.gamma, p.norm.beta, 1e-6), [b, h * w, c]);
  const q = linear(n, p.q.weight, p.q.bias),
    k = linear(n, p.k.weight, p.k.bias),
    v = linear(n, p.v.weight, p.v.bias);
  const a = linear(attention(q, k, v, { numHeads: 1 }), p.projOut.weight, p.projOut.bias);
  return tf.add(x, tf.reshape(a, [b, h, w, c])) as tf.Tensor4D;
}

function midBlock(p: MidParams, x: tf.Tensor4D): tf.Tensor4D {
  return resnetBlock(p.block2, attnBlock(p.attn, resnetBlock(p.block1, x)));
}

function runLevel(p: LevelParams, x: tf.Tensor4D): tf.Tensor4D {
  let h = x;
  p.blocks.forEach((blk, j) => {
    h = resnetBlock(blk, h);
    if (p.attn.length) h = attnBlock(p.attn[j], h);
  });
  return h;
}

function checkImage(x: tf.Tensor, channels: number, side: number | undefined, what: string): void {
  const [, ch, h, w] = x.shape as number[];
  if (x.rank !== 4 || ch !== channels || (side !== undefined && (h % side !== 0 || w % side !== 0))) {
    throw new VQInputError(
      `${what} must be NCHW [batch, ${channels}, h, w]${side !== undefined && side > 1 ? ` with h and w multiples of ${side}` : ''}, found [${x.shape}]`,
    );
  }
}

/** Image NCHW in [-1, 1] → pre-quantisation latent NCHW (after quant_conv), as VQModelInterface.encode. */
export function vqEncode(cfg: ModelConfig, p: VQParams, img: tf.Tensor4D): tf.Tensor4D {
  const e = p.encoder;
  if (!e)
    throw new VQInputError('these weights have no VQ encoder (first_stage_model.encoder.* and quant_conv): bundles ship the decoder only');
  checkImage(img, cfg.vq.inChannels, 2 ** (cfg.vq.chMult.length - 1), 'image');
  return tf.tidy(() => {
    let h = conv2d(tf.transpose(img, [0, 2, 3, 1]) as tf.Tensor4D, e.convIn.kernel, e.convIn.bias, 1, 1);
    for (const level of e.down) {
      h = runLevel(level, h);
      // taming's Downsample pads right and bottom only, then a stride-2 valid conv.
      if (level.resample)
        h = conv2d(
          tf.pad(h, [
            [0, 0],
            [0, 1],
            [0, 1],
            [0, 0],
          ]),
          level.resample.kernel,
          level.resample.bias,
          2,
          0,
        );
    }
    h = midBlock(e.mid, h);
    h = conv2d(silu(groupNorm(h, 32, e.normOut.gamma, e.normOut.beta, 1e-6)) as tf.Tensor4D, e.convOut.kernel, e.convOut.bias, 1, 1);
    return tf.transpose(pointwiseConv(h, e.quantConv), [0, 3, 1, 2]) as tf.Tensor4D;
  });
}

/** Rows per distance matrix in quantisation, bounding it to ~4M entries (16 MB) for large codebooks. */
const QUANTIZE_ENTRIES = 1 << 22;

/** NHWC latent → nearest codebook rows (L2, CompVis' |z|² + |e|² − 2z·e), NHWC. */
function quantizeNHWC(p: VQParams, z: tf.Tensor4D): tf.Tensor4D {
  const [b, h, w, c] = z.shape;
  const flat = tf.reshape(z, [b * h * w, c]) as tf.Tensor2D;
  const rows = Math.max(1, Math.floor(QUANTIZE_ENTRIES / p.codebook.shape[0]));
  const indices: tf.Tensor1D[] = [];
  for (let start = 0; start < b * h * w; start += rows) {
    const zc = tf.slice(flat, [start, 0], [Math.min(rows, b * h * w - start), c]);
    const d = tf.sub(tf.add(tf.sum(tf.square(zc), 1, true), p.codebookSq), tf.mul(tf.matMul(zc, p.codebook, false, true), 2));
    indices.push(tf.argMin(d, 1));
  }
  const idx = indices.length === 1 ? indices[0] : tf.concat(indices);
  return tf.reshape(tf.gather(p.codebook, idx), [b, h, w, c]) as tf.Tensor4D;
}

/** Latent NCHW → the nearest codebook row at each position, NCHW (exact rows, no straight-through). */
export function vqQuantize(cfg: ModelConfig, p: VQParams, z: tf.Tensor4D): tf.Tensor4D {
  checkImage(z, cfg.vq.embedDim, undefined, 'latent');
  return tf.tidy(() => tf.transpose(quantizeNHWC(p, tf.transpose(z, [0, 2, 3, 1]) as tf.Tensor4D), [0, 3, 1, 2]) as tf.Tensor4D);
}

/** Latent NCHW → image NCHW in about [-1, 1] (unclamped): quantise → post_quant_conv → Decoder. */
export function vqDecode(cfg: ModelConfig, p: VQParams, z: tf.Tensor4D): tf.Tensor4D {
  checkImage(z, cfg.vq.embedDim, undefined, 'latent');
  return tf.tidy(() => {
    const q = quantizeNHWC(p, tf.transpose(z, [0, 2, 3, 1]) as tf.Tensor4D);
    let h = conv2d(pointwiseConv(q, p.postQuantConv), p.convIn.kernel, p.convIn.bias, 1, 1);
    h = midBlock(p.mid, h);
    for (let i = p.up.length - 1; i >= 0; i--) {
      h = runLevel(p.up[i], h);
      const up = p.up[i].resample;
      if (up) h = conv2d(upsampleNearest2x(h), up.kernel, up.bias, 1, 1);
    }
    h = conv2d(silu(groupNorm(h, 32, p.normOut.gamma, p.normOut.beta, 1e-6)) as tf.Tensor4D, p.convOut.kernel, p.convOut.bias, 1, 1);
    return tf.transpose(h, [0, 3, 1, 2]) as tf.Tensor4D;
  });
}

/** Decoder output NCHW → images [B, H, W, 3] in [0, 1]: clamp((x + 1) / 2). */
export function toImage(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.clipByValue(tf.div(tf.add(tf.transpose(x, [0, 2, 3, 1]), 1), 2), 0, 1) as tf.Tensor4D);
}
