// A ModelConfig inferred from a checkpoint's tensor names and shapes (phase-3 naming, spec §5.2–5.3). Only the
// converter needs this; the runtime reads the config from the bundle and checks weights with model/layout.ts.
import { paddedLength } from '../model/preprocess';
import type { ModelConfig } from '../model/config';
import { COND_PREFIX, ENCODER_PREFIX, UNET_PREFIX, VQ_PREFIX } from '../model/layout';
import { checkSamplingDefaults, ConfigInferenceError } from '../model/inferConfig';

export { ConfigInferenceError };
export type DeepPartial<T> = { [K in keyof T]?: T[K] extends (infer U)[] ? U[] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

// ---------------------------------------------------------------- inference from shapes

/** Largest index n + 1 over names `${head}${n}${tail}…`; 0 when none. */
function countIndexed(names: string[], head: string, tail = '.'): number {
  let n = 0;
  for (const name of names) {
    if (!name.startsWith(head)) continue;
    const m = /^(\d+)/.exec(name.slice(head.length));
    if (m && name.slice(head.length + m[1].length).startsWith(tail)) n = Math.max(n, Number(m[1]) + 1);
  }
  return n;
}

/** The tensors each network's inference starts from; a missing anchor names the group in the error. */
const ANCHORS: [group: string, names: string[]][] = [
  [
    'fMRI encoder (cond_stage_model.mae.*)',
    [`${ENCODER_PREFIX}pos_embed`, `${ENCODER_PREFIX}patch_embed.proj.weight`, `${ENCODER_PREFIX}blocks.0.mlp.fc1.weight`],
  ],
  [
    'conditioning mappers (cond_stage_model.channel_mapper / dim_mapper)',
    [`${COND_PREFIX}channel_mapper.0.weight`, `${COND_PREFIX}channel_mapper.1.weight`, `${COND_PREFIX}dim_mapper.weight`],
  ],
  [
    'UNet (model.diffusion_model.*)',
    [
      `${UNET_PREFIX}time_embed.0.weight`,
      `${UNET_PREFIX}input_blocks.0.0.weight`,
      `${UNET_PREFIX}out.2.weight`,
      `${UNET_PREFIX}input_blocks.1.0.in_layers.2.weight`,
      `${UNET_PREFIX}middle_block.1.transformer_blocks.0.attn2.to_k.weight`,
    ],
  ],
  [
    'VQ codebook and post_quant_conv (first_stage_model.quantize / post_quant_conv)',
    [`${VQ_PREFIX}quantize.embedding.weight`, `${VQ_PREFIX}post_quant_conv.weight`],
  ],
  [
    'VQ decoder (first_stage_model.decoder.*)',
    [`${VQ_PREFIX}decoder.conv_in.weight`, `${VQ_PREFIX}decoder.conv_out.weight`, `${VQ_PREFIX}decoder.up.0.block.0.conv2.weight`],
  ],
];

/**
 * ModelConfig from phase-3 tensor names → shapes. What shapes cannot tell comes from `overrides` or a
 * default: encoder.numHeads (embedDim / 64, timm's head width), unet.numHeads (1, the published legacy
 * setting), unet.imageSize (64; or vq.resolution / 2^(levels−1) when that is given), vq.inChannels
 * (3 unless the VQ encoder is present), vq.ch (only ch·chMult[i] is visible in the decoder: chMult[0] = 1
 * is assumed unless the VQ encoder is present), schedule (LDM defaults; numTimesteps from `betas`).
 * Overrides win over everything inferred.
 */
export function inferModelConfig(shapes: Readonly<Record<string, number[]>>, overrides: DeepPartial<ModelConfig> = {}): ModelConfig {
  const names = Object.keys(shapes);
  const missingGroups = ANCHORS.filter(([, anchors]) => anchors.some((n) => !shapes[n])).map(
    ([group, anchors]) => `${group}: lacks ${anchors.filter((n) => !shapes[n]).join(', ')}`,
  );
  if (missingGroups.length) {
    throw new ConfigInferenceError(
      `cannot infer the model configuration, tensors missing for ${missingGroups.length} network part(s):\n  ${missingGroups.join('\n  ')}`,
    );
  }
  const o = overrides;
  const sh = (n: string): number[] => shapes[n];

  // fMRI encoder: patch_embed [D, 1, p], pos_embed [1, L + 1, D], fc1 [hidden, D].
  const [embedDim, , patchSize] = sh(`${ENCODER_PREFIX}patch_embed.proj.weight`);
  const numPatches = sh(`${ENCODER_PREFIX}pos_embed`)[1] - 1;
  const encoder = {
    numVoxels: numPatches * patchSize,
    patchSize,
    embedDim,
    depth: countIndexed(names, `${ENCODER_PREFIX}blocks.`),
    numHeads: embedDim % 64 === 0 ? embedDim / 64 : 1,
    mlpRatio: sh(`${ENCODER_PREFIX}blocks.0.mlp.fc1.weight`)[0] / embedDim,
    ...o.encoder,
  };

  const [midTokens, numTokens] = sh(`${COND_PREFIX}channel_mapper.0.weight`);
  const cond = {
    numTokens,
    midTokens,
    outTokens: sh(`${COND_PREFIX}channel_mapper.1.weight`)[0],
    condDim: sh(`${COND_PREFIX}dim_mapper.weight`)[0],
    ...o.cond,
  };

  // UNet: input_blocks = conv, then per level numResBlocks ResBlocks and (but the last) a Downsample.
  const U = UNET_PREFIX;
  const [modelChannels, inChannels] = sh(`${U}input_blocks.0.0.weight`);
  const numInputBlocks = countIndexed(names, `${U}input_blocks.`);
  let firstDown = 1;
  while (firstDown < numInputBlocks && !shapes[`${U}input_blocks.${firstDown}.0.op.weight`]) firstDown++;
  const numResBlocks = firstDown - 1;
  const levels = numInputBlocks / (numResBlocks + 1); // 1 + L·n + (L − 1) blocks
  if (numResBlocks < 1 || !Number.isInteger(levels)) {
    throw new ConfigInferenceError(
      `UNet input_blocks do not follow the CompVis layout: ${numInputBlocks} blocks, first Downsample at input_blocks.${firstDown}`,
    );
  }
  const channelMult: number[] = [];
  const attentionResolutions: number[] = [];
  for (let level = 0; level < levels; level++) {
    const first = 1 + level * (numResBlocks + 1);
    const conv = sh(`${U}input_blocks.${first}.0.in_layers.2.weight`);
    if (!conv) throw new ConfigInferenceError(`UNet level ${level}: ${U}input_blocks.${first}.0.in_layers.2.weight is missing`);
    channelMult.push(conv[0] / modelChannels);
    if (names.some((n) => n.startsWith(`${U}input_blocks.${first}.1.transformer_blocks.`))) attentionResolutions.push(2 ** level);
  }
  const unetBase = {
    inChannels,
    outChannels: sh(`${U}out.2.weight`)[0],
    modelChannels,
    channelMult,
    numResBlocks,
    attentionResolutions,
    numHeads: 1,
    transformerDepth: countIndexed(names, `${U}middle_block.1.transformer_blocks.`),
    contextDim: sh(`${U}middle_block.1.transformer_blocks.0.attn2.to_k.weight`)[1],
    timeCond: !!shapes[`${U}time_embed_condtion.0.weight`],
  };

  // VQ: decoder.up.{i}.block.0.conv2 [ch·chMult[i], …]; up.0 has numResBlocks + 1 blocks.
  const V = VQ_PREFIX;
  const vqLevels = countIndexed(names, `${V}decoder.up.`);
  const widths = Array.from({ length: vqLevels }, (_, i) => {
    const w = sh(`${V}decoder.up.${i}.block.0.conv2.weight`);
    if (!w) throw new ConfigInferenceError(`VQ decoder level ${i}: ${V}decoder.up.${i}.block.0.conv2.weight is missing`);
    return w[0];
  });
  const encoderConvIn = sh(`${V}encoder.conv_in.weight`);
  const ch = o.vq?.ch ?? encoderConvIn?.[0] ?? widths[0];
  const [embedCount, vqEmbedDim] = sh(`${V}quantize.embedding.weight`);

  // imageSize (latent side) and vq.resolution are tied: resolution = imageSize · 2^(levels − 1).
  const f = 2 ** (vqLevels - 1);
  const imageSize = o.unet?.imageSize ?? (o.vq?.resolution !== undefined ? o.vq.resolution / f : 64);
  const resolution = o.vq?.resolution ?? imageSize * f;
  if (resolution !== imageSize * f) {
    throw new ConfigInferenceError(
      `overrides disagree: unet.imageSize ${imageSize} needs vq.resolution ${imageSize * f}, found ${resolution}`,
    );
  }
  const attnResolutions: number[] = [];
  for (let i = 0; i < vqLevels; i++) if (shapes[`${V}decoder.up.${i}.attn.0.norm.weight`]) attnResolutions.push(resolution / 2 ** i);

  const unet = { imageSize, ...unetBase, ...o.unet };
  const vq = {
    embedDim: vqEmbedDim,
    nEmbed: embedCount,
    zChannels: sh(`${V}decoder.conv_in.weight`)[1],
    resolution,
    inChannels: encoderConvIn?.[1] ?? 3,
    outCh: sh(`${V}decoder.conv_out.weight`)[0],
    ch,
    chMult: widths.map((w) => w / ch),
    numResBlocks: countIndexed(names, `${V}decoder.up.0.block.`) - 1,
    attnResolutions,
    ...o.vq,
  };
  const schedule = { numTimesteps: shapes.betas?.[0] ?? 1000, linearStart: 0.0015, linearEnd: 0.0195, ...o.schedule };
  const preprocess = { ...o.preprocess };
  if (preprocess.rawVoxels !== undefined && paddedLength(preprocess.rawVoxels, encoder.patchSize) !== encoder.numVoxels) {
    throw new ConfigInferenceError(
      `${preprocess.rawVoxels} raw voxels wrap-pad to ${paddedLength(preprocess.rawVoxels, encoder.patchSize)}, ` +
        `but the encoder takes ${encoder.numVoxels} (${encoder.numVoxels / encoder.patchSize} patches): give the subject's ROI voxel count`,
    );
  }
  const cfg: ModelConfig = {
    name: o.name ?? 'converted',
    ...(o.description !== undefined ? { description: o.description } : {}),
    ...(o.synthetic !== undefined ? { synthetic: o.synthetic } : {}),
    encoder,
    cond,
    unet,
    vq,
    schedule,
    preprocess,
    ...(o.sampling !== undefined ? { sampling: checkSamplingDefaults(o.sampling, schedule.numTimesteps) } : {}),
  };
  return cfg;
}
