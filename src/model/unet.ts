// CompVis openaimodel `UNetModel` as the CAD LDM configures it (spec §4.2–4.3): use_spatial_transformer,
// legacy head split, no scale-shift norm, conv resampling, plus MinD-Vis `time_embed_condtion`.
// NCHW at the boundary (as the samplers and the golden files use), NHWC inside.
import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from './config';
import type { WeightMap } from './weights';
import {
  conv2d,
  conv2dKernel,
  gelu,
  groupNorm,
  layerNorm,
  linear,
  linearKernel,
  silu,
  timestepEmbedding,
  upsampleNearest2x,
} from './layers';
import { checkWeights, unetLayout, unetShapes, UNET_PREFIX, type UNetLayer } from './layout';
import { prepareTimeCondition, timeCondition, type TimeConditionParams } from './condStage';
import { attentionKeys, attentionKeysTensors, attentionOnKeys, attentionWithWeights, type AttentionKeys } from '../kernels/attention';
import { errorClass } from '../errors';
import { keepAsIs, type KeepKernel, type Weight } from '../kernels/packedWeights';

interface Conv {
  kernel: Weight<tf.Tensor4D>;
  bias: tf.Tensor1D;
}
interface Linear {
  weight: Weight<tf.Tensor2D>;
  bias?: tf.Tensor1D;
}
interface Norm {
  gamma: tf.Tensor1D;
  beta: tf.Tensor1D;
}

interface ResBlockParams {
  kind: 'res';
  inNorm: Norm;
  inConv: Conv;
  emb: Linear;
  outNorm: Norm;
  outConv: Conv;
  skip?: Conv;
}
interface AttentionParams {
  q: Linear;
  k: Linear;
  v: Linear;
  out: Linear;
}
interface TransformerBlockParams {
  norm1: Norm;
  attn1: AttentionParams;
  norm2: Norm;
  attn2: AttentionParams;
  norm3: Norm;
  /**
   * GEGLU: ff.net.0.proj (C → 8C, value ‖ gate) prepared as its two halves C → 4C, value · GELU(gate), then
   * 4C → C. Two products instead of one product and a split, which copied both halves (npm run profile:unet).
   */
  ffValue: Linear;
  ffGate: Linear;
  ffOut: Linear;
}
interface SpatialTransformerParams {
  kind: 'transformer';
  norm: Norm;
  projIn: Linear;
  blocks: TransformerBlockParams[];
  projOut: Linear;
}
interface ConvLayerParams {
  kind: 'conv' | 'down' | 'up';
  conv: Conv;
}
export type UNetLayerParams = ResBlockParams | SpatialTransformerParams | ConvLayerParams;

export interface UNetParams {
  timeEmbed0: Linear;
  timeEmbed2: Linear;
  /** time_embed_condtion, prepared once (src/model/condStage.ts prepareTimeCondition). */
  timeCond?: TimeConditionParams;
  input: UNetLayerParams[][];
  middle: UNetLayerParams[];
  output: UNetLayerParams[][];
  outNorm: Norm;
  outConv: Conv;
}

export class UNetInputError extends errorClass('UNetInputError', 'unet: ') {}

/**
 * Validates every UNet tensor against the config (one error naming all missing / mis-shaped ones) and
 * returns the parameters: conv kernels re-laid-out to HWIO and Linear kernels to [in, out], GEGLU's projection as
 * its two halves, biases included (new tensors, owned by the caller); norms and the other biases are the WeightMap's
 * tensors.
 * `keep` decides what is kept of each re-laid-out kernel (itself by default; packed f16 under modelFromWeights' policy).
 */
export function prepareUNet(cfg: ModelConfig, w: WeightMap, prefix = UNET_PREFIX, keep: KeepKernel = keepAsIs): UNetParams {
  const u = cfg.unet;
  const layout = unetLayout(u);
  for (const l of [...layout.input.flat(), ...layout.middle, ...layout.output.flat()]) {
    if (l.kind === 'transformer' && l.channels % u.numHeads !== 0) {
      throw new UNetInputError(`a SpatialTransformer's ${l.channels} channels are not divisible into numHeads ${u.numHeads}`);
    }
  }
  checkWeights(w, unetShapes(cfg, prefix), `UNet weights under ${prefix}`);
  const get = <T extends tf.Tensor>(name: string): T => w[prefix + name] as T;
  const conv = (name: string): Conv => ({
    kernel: keep(conv2dKernel(get(`${name}.weight`)), `${prefix}${name}.weight`),
    bias: get(`${name}.bias`),
  });
  const lin = (name: string, bias = true): Linear => ({
    weight: keep(linearKernel(get(`${name}.weight`)), `${prefix}${name}.weight`),
    bias: bias ? get(`${name}.bias`) : undefined,
  });
  const pointwise = (name: string): Linear => lin(name);
  const geglu = (name: string): { ffValue: Linear; ffGate: Linear } => {
    const weight = get<tf.Tensor2D>(`${name}.weight`),
      bias = get<tf.Tensor1D>(`${name}.bias`);
    const half = weight.shape[0] / 2;
    // Both kernels exist before either is kept: keep may free the source weight (modelFromWeights' releaseRelaid).
    const kernels = [0, 1].map((i) => tf.tidy(() => linearKernel(tf.slice(weight, [i * half, 0], [half, -1]))));
    const [ffValue, ffGate] = kernels.map((k, i) => ({
      weight: keep(k, `${prefix}${name}.weight`),
      bias: tf.slice(bias, [i * half], [half]),
    }));
    return { ffValue, ffGate };
  };
  const norm = (name: string): Norm => ({ gamma: get(`${name}.weight`), beta: get(`${name}.bias`) });
  const attn = (name: string): AttentionParams => ({
    q: lin(`${name}.to_q`, false),
    k: lin(`${name}.to_k`, false),
    v: lin(`${name}.to_v`, false),
    out: lin(`${name}.to_out.0`),
  });
  const layer = (name: string, l: UNetLayer): UNetLayerParams => {
    switch (l.kind) {
      case 'conv':
        return { kind: 'conv', conv: conv(name) };
      case 'down':
        return { kind: 'down', conv: conv(`${name}.op`) };
      case 'up':
        return { kind: 'up', conv: conv(`${name}.conv`) };
      case 'res':
        return {
          kind: 'res',
          inNorm: norm(`${name}.in_layers.0`),
          inConv: conv(`${name}.in_layers.2`),
          emb: lin(`${name}.emb_layers.1`),
          outNorm: norm(`${name}.out_layers.0`),
          outConv: conv(`${name}.out_layers.3`),
          skip: l.cin !== l.cout ? conv(`${name}.skip_connection`) : undefined,
        };
      case 'transformer':
        return {
          kind: 'transformer',
          norm: norm(`${name}.norm`),
          projIn: pointwise(`${name}.proj_in`),
          projOut: pointwise(`${name}.proj_out`),
          blocks: Array.from({ length: u.transformerDepth }, (_, d) => {
            const b = `${name}.transformer_blocks.${d}`;
            return {
              norm1: norm(`${b}.norm1`),
              attn1: attn(`${b}.attn1`),
              norm2: norm(`${b}.norm2`),
              attn2: attn(`${b}.attn2`),
              norm3: norm(`${b}.norm3`),
              ...geglu(`${b}.ff.net.0.proj`),
              ffOut: lin(`${b}.ff.net.2`),
            };
          }),
        };
    }
  };
  return {
    timeEmbed0: lin('time_embed.0'),
    timeEmbed2: lin('time_embed.2'),
    timeCond: u.timeCond ? prepareTimeCondition(cfg, w, `${prefix}time_embed_condtion.`) : undefined,
    input: layout.input.map((block, i) => block.map((l, j) => layer(`input_blocks.${i}.${j}`, l))),
    middle: layout.middle.map((l, j) => layer(`middle_block.${j}`, l)),
    output: layout.output.map((block, i) => block.map((l, j) => layer(`output_blocks.${i}.${j}`, l))),
    outNorm: norm('out.0'),
    outConv: conv('out.2'),
  };
}

/** ResBlock: GN → SiLU → conv3 → + emb projection → GN → SiLU → conv3, plus the (1×1) skip. */
function resBlock(p: ResBlockParams, x: tf.Tensor4D, embAct: tf.Tensor2D): tf.Tensor4D {
  const h = conv2d(silu(groupNorm(x, 32, p.inNorm.gamma, p.inNorm.beta, 1e-5)) as tf.Tensor4D, p.inConv.kernel, p.inConv.bias, 1, 1);
  const e = linear(embAct, p.emb.weight, p.emb.bias);
  const h1 = tf.add(h, tf.reshape(e, [embAct.shape[0], 1, 1, e.shape[1] as number])) as tf.Tensor4D;
  // out_layers' Dropout is the identity at inference.
  const h2 = conv2d(silu(groupNorm(h1, 32, p.outNorm.gamma, p.outNorm.beta, 1e-5)) as tf.Tensor4D, p.outConv.kernel, p.outConv.bias, 1, 1);
  const skip = p.skip ? conv2d(x, p.skip.kernel, p.skip.bias) : x;
  return tf.add(skip, h2) as tf.Tensor4D;
}

/** K and V projections [B, M, C] of one attention's keys and values, laid out for attention on them. */
function keysValues(p: AttentionParams, context: tf.Tensor3D, numHeads: number): AttentionKeys {
  return attentionKeys(linear(context, p.k.weight) as tf.Tensor3D, linear(context, p.v.weight) as tf.Tensor3D, numHeads);
}

/** Attention of x on keys / values already projected (self-attention: of x itself; attn2: of the context, once per run). */
function crossAttention(
  p: AttentionParams,
  x: tf.Tensor3D,
  keys: AttentionKeys,
  numHeads: number,
  onWeights?: (weights: tf.Tensor4D) => void,
): tf.Tensor3D {
  const q = linear(x, p.q.weight);
  if (!onWeights) return linear(attentionOnKeys(q, keys, { numHeads }), p.out.weight, p.out.bias) as tf.Tensor3D;
  const { out, weights } = attentionWithWeights(q, keys.k, keys.v, { numHeads });
  onWeights(weights);
  return linear(out, p.out.weight, p.out.bias) as tf.Tensor3D;
}

/**
 * Receives the softmax weights of every `attn2` (the cross-attention on the fMRI context) during one unet()
 * call, in call order (input blocks, middle, output blocks; transformer depth inside): weights
 * [B, heads, h·w, tokens], rows over the h×w image positions in row-major order. Called inside the UNet's
 * tf.tidy: what the callback wants to outlive the call it must tf.keep (and dispose later). Issue 14.
 */
export type CrossAttentionCapture = (weights: tf.Tensor4D, where: { layer: number; height: number; width: number }) => void;

/**
 * What the UNet computes from the context c alone: time_embed_condtion(c) and every attn2's K and V projections of c.
 * They are the same at every step of a sampler run, so a run makes them once (unetContext, unetWithContextCache)
 * instead of 2 + 2·(transformer blocks) matrix products per step; unet() on a bare context tensor makes them per call.
 */
export interface UNetContext {
  readonly c: tf.Tensor3D;
  /** time_embed_condtion(c) [B, 4·modelChannels], when the model has one. */
  readonly timeCond?: tf.Tensor2D;
  /** Each attn2's projections of c, by its parameters. */
  readonly keysValues: ReadonlyMap<AttentionParams, AttentionKeys>;
  dispose(): void;
}

/** Every SpatialTransformer block's attn2, in call order. */
function crossAttentions(p: UNetParams): AttentionParams[] {
  return [...p.input.flat(), ...p.middle, ...p.output.flat()].flatMap((l) =>
    l.kind === 'transformer' ? l.blocks.map((b) => b.attn2) : [],
  );
}

/**
 * The UNetContext of c [B, tokens, contextDim]: new tensors, kept out of any enclosing tf.tidy (a sampler's step
 * runs in one, and the context must outlive it), freed by its dispose(); c stays the caller's.
 */
export function unetContext(cfg: ModelConfig, p: UNetParams, c: tf.Tensor3D): UNetContext {
  if (c.rank !== 3 || c.shape[2] !== cfg.unet.contextDim) {
    throw new UNetInputError(`context must be [batch, tokens, ${cfg.unet.contextDim}], found [${c.shape}]`);
  }
  const attns = crossAttentions(p);
  const kvs = attns.map((a) => keysValues(a, c, cfg.unet.numHeads));
  const timeCond = p.timeCond ? timeCondition(cfg, p.timeCond, c) : undefined;
  const tensors = [...kvs.flatMap(attentionKeysTensors), ...(timeCond ? [timeCond] : [])];
  for (const t of tensors) tf.keep(t);
  return {
    c,
    timeCond,
    keysValues: new Map(attns.map((a, i) => [a, kvs[i]])),
    dispose() {
      tf.dispose(tensors);
    },
  };
}

/**
 * unet() for a caller that passes the same context tensor at every step (the samplers, through guidedEps): its
 * UNetContext is made at the first call and reused while that tensor comes back (made anew when another does).
 * dispose() frees it; the context tensors stay the caller's.
 */
export function unetWithContextCache(
  cfg: ModelConfig,
  p: UNetParams,
): ((x: tf.Tensor4D, t: number | ArrayLike<number>, c: tf.Tensor3D) => tf.Tensor4D) & { dispose(): void } {
  let cached: UNetContext | undefined;
  const apply = (x: tf.Tensor4D, t: number | ArrayLike<number>, c: tf.Tensor3D): tf.Tensor4D => {
    if (cached?.c !== c) {
      cached?.dispose();
      cached = undefined; // should unetContext throw, nothing disposed stays cached
      cached = unetContext(cfg, p, c);
    }
    return unet(cfg, p, x, t, cached);
  };
  return Object.assign(apply, {
    dispose() {
      cached?.dispose();
      cached = undefined;
    },
  });
}

/** Capture state of one unet() call: the callback and the running attn2 index. */
interface CaptureState {
  fn: CrossAttentionCapture;
  layer: number;
}

/** SpatialTransformer: GN(eps 1e-6) → proj_in → BasicTransformerBlocks on [B, H·W, C] → proj_out → + input. */
function spatialTransformer(
  p: SpatialTransformerParams,
  x: tf.Tensor4D,
  ctx: UNetContext,
  numHeads: number,
  capture?: CaptureState,
): tf.Tensor4D {
  const [b, h, w, ch] = x.shape;
  const n = groupNorm(x, 32, p.norm.gamma, p.norm.beta, 1e-6);
  let t = linear(tf.reshape(n, [b, h * w, ch]), p.projIn.weight, p.projIn.bias) as tf.Tensor3D;
  for (const blk of p.blocks) {
    const n1 = layerNorm(t, blk.norm1.gamma, blk.norm1.beta) as tf.Tensor3D;
    t = tf.add(t, crossAttention(blk.attn1, n1, keysValues(blk.attn1, n1, numHeads), numHeads));
    const onWeights = capture && ((wts: tf.Tensor4D) => capture.fn(wts, { layer: capture.layer++, height: h, width: w }));
    t = tf.add(
      t,
      crossAttention(
        blk.attn2,
        layerNorm(t, blk.norm2.gamma, blk.norm2.beta) as tf.Tensor3D,
        ctx.keysValues.get(blk.attn2)!,
        numHeads,
        onWeights,
      ),
    );
    const n3 = layerNorm(t, blk.norm3.gamma, blk.norm3.beta);
    const value = linear(n3, blk.ffValue.weight, blk.ffValue.bias),
      gate = linear(n3, blk.ffGate.weight, blk.ffGate.bias);
    t = tf.add(t, linear(tf.mul(value, gelu(gate)), blk.ffOut.weight, blk.ffOut.bias));
  }
  const out = linear(t, p.projOut.weight, p.projOut.bias);
  return tf.add(tf.reshape(out, [b, h, w, ch]), x) as tf.Tensor4D;
}

function runBlock(
  block: UNetLayerParams[],
  x: tf.Tensor4D,
  embAct: tf.Tensor2D,
  ctx: UNetContext,
  numHeads: number,
  capture?: CaptureState,
): tf.Tensor4D {
  let h = x;
  for (const l of block) {
    switch (l.kind) {
      case 'conv':
        h = conv2d(h, l.conv.kernel, l.conv.bias, 1, 1);
        break;
      case 'down':
        h = conv2d(h, l.conv.kernel, l.conv.bias, 2, 1);
        break;
      case 'up':
        h = conv2d(upsampleNearest2x(h), l.conv.kernel, l.conv.bias, 1, 1);
        break;
      case 'res':
        h = resBlock(l, h, embAct);
        break;
      case 'transformer':
        h = spatialTransformer(l, h, ctx, numHeads, capture);
        break;
    }
  }
  return h;
}

/**
 * ε-prediction εθ(x, t, c): x NCHW [B, inChannels, s, s], t one timestep for all samples or one per
 * sample (may be fractional), c [B, tokens, contextDim] (or its UNetContext, made once per run) → NCHW [B, outChannels, s, s].
 * `capture` (optional) receives every attn2's softmax weights (see CrossAttentionCapture); without it the
 * call is the plain, fast path.
 */
export function unet(
  cfg: ModelConfig,
  p: UNetParams,
  x: tf.Tensor4D,
  t: number | ArrayLike<number>,
  context: tf.Tensor3D | UNetContext,
  capture?: CrossAttentionCapture,
): tf.Tensor4D {
  const u = cfg.unet;
  const c = context instanceof tf.Tensor ? context : context.c;
  const [b, ch, h, w] = x.shape;
  const f = 2 ** (u.channelMult.length - 1);
  if (x.rank !== 4 || ch !== u.inChannels || h % f !== 0 || w % f !== 0) {
    throw new UNetInputError(`x must be NCHW [batch, ${u.inChannels}, h, w] with h and w multiples of ${f}, found [${x.shape}]`);
  }
  if (c.rank !== 3 || c.shape[0] !== b || c.shape[2] !== u.contextDim) {
    throw new UNetInputError(`context must be [${b}, tokens, ${u.contextDim}], found [${c.shape}]`);
  }
  const ts = typeof t === 'number' ? new Array<number>(b).fill(t) : Array.from(t);
  if (ts.length !== b) throw new UNetInputError(`${ts.length} timesteps for a batch of ${b}`);
  // A bare context tensor: its UNetContext for this call only.
  const ctx = context instanceof tf.Tensor ? unetContext(cfg, p, context) : context;
  try {
    return unetOn(cfg, p, x, ts, ctx, capture);
  } finally {
    if (ctx !== context) ctx.dispose();
  }
}

function unetOn(
  cfg: ModelConfig,
  p: UNetParams,
  x: tf.Tensor4D,
  ts: number[],
  ctx: UNetContext,
  capture?: CrossAttentionCapture,
): tf.Tensor4D {
  const u = cfg.unet;
  return tf.tidy(() => {
    let emb = linear(
      silu(linear(timestepEmbedding(ts, u.modelChannels), p.timeEmbed0.weight, p.timeEmbed0.bias)),
      p.timeEmbed2.weight,
      p.timeEmbed2.bias,
    );
    if (ctx.timeCond) emb = tf.add(emb, ctx.timeCond);
    // Every ResBlock's emb_layers begins with SiLU on the same embedding: apply it once.
    const embAct = silu(emb) as tf.Tensor2D;
    let hcur = tf.transpose(x, [0, 2, 3, 1]) as tf.Tensor4D;
    const skips: tf.Tensor4D[] = [];
    const cap: CaptureState | undefined = capture && { fn: capture, layer: 0 };
    // Each block in its own tidy: its intermediates are freed when it ends, not when the whole step ends; only the
    // skips and the running activation live on, and each is disposed once the next block has read it.
    const inBlock = (block: UNetLayerParams[], input: () => tf.Tensor4D): tf.Tensor4D =>
      tf.tidy(() => runBlock(block, input(), embAct, ctx, u.numHeads, cap));
    for (const block of p.input) {
      const prev = hcur;
      hcur = inBlock(block, () => prev);
      skips.push(hcur);
    }
    const last = hcur;
    hcur = inBlock(p.middle, () => last);
    for (const block of p.output) {
      // torch.cat([h, hs.pop()], dim=1): the running activation first, then the skip.
      const skip = skips.pop()!;
      const prev = hcur;
      hcur = inBlock(block, () => tf.concat([prev, skip], 3) as tf.Tensor4D);
      if (prev !== hcur) prev.dispose();
      if (skip !== hcur) skip.dispose();
    }
    const out = conv2d(
      silu(groupNorm(hcur, 32, p.outNorm.gamma, p.outNorm.beta, 1e-5)) as tf.Tensor4D,
      p.outConv.kernel,
      p.outConv.bias,
      1,
      1,
    );
    return tf.transpose(out, [0, 3, 1, 2]) as tf.Tensor4D;
  });
}
