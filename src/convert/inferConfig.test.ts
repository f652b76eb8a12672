// Config inference and tensor enumeration, checked against the PyTorch-built tiny state dict (golden
// tensors.json) and against the published GOD sbj_3 key/shape tables and parameter counts (spec §5.2–5.4).
import { beforeAll, describe, expect, it } from 'vitest';
import { goldenConfig, goldenDir, goldenNpy, goldenTensorNames } from '../../test/golden';
import { PUBLISHED_GOD_SBJ3, type ModelConfig } from '../model/config';
import { encoderShapes, condShapes, expectedShapes, unetShapes, vqDecoderShapes, vqEncoderShapes, type ShapeMap } from '../model/layout';
import { ConfigInferenceError, inferModelConfig } from './inferConfig';

let golden: ModelConfig;
let goldenShapes: ShapeMap;

beforeAll(async () => {
  const dir = await goldenDir('tiny');
  golden = await goldenConfig(dir);
  goldenShapes = {};
  for (const n of await goldenTensorNames(dir)) goldenShapes[n] = (await goldenNpy(dir, `tensors/${n}`)).shape;
});

const params = (s: ShapeMap): number => Object.values(s).reduce((a, shape) => a + shape.reduce((x, y) => x * y, 1), 0);
const pick = (s: ShapeMap, re: RegExp): ShapeMap => Object.fromEntries(Object.entries(s).filter(([n]) => re.test(n)));

describe('tiny preset (PyTorch state dict)', () => {
  it('enumerates exactly the inference tensors of the PyTorch model, with its shapes', () => {
    const expected = expectedShapes(golden);
    for (const [name, shape] of Object.entries(expected)) expect(goldenShapes[name], name).toEqual(shape);
    // What the state dict has beyond inference: schedule buffers, MAE cls/mask tokens, the VQ encode path.
    const encodePath = vqEncoderShapes(golden);
    for (const [name, shape] of Object.entries(encodePath)) expect(goldenShapes[name], name).toEqual(shape);
    const rest = Object.keys(goldenShapes).filter((n) => !(n in expected) && !(n in encodePath));
    expect(rest.filter((n) => !/^(betas|alphas_cumprod.*|sqrt_.*|log_one_minus_.*|posterior_.*)$/.test(n)).sort()).toEqual([
      'cond_stage_model.mae.cls_token',
      'cond_stage_model.mae.mask_token',
    ]);
  });

  it('infers model_config.json from the shapes (imageSize and labels given, as shapes cannot tell them)', () => {
    const cfg = inferModelConfig(goldenShapes, {
      name: golden.name,
      description: golden.description,
      synthetic: golden.synthetic,
      unet: { imageSize: golden.unet.imageSize },
    });
    expect({ ...cfg, preprocess: undefined }).toEqual({ ...golden, preprocess: undefined });
    // The ROI size is not in the weights: it stays unknown unless given.
    expect(cfg.preprocess).toEqual({});
  });

  it('refuses a raw voxel count that does not pad to the encoder length', () => {
    expect(() => inferModelConfig(goldenShapes, { preprocess: { rawVoxels: 112 } })).toThrow(
      /112 raw voxels wrap-pad to 128, but the encoder takes 112/,
    );
  });

  it('infers the same from the decode path alone (no VQ encoder, as in bundles)', () => {
    const cfg = inferModelConfig(expectedShapes(golden), { name: golden.name, vq: { resolution: golden.vq.resolution } });
    expect(cfg.unet).toEqual(golden.unet);
    expect(cfg.vq).toEqual(golden.vq);
  });
});

/** The published names/shapes as the spec tables give them (phase-3 state dict, inference + VQ encode path). */
function publishedShapes(): ShapeMap {
  return {
    ...expectedShapes(PUBLISHED_GOD_SBJ3),
    ...vqEncoderShapes(PUBLISHED_GOD_SBJ3),
    'cond_stage_model.mae.cls_token': [1, 1, 1024],
    betas: [1000],
  };
}

describe('published GOD sbj_3 model', () => {
  const s = publishedShapes();
  const U = 'model.diffusion_model.';

  it('matches the key/shape tables of spec §5.2–5.3', () => {
    expect(s['cond_stage_model.mae.pos_embed']).toEqual([1, 292, 1024]);
    expect(s['cond_stage_model.mae.patch_embed.proj.weight']).toEqual([1024, 1, 16]);
    expect(s['cond_stage_model.mae.blocks.23.attn.qkv.weight']).toEqual([3072, 1024]);
    expect(s['cond_stage_model.mae.blocks.24.attn.qkv.weight']).toBeUndefined();
    expect(s['cond_stage_model.channel_mapper.0.weight']).toEqual([145, 291, 1]);
    expect(s['cond_stage_model.channel_mapper.1.weight']).toEqual([77, 145, 1]);
    expect(s['cond_stage_model.dim_mapper.weight']).toEqual([512, 1024]);
    expect(s[`${U}time_embed.0.weight`]).toEqual([768, 192]);
    expect(s[`${U}time_embed.2.weight`]).toEqual([768, 768]);
    expect(s[`${U}time_embed_condtion.0.weight`]).toEqual([38, 77, 1]);
    expect(s[`${U}time_embed_condtion.1.weight`]).toEqual([1, 38, 1]);
    expect(s[`${U}time_embed_condtion.2.weight`]).toEqual([768, 512]);
    for (const i of [3, 6, 9]) expect(s[`${U}input_blocks.${i}.0.op.weight`], `input_blocks.${i}`).toBeDefined();
    for (const i of [2, 5, 8]) expect(s[`${U}output_blocks.${i}.2.conv.weight`], `output_blocks.${i}`).toBeDefined();
    expect(Object.keys(s).some((n) => n.startsWith(`${U}input_blocks.1.1.`))).toBe(false);
    const attn2: [string, number][] = [
      ['input_blocks.4.1', 384],
      ['input_blocks.5.1', 384],
      ['input_blocks.7.1', 576],
      ['input_blocks.8.1', 576],
      ['input_blocks.10.1', 960],
      ['input_blocks.11.1', 960],
      ['middle_block.1', 960],
      ...[0, 1, 2].map((i) => [`output_blocks.${i}.1`, 960] as [string, number]),
      ...[3, 4, 5].map((i) => [`output_blocks.${i}.1`, 576] as [string, number]),
      ...[6, 7, 8].map((i) => [`output_blocks.${i}.1`, 384] as [string, number]),
    ];
    for (const [block, c] of attn2) {
      const a = `${U}${block}.transformer_blocks.0.attn2`;
      expect(
        [s[`${a}.to_q.weight`], s[`${a}.to_k.weight`], s[`${a}.to_v.weight`], s[`${a}.to_out.0.weight`], s[`${a}.to_out.0.bias`]],
        block,
      ).toEqual([[c, c], [c, 512], [c, 512], [c, c], [c]]);
      expect(s[`${U}${block}.proj_in.weight`]).toEqual([c, c, 1, 1]);
      expect(s[`${U}${block}.transformer_blocks.0.ff.net.0.proj.weight`]).toEqual([8 * c, c]);
    }
    expect(Object.keys(pick(s, /attn2\.to_k\.weight$/))).toHaveLength(16);
    // Output ResBlocks (in → out) of the block table in §4.3.
    const outRes = [
      [1920, 960],
      [1920, 960],
      [1536, 960],
      [1536, 576],
      [1152, 576],
      [960, 576],
      [960, 384],
      [768, 384],
      [576, 384],
      [576, 192],
      [384, 192],
      [384, 192],
    ];
    outRes.forEach(([cin, cout], i) =>
      expect(s[`${U}output_blocks.${i}.0.in_layers.2.weight`], `output_blocks.${i}`).toEqual([cout, cin, 3, 3]),
    );
    expect(s[`${U}out.2.weight`]).toEqual([3, 192, 3, 3]);
    expect(s['first_stage_model.quantize.embedding.weight']).toEqual([8192, 3]);
    expect(s['first_stage_model.post_quant_conv.weight']).toEqual([3, 3, 1, 1]);
    expect(s['first_stage_model.quant_conv.weight']).toEqual([3, 3, 1, 1]);
    expect(s['first_stage_model.decoder.conv_in.weight']).toEqual([512, 3, 3, 3]);
    expect(s['first_stage_model.decoder.conv_out.weight']).toEqual([3, 128, 3, 3]);
    for (const i of [0, 1, 2]) expect(s[`first_stage_model.decoder.up.${i}.block.2.conv2.weight`]).toBeDefined();
    expect(s['first_stage_model.decoder.up.0.upsample.conv.weight']).toBeUndefined();
    expect(s['first_stage_model.encoder.down.2.downsample.conv.weight']).toBeUndefined();
  });

  it('has the parameter counts of spec §5.4', () => {
    const P = PUBLISHED_GOD_SBJ3;
    const enc = encoderShapes(P);
    expect(params(enc) - params(pick(enc, /pos_embed$/))).toBeCloseTo(151.26e6, -4);
    const cond = condShapes(P);
    expect(params(pick(cond, /channel_mapper/))).toBeCloseTo(0.054e6, -3);
    expect(params(pick(cond, /dim_mapper/))).toBeCloseTo(0.525e6, -3);
    const unet = unetShapes(P);
    expect(params(unet)).toBeCloseTo(401.32e6, -4);
    expect(params(pick(unet, /time_embed_condtion/))).toBeCloseTo(0.397e6, -3);
    expect(params(pick(unet, /attn2\./))).toBeCloseTo(26.68e6, -4);
    const decoder = pick(vqDecoderShapes(P), /decoder\./);
    expect(params(decoder)).toBeCloseTo(32.96e6, -4);
    expect(params(pick(vqEncoderShapes(P), /encoder\./))).toBeCloseTo(22.34e6, -4);
    expect(params(expectedShapes(P))).toBeCloseTo(586.4e6, -5);
  });

  it('infers PUBLISHED_GOD_SBJ3 back from those shapes', () => {
    const cfg = inferModelConfig(s, { name: PUBLISHED_GOD_SBJ3.name, preprocess: PUBLISHED_GOD_SBJ3.preprocess });
    // Attention resolutions come out ascending; the published config lists them descending.
    expect(cfg.unet.attentionResolutions).toEqual([2, 4, 8]);
    expect({ ...cfg, unet: { ...cfg.unet, attentionResolutions: [8, 4, 2] } }).toEqual(PUBLISHED_GOD_SBJ3);
  });

  it('lets overrides win and ties imageSize to vq.resolution', () => {
    const cfg = inferModelConfig(s, { encoder: { numHeads: 8 }, unet: { numHeads: 4 }, vq: { resolution: 128 } });
    expect([cfg.encoder.numHeads, cfg.unet.numHeads, cfg.unet.imageSize, cfg.vq.resolution]).toEqual([8, 4, 32, 128]);
    expect(() => inferModelConfig(s, { unet: { imageSize: 64 }, vq: { resolution: 128 } })).toThrow(
      /unet.imageSize 64 needs vq.resolution 256, found 128/,
    );
  });

  it('round-trips a config with attention at some levels only, VQ attention, no time conditioning', () => {
    // The layouts of this config were checked name-for-name against cad_ref's UNetModel / VQModelInterface.
    const variant: ModelConfig = {
      ...PUBLISHED_GOD_SBJ3,
      name: 'variant',
      unet: {
        imageSize: 8,
        inChannels: 3,
        outChannels: 4,
        modelChannels: 64,
        channelMult: [1, 2, 2],
        numResBlocks: 2,
        attentionResolutions: [2, 4],
        numHeads: 2,
        transformerDepth: 2,
        contextDim: 512,
        timeCond: false,
      },
      vq: {
        embedDim: 4,
        nEmbed: 40,
        zChannels: 5,
        resolution: 32,
        inChannels: 3,
        outCh: 3,
        ch: 32,
        chMult: [1, 2, 3],
        numResBlocks: 2,
        attnResolutions: [16],
      },
    };
    const cfg = inferModelConfig(expectedShapes(variant), {
      name: 'variant',
      unet: { numHeads: 2, imageSize: 8 },
      preprocess: variant.preprocess,
    });
    expect(cfg).toEqual(variant);
  });

  it('names the network parts whose tensors are missing', () => {
    const partial = Object.fromEntries(Object.entries(s).filter(([n]) => !n.startsWith(U) && !n.startsWith('first_stage_model.decoder.')));
    let err: unknown;
    try {
      inferModelConfig(partial);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigInferenceError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/tensors missing for 2 network part/);
    expect(msg).toContain('UNet (model.diffusion_model.*): lacks model.diffusion_model.time_embed.0.weight');
    expect(msg).toContain('VQ decoder (first_stage_model.decoder.*)');
    expect(msg).not.toContain('fMRI encoder');
  });
});
