// VQ first stage parity with the PyTorch reference (python/cad_ref/vq.py) on the tiny golden preset.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { goldenArray, goldenConfig, goldenDir, goldenWeights, preparedTensors, type HostArray } from '../../test/golden';
import { maxRel } from '../../test/compare';
import type { ModelConfig } from './config';
import { WeightMismatchError } from './layout';
import { prepareVQ, toImage, vqDecode, vqEncode, vqQuantize, VQInputError, type VQParams } from './vq';

type Shape4 = [number, number, number, number];
const PREFIX = 'first_stage_model.';
let dir: string;
let cfg: ModelConfig;
let golden: Record<'imageIn' | 'encoded' | 'quantized' | 'decoded', HostArray>;

/** The VQ weights whose names (all under PREFIX) pass `keep`. */
const vqWeights = (keep: (n: string) => boolean = () => true): Promise<Record<string, tf.Tensor>> =>
  goldenWeights(dir, (n) => n.startsWith(PREFIX) && keep(n));
const tensor4 = (a: HostArray): tf.Tensor4D => tf.tensor4d(a.data, a.shape as Shape4);

beforeAll(async () => {
  dir = await goldenDir('tiny');
  cfg = await goldenConfig(dir);
  const load = (name: string): Promise<HostArray> => goldenArray(dir, name);
  golden = {
    imageIn: await load('vq_image_in'),
    encoded: await load('vq_encoded'),
    quantized: await load('vq_quantized'),
    decoded: await load('vq_decoded'),
  };
});

describe.each(['cpu', 'wasm'])('vq on %s', (backend) => {
  let w: Record<string, tf.Tensor>;
  let p: VQParams;
  beforeAll(async () => {
    expect(await tf.setBackend(backend)).toBe(true);
    w = await vqWeights();
    p = prepareVQ(cfg, w);
    return () => tf.dispose([...preparedTensors(p, w), ...Object.values(w)]);
  });

  /** Runs f, checking that it leaves exactly its output behind. */
  function noLeak(f: () => tf.Tensor4D): tf.Tensor4D {
    const before = tf.memory().numTensors;
    const y = f();
    expect(tf.memory().numTensors).toBe(before + 1);
    return y;
  }

  it('encodes an image to the pre-quantisation latent (≤ 1e-4)', () => {
    const img = tensor4(golden.imageIn);
    const z = noLeak(() => vqEncode(cfg, p, img));
    expect(z.shape).toEqual(golden.encoded.shape);
    expect(maxRel(z.dataSync(), golden.encoded.data)).toBeLessThanOrEqual(1e-4);
    tf.dispose([img, z]);
  });

  it('quantises to exactly the codebook rows PyTorch picks', () => {
    const z = tensor4(golden.encoded);
    const q = noLeak(() => vqQuantize(cfg, p, z));
    expect(q.shape).toEqual(golden.quantized.shape);
    expect(maxRel(q.dataSync(), golden.quantized.data)).toBe(0);
    tf.dispose([z, q]);
  });

  it('decodes (quantise → post_quant_conv → decoder) as PyTorch (≤ 1e-4), unclamped', () => {
    const z = tensor4(golden.encoded);
    const x = noLeak(() => vqDecode(cfg, p, z));
    expect(x.shape).toEqual(golden.decoded.shape);
    expect(maxRel(x.dataSync(), golden.decoded.data)).toBeLessThanOrEqual(1e-4);
    tf.dispose([z, x]);
  });

  it('fails decode parity when one decoder weight is off by 1e-3', () => {
    const name = `${PREFIX}decoder.mid.attn_1.proj_out.bias`;
    const bad = { ...w, [name]: tf.add(w[name], 1e-3) };
    const pb = prepareVQ(cfg, bad);
    const z = tensor4(golden.encoded);
    const x = vqDecode(cfg, pb, z);
    expect(maxRel(x.dataSync(), golden.decoded.data)).toBeGreaterThan(1e-4);
    tf.dispose([z, x, bad[name], ...preparedTensors(pb, bad)]);
  });
});

describe('vq checks and toImage', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('maps decoder output to [B, H, W, 3] in [0, 1] as clamp((x + 1) / 2)', () => {
    const x = tf.tensor4d([-3, -1, 0, 0.5, 1, 2, -0.5, 0.25], [1, 2, 2, 2]); // NCHW: 2 channels, 2×2
    const img = toImage(x);
    expect(img.shape).toEqual([1, 2, 2, 2]);
    // HWC order: pixel (0,0) = channels (−3, 1), (0,1) = (−1, 2), (1,0) = (0, −0.5), (1,1) = (0.5, 0.25).
    expect(Array.from(img.dataSync())).toEqual([0, 1, 0, 1, 0.5, 0.25, 0.75, 0.625]);
    tf.dispose([x, img]);
  });

  it('prepares the decode path alone; encoding then says the encoder is absent', async () => {
    const w = await vqWeights((n) => !n.startsWith(`${PREFIX}encoder.`) && !n.startsWith(`${PREFIX}quant_conv.`));
    const p = prepareVQ(cfg, w);
    expect(p.encoder).toBeUndefined();
    const img = tensor4(golden.imageIn);
    expect(() => vqEncode(cfg, p, img)).toThrow(/no VQ encoder/);
    const x = vqDecode(cfg, p, tensor4(golden.encoded));
    expect(maxRel(x.dataSync(), golden.decoded.data)).toBeLessThanOrEqual(1e-4);
    tf.dispose([img, x, ...preparedTensors(p, w), ...Object.values(w)]);
  });

  it('names every missing and mis-shaped tensor, and rejects wrong input shapes', async () => {
    const w = await vqWeights();
    const conv = `${PREFIX}decoder.up.1.block.0.conv1.weight`;
    const bad: Record<string, tf.Tensor> = { ...w, [conv]: tf.zeros([64, 64, 1, 1]) };
    delete bad[`${PREFIX}decoder.norm_out.bias`];
    delete bad[`${PREFIX}encoder.mid.attn_1.q.bias`]; // the encoder is partly present, so checked too
    expect(() => prepareVQ(cfg, bad)).toThrow(WeightMismatchError);
    try {
      prepareVQ(cfg, bad);
    } catch (e) {
      expect((e as WeightMismatchError).missing).toEqual([`${PREFIX}decoder.norm_out.bias`, `${PREFIX}encoder.mid.attn_1.q.bias`]);
      expect((e as WeightMismatchError).misShaped).toEqual([{ name: conv, expected: [64, 64, 3, 3], found: [64, 64, 1, 1] }]);
    }
    const noQ = { ...w };
    delete noQ[`${PREFIX}encoder.mid.attn_1.q.bias`];
    expect(() => prepareVQ(cfg, noQ)).toThrow(/missing first_stage_model\.encoder\.mid\.attn_1\.q\.bias/);
    const p = prepareVQ(cfg, w);
    expect(() => vqDecode(cfg, p, tf.zeros([1, 4, 8, 8]) as tf.Tensor4D)).toThrow(VQInputError);
    expect(() => vqEncode(cfg, p, tf.zeros([1, 3, 30, 30]) as tf.Tensor4D)).toThrow(/multiples of 4, found \[1,3,30,30\]/);
    tf.dispose([bad[conv], ...preparedTensors(p, w), ...Object.values(w)]);
  });
});
