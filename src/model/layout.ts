// The tensor names and shapes a ModelConfig needs (phase-3 naming, spec §5.2–5.3): the single description of
// the UNet's and the VQ's blocks. prepareUNet / prepareVQ / prepareLowLevel build their parameters from these
// tables and validate weights against them at load time; the converter (src/convert/) reports missing and
// extra tensors with them. The reverse direction (a ModelConfig inferred from a checkpoint) is converter-only:
// src/convert/inferConfig.ts.
import type { ModelConfig, UNetConfig, VQConfig } from './config';
import type { WeightMap } from './weights';
import { StudioError } from '../errors';

export type ShapeMap = Record<string, number[]>;

export const ENCODER_PREFIX = 'cond_stage_model.mae.';
export const COND_PREFIX = 'cond_stage_model.';
export const UNET_PREFIX = 'model.diffusion_model.';
export const VQ_PREFIX = 'first_stage_model.';

/** Weights that are absent or whose shape disagrees with the config; lists every offending name. */
export class WeightMismatchError extends StudioError {
  constructor(
    readonly what: string,
    readonly missing: string[],
    readonly misShaped: { name: string; expected: number[]; found: number[] }[],
  ) {
    const lines = [`${what}: ${missing.length} tensor(s) missing, ${misShaped.length} with a shape the config does not expect`];
    for (const n of missing) lines.push(`  missing ${n}`);
    for (const m of misShaped) lines.push(`  ${m.name}: expected [${m.expected}], found [${m.found}]`);
    super('WeightMismatchError', lines.join('\n'));
  }
}

/** Throws one WeightMismatchError naming every tensor of `shapes` that `w` lacks or has with another shape. */
export function checkWeights(w: WeightMap, shapes: ShapeMap, what: string): void {
  const missing: string[] = [];
  const misShaped: { name: string; expected: number[]; found: number[] }[] = [];
  for (const [name, shape] of Object.entries(shapes)) {
    const t = w[name];
    if (!t) missing.push(name);
    else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
      misShaped.push({ name, expected: shape, found: [...t.shape] });
  }
  if (missing.length || misShaped.length) throw new WeightMismatchError(what, missing, misShaped);
}

// ---------------------------------------------------------------- UNet layout (CompVis openaimodel)

export type UNetLayer =
  | { kind: 'conv'; cin: number; cout: number } // input_blocks.0.0
  | { kind: 'res'; cin: number; cout: number }
  | { kind: 'transformer'; channels: number }
  | { kind: 'down'; channels: number }
  | { kind: 'up'; channels: number };

export interface UNetLayout {
  /** input_blocks.{i}.{j} */
  input: UNetLayer[][];
  /** middle_block.{j} */
  middle: UNetLayer[];
  /** output_blocks.{i}.{j} */
  output: UNetLayer[][];
}

/** The blocks `UNetModel.__init__` builds for this config, with their channel counts. */
export function unetLayout(u: UNetConfig): UNetLayout {
  const mc = u.modelChannels;
  const input: UNetLayer[][] = [[{ kind: 'conv', cin: u.inChannels, cout: mc }]];
  const chans = [mc];
  let ch = mc,
    ds = 1;
  u.channelMult.forEach((mult, level) => {
    for (let r = 0; r < u.numResBlocks; r++) {
      const block: UNetLayer[] = [{ kind: 'res', cin: ch, cout: mult * mc }];
      ch = mult * mc;
      if (u.attentionResolutions.includes(ds)) block.push({ kind: 'transformer', channels: ch });
      input.push(block);
      chans.push(ch);
    }
    if (level !== u.channelMult.length - 1) {
      input.push([{ kind: 'down', channels: ch }]);
      chans.push(ch);
      ds *= 2;
    }
  });
  const middle: UNetLayer[] = [
    { kind: 'res', cin: ch, cout: ch },
    { kind: 'transformer', channels: ch },
    { kind: 'res', cin: ch, cout: ch },
  ];
  const output: UNetLayer[][] = [];
  for (let level = u.channelMult.length - 1; level >= 0; level--) {
    for (let r = 0; r <= u.numResBlocks; r++) {
      const block: UNetLayer[] = [{ kind: 'res', cin: ch + chans.pop()!, cout: mc * u.channelMult[level] }];
      ch = mc * u.channelMult[level];
      if (u.attentionResolutions.includes(ds)) block.push({ kind: 'transformer', channels: ch });
      if (level > 0 && r === u.numResBlocks) {
        block.push({ kind: 'up', channels: ch });
        ds /= 2;
      }
      output.push(block);
    }
  }
  return { input, middle, output };
}

function addConv(s: ShapeMap, name: string, cout: number, cin: number, k: number): void {
  s[`${name}.weight`] = [cout, cin, k, k];
  s[`${name}.bias`] = [cout];
}
function addVec(s: ShapeMap, name: string, n: number): void {
  s[`${name}.weight`] = [n];
  s[`${name}.bias`] = [n];
}
function addLinear(s: ShapeMap, name: string, out: number, inDim: number, bias = true): void {
  s[`${name}.weight`] = [out, inDim];
  if (bias) s[`${name}.bias`] = [out];
}

function unetLayerShapes(s: ShapeMap, name: string, layer: UNetLayer, u: UNetConfig): void {
  const ted = 4 * u.modelChannels;
  switch (layer.kind) {
    case 'conv':
      addConv(s, name, layer.cout, layer.cin, 3);
      break;
    case 'down':
      addConv(s, `${name}.op`, layer.channels, layer.channels, 3);
      break;
    case 'up':
      addConv(s, `${name}.conv`, layer.channels, layer.channels, 3);
      break;
    case 'res': {
      const { cin, cout } = layer;
      addVec(s, `${name}.in_layers.0`, cin);
      addConv(s, `${name}.in_layers.2`, cout, cin, 3);
      addLinear(s, `${name}.emb_layers.1`, cout, ted);
      addVec(s, `${name}.out_layers.0`, cout);
      addConv(s, `${name}.out_layers.3`, cout, cout, 3);
      if (cin !== cout) addConv(s, `${name}.skip_connection`, cout, cin, 1);
      break;
    }
    case 'transformer': {
      const c = layer.channels; // legacy: numHeads heads of width c / numHeads, inner width = c
      addVec(s, `${name}.norm`, c);
      addConv(s, `${name}.proj_in`, c, c, 1);
      for (let d = 0; d < u.transformerDepth; d++) {
        const b = `${name}.transformer_blocks.${d}`;
        for (const [attn, ctx] of [
          ['attn1', c],
          ['attn2', u.contextDim],
        ] as const) {
          addLinear(s, `${b}.${attn}.to_q`, c, c, false);
          addLinear(s, `${b}.${attn}.to_k`, c, ctx, false);
          addLinear(s, `${b}.${attn}.to_v`, c, ctx, false);
          addLinear(s, `${b}.${attn}.to_out.0`, c, c);
        }
        addLinear(s, `${b}.ff.net.0.proj`, 8 * c, c);
        addLinear(s, `${b}.ff.net.2`, c, 4 * c);
        for (const n of ['norm1', 'norm2', 'norm3']) addVec(s, `${b}.${n}`, c);
      }
      addConv(s, `${name}.proj_out`, c, c, 1);
      break;
    }
  }
}

/** Every UNet tensor (incl. time_embed_condtion when cfg.unet.timeCond) with its PyTorch shape. */
export function unetShapes(cfg: ModelConfig, prefix = UNET_PREFIX): ShapeMap {
  const u = cfg.unet;
  const s: ShapeMap = {};
  const mc = u.modelChannels,
    ted = 4 * mc;
  addLinear(s, `${prefix}time_embed.0`, ted, mc);
  addLinear(s, `${prefix}time_embed.2`, ted, ted);
  if (u.timeCond) {
    const tokens = cfg.cond.outTokens,
      mid = Math.floor(tokens / 2);
    s[`${prefix}time_embed_condtion.0.weight`] = [mid, tokens, 1];
    s[`${prefix}time_embed_condtion.0.bias`] = [mid];
    s[`${prefix}time_embed_condtion.1.weight`] = [1, mid, 1];
    s[`${prefix}time_embed_condtion.1.bias`] = [1];
    addLinear(s, `${prefix}time_embed_condtion.2`, ted, u.contextDim);
  }
  const layout = unetLayout(u);
  layout.input.forEach((block, i) => block.forEach((l, j) => unetLayerShapes(s, `${prefix}input_blocks.${i}.${j}`, l, u)));
  layout.middle.forEach((l, j) => unetLayerShapes(s, `${prefix}middle_block.${j}`, l, u));
  layout.output.forEach((block, i) => block.forEach((l, j) => unetLayerShapes(s, `${prefix}output_blocks.${i}.${j}`, l, u)));
  addVec(s, `${prefix}out.0`, mc);
  addConv(s, `${prefix}out.2`, u.outChannels, mc, 3);
  return s;
}

// ---------------------------------------------------------------- VQ layout (taming Encoder / Decoder)

export interface VQLevel {
  /** ResnetBlocks (cin → cout) of down.{i}.block / up.{i}.block. */
  blocks: { cin: number; cout: number }[];
  /** Whether down.{i}.attn.{j} / up.{i}.attn.{j} follows block j. */
  attn: boolean;
  /** Channels of down.{i}.downsample / up.{i}.upsample, absent on the last down / first up level. */
  resample?: number;
}

export interface VQLayout {
  /** encoder.down.{i}, i = 0 (full resolution) … levels−1. */
  down: VQLevel[];
  encoderOut: number;
  /** decoder.up.{i} in the checkpoints' numbering: up.0 is the full-resolution level (run last). */
  up: VQLevel[];
  decoderIn: number;
}

export function vqLayout(v: VQConfig): VQLayout {
  const levels = v.chMult.length;
  const down: VQLevel[] = [];
  let res = v.resolution,
    blockIn = v.ch;
  for (let i = 0; i < levels; i++) {
    const out = v.ch * v.chMult[i];
    const blocks = Array.from({ length: v.numResBlocks }, (_, j) => ({ cin: j === 0 ? blockIn : out, cout: out }));
    blockIn = out;
    down.push({ blocks, attn: v.attnResolutions.includes(res), resample: i !== levels - 1 ? out : undefined });
    if (i !== levels - 1) res /= 2;
  }
  const encoderOut = blockIn;
  const up: VQLevel[] = new Array(levels);
  const decoderIn = v.ch * v.chMult[levels - 1];
  blockIn = decoderIn;
  res = v.resolution / 2 ** (levels - 1);
  for (let i = levels - 1; i >= 0; i--) {
    const out = v.ch * v.chMult[i];
    const blocks = Array.from({ length: v.numResBlocks + 1 }, (_, j) => ({ cin: j === 0 ? blockIn : out, cout: out }));
    blockIn = out;
    up[i] = { blocks, attn: v.attnResolutions.includes(res), resample: i !== 0 ? out : undefined };
    if (i !== 0) res *= 2;
  }
  return { down, encoderOut, up, decoderIn };
}

function resnetShapes(s: ShapeMap, name: string, cin: number, cout: number): void {
  addVec(s, `${name}.norm1`, cin);
  addConv(s, `${name}.conv1`, cout, cin, 3);
  addVec(s, `${name}.norm2`, cout);
  addConv(s, `${name}.conv2`, cout, cout, 3);
  if (cin !== cout) addConv(s, `${name}.nin_shortcut`, cout, cin, 1);
}
function attnBlockShapes(s: ShapeMap, name: string, c: number): void {
  addVec(s, `${name}.norm`, c);
  for (const n of ['q', 'k', 'v', 'proj_out']) addConv(s, `${name}.${n}`, c, c, 1);
}
function midShapes(s: ShapeMap, name: string, c: number): void {
  resnetShapes(s, `${name}.block_1`, c, c);
  attnBlockShapes(s, `${name}.attn_1`, c);
  resnetShapes(s, `${name}.block_2`, c, c);
}
function levelShapes(s: ShapeMap, name: string, level: VQLevel, resample: 'downsample' | 'upsample'): void {
  level.blocks.forEach((b, j) => {
    resnetShapes(s, `${name}.block.${j}`, b.cin, b.cout);
    if (level.attn) attnBlockShapes(s, `${name}.attn.${j}`, b.cout);
  });
  if (level.resample !== undefined) addConv(s, `${name}.${resample}.conv`, level.resample, level.resample, 3);
}

/** The decode path: codebook, post_quant_conv and the decoder (what inference needs). */
export function vqDecoderShapes(cfg: ModelConfig, prefix = VQ_PREFIX): ShapeMap {
  const v = cfg.vq;
  const s: ShapeMap = {};
  const layout = vqLayout(v);
  s[`${prefix}quantize.embedding.weight`] = [v.nEmbed, v.embedDim];
  addConv(s, `${prefix}post_quant_conv`, v.zChannels, v.embedDim, 1);
  const d = `${prefix}decoder`;
  addConv(s, `${d}.conv_in`, layout.decoderIn, v.zChannels, 3);
  midShapes(s, `${d}.mid`, layout.decoderIn);
  for (let i = layout.up.length - 1; i >= 0; i--) levelShapes(s, `${d}.up.${i}`, layout.up[i], 'upsample');
  const last = v.ch * v.chMult[0];
  addVec(s, `${d}.norm_out`, last);
  addConv(s, `${d}.conv_out`, v.outCh, last, 3);
  return s;
}

/** The encode path (encoder + quant_conv): used by tests and training, not shipped in bundles. */
export function vqEncoderShapes(cfg: ModelConfig, prefix = VQ_PREFIX): ShapeMap {
  const v = cfg.vq;
  const s: ShapeMap = {};
  const layout = vqLayout(v);
  const e = `${prefix}encoder`;
  addConv(s, `${e}.conv_in`, v.ch, v.inChannels, 3);
  layout.down.forEach((level, i) => levelShapes(s, `${e}.down.${i}`, level, 'downsample'));
  midShapes(s, `${e}.mid`, layout.encoderOut);
  addVec(s, `${e}.norm_out`, layout.encoderOut);
  addConv(s, `${e}.conv_out`, v.zChannels, layout.encoderOut, 3);
  addConv(s, `${prefix}quant_conv`, v.embedDim, v.zChannels, 1);
  return s;
}

// ---------------------------------------------------------------- low-level decoder (this project's, issue 16)

export const LOWLEVEL_PREFIX = 'decoding_studio.lowlevel.';
/** Bundle names of the low-level decoder's four tensors (src/model/lowlevel.ts; python/cad_ref/lowlevel.py). */
export const LOWLEVEL_NAMES = {
  ridgeWeight: `${LOWLEVEL_PREFIX}ridge.weight`,
  ridgeBias: `${LOWLEVEL_PREFIX}ridge.bias`,
  components: `${LOWLEVEL_PREFIX}pca.components`,
  mean: `${LOWLEVEL_PREFIX}pca.mean`,
} as const;

/**
 * Optional [1]: when present every predicted coefficient row is rescaled to this Euclidean norm before the PCA
 * back-projection (python/cad_ref/lowlevel.py says why). Not in LOWLEVEL_NAMES: older bundles lack it.
 */
export const LOWLEVEL_COEF_NORM = `${LOWLEVEL_PREFIX}coef_norm`;

/**
 * Low-level decoder with K image-PCA components: ridge [numVoxels, K] (layout [in, out]), bias [K],
 * components [K, R·R], mean [R·R] (R = vq.resolution, grey pixels row-major).
 */
export function lowLevelShapes(cfg: ModelConfig, k: number): ShapeMap {
  const rr = cfg.vq.resolution * cfg.vq.resolution;
  return {
    [LOWLEVEL_NAMES.ridgeWeight]: [cfg.encoder.numVoxels, k],
    [LOWLEVEL_NAMES.ridgeBias]: [k],
    [LOWLEVEL_NAMES.components]: [k, rr],
    [LOWLEVEL_NAMES.mean]: [rr],
  };
}

// ---------------------------------------------------------------- the input voxels' positions (this project's)

// The input voxels' positions: a bundle-format name (src/io/bundle/manifest.ts keeps it float32), listed here too.
export { VOXEL_XYZ_MM } from '../io/bundle/manifest';

// ---------------------------------------------------------------- fMRI encoder and mappers

export function encoderShapes(cfg: ModelConfig, prefix = ENCODER_PREFIX): ShapeMap {
  const { numVoxels, patchSize: p, embedDim: d, depth, mlpRatio } = cfg.encoder;
  const hidden = Math.floor(d * mlpRatio);
  const s: ShapeMap = {};
  s[`${prefix}pos_embed`] = [1, numVoxels / p + 1, d];
  s[`${prefix}patch_embed.proj.weight`] = [d, 1, p];
  s[`${prefix}patch_embed.proj.bias`] = [d];
  for (let i = 0; i < depth; i++) {
    const b = `${prefix}blocks.${i}`;
    addVec(s, `${b}.norm1`, d);
    addLinear(s, `${b}.attn.qkv`, 3 * d, d);
    addLinear(s, `${b}.attn.proj`, d, d);
    addVec(s, `${b}.norm2`, d);
    addLinear(s, `${b}.mlp.fc1`, hidden, d);
    addLinear(s, `${b}.mlp.fc2`, d, hidden);
  }
  addVec(s, `${prefix}norm`, d);
  return s;
}

export function condShapes(cfg: ModelConfig, prefix = COND_PREFIX): ShapeMap {
  const { numTokens: l, midTokens: mid, outTokens: out, condDim } = cfg.cond;
  return {
    [`${prefix}channel_mapper.0.weight`]: [mid, l, 1],
    [`${prefix}channel_mapper.0.bias`]: [mid],
    [`${prefix}channel_mapper.1.weight`]: [out, mid, 1],
    [`${prefix}channel_mapper.1.bias`]: [out],
    [`${prefix}dim_mapper.weight`]: [condDim, cfg.encoder.embedDim],
    [`${prefix}dim_mapper.bias`]: [condDim],
  };
}

/**
 * Every tensor inference needs, by phase-3 name, with its PyTorch shape: fMRI encoder, mappers, UNet,
 * VQ codebook + post_quant_conv + decoder. (The VQ encoder and quant_conv are not needed: vqEncoderShapes.)
 */
export function expectedShapes(cfg: ModelConfig): ShapeMap {
  return { ...encoderShapes(cfg), ...condShapes(cfg), ...unetShapes(cfg), ...vqDecoderShapes(cfg) };
}
