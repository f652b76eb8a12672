// VQ first stage parity with the PyTorch reference (python/cad_ref/vq.py) on the tiny golden preset.
import { beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { goldenDir, goldenNpy } from '../../test/golden';
import { npyToFloat32 } from '../io/npy';
import type { ModelConfig } from './config';
import type { WeightMap } from './weights';
import { WeightMismatchError } from './inferConfig';
import { prepareVQ, toImage, vqDecode, vqEncode, vqQuantize, VQInputError, type VQParams } from './vq';

/** max|a − b| / max|b| */
function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0, m = 0;
  for (let i = 0; i < b.length; i++) { d = Math.max(d, Math.abs(a[i] - b[i])); m = Math.max(m, Math.abs(b[i])); }
  return d / m;
}

type HostArray = { data: Float32Array; shape: number[] };
type Shape4 = [number, number, number, number];
const PREFIX = 'first_stage_model.';
let cfg: ModelConfig;
let host: Record<string, HostArray>;
let golden: Record<'imageIn' | 'encoded' | 'quantized' | 'decoded', HostArray>;

async function load(dir: string, name: string): Promise<HostArray> {
  const a = await goldenNpy(dir, name);
  return { data: npyToFloat32(a), shape: a.shape };
}
const toWeightMap = (filter: (n: string) => boolean = () => true): Record<string, tf.Tensor> =>
  Object.fromEntries(Object.entries(host).filter(([n]) => filter(n)).map(([n, a]) => [n, tf.tensor(a.data, a.shape)]));
const tensor4 = (a: HostArray): tf.Tensor4D => tf.tensor4d(a.data, a.shape as Shape4);

/** Tensors prepareVQ created, i.e. all but the WeightMap's own. */
function derived(p: VQParams, w: WeightMap): tf.Tensor[] {
  const owned = new Set(Object.values(w));
  const out: tf.Tensor[] = [];
  const walk = (v: unknown): void => {
    if (v instanceof tf.Tensor) { if (!owned.has(v)) out.push(v); return; }
    if (v !== null && typeof v === 'object') for (const x of Object.values(v)) walk(x);
  };
  walk(p);
  return out;
}

beforeAll(async () => {
  const dir = await goldenDir('tiny');
  cfg = JSON.parse(await readFile(join(dir, 'model_config.json'), 'utf8')) as ModelConfig;
  const names = (JSON.parse(await readFile(join(dir, 'tensors.json'), 'utf8')) as string[]).filter((n) => n.startsWith(PREFIX));
  host = {};
  for (const n of names) host[n] = await load(dir, `tensors/${n}`);
  golden = {
    imageIn: await load(dir, 'vq_image_in'), encoded: await load(dir, 'vq_encoded'),
    quantized: await load(dir, 'vq_quantized'), decoded: await load(dir, 'vq_decoded'),
  };
});

describe.each(['cpu', 'wasm'])('vq on %s', (backend) => {
  let w: Record<string, tf.Tensor>;
  let p: VQParams;
  beforeAll(async () => {
    expect(await tf.setBackend(backend)).toBe(true);
    w = toWeightMap();
    p = prepareVQ(cfg, w);
    return () => tf.dispose([...derived(p, w), ...Object.values(w)]);
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
    tf.dispose([z, x, bad[name], ...derived(pb, bad)]);
  });
});

describe('vq checks and toImage', () => {
  beforeAll(async () => { await tf.setBackend('cpu'); });

  it('maps decoder output to [B, H, W, 3] in [0, 1] as clamp((x + 1) / 2)', () => {
    const x = tf.tensor4d([-3, -1, 0, 0.5, 1, 2, -0.5, 0.25], [1, 2, 2, 2]);  // NCHW: 2 channels, 2×2
    const img = toImage(x);
    expect(img.shape).toEqual([1, 2, 2, 2]);
    // HWC order: pixel (0,0) = channels (−3, 1), (0,1) = (−1, 2), (1,0) = (0, −0.5), (1,1) = (0.5, 0.25).
    expect(Array.from(img.dataSync())).toEqual([0, 1, 0, 1, 0.5, 0.25, 0.75, 0.625]);
    tf.dispose([x, img]);
  });

  it('prepares the decode path alone; encoding then says the encoder is absent', () => {
    const w = toWeightMap((n) => !n.startsWith(`${PREFIX}encoder.`) && !n.startsWith(`${PREFIX}quant_conv.`));
    const p = prepareVQ(cfg, w);
    expect(p.encoder).toBeUndefined();
    const img = tensor4(golden.imageIn);
    expect(() => vqEncode(cfg, p, img)).toThrow(/no VQ encoder/);
    const x = vqDecode(cfg, p, tensor4(golden.encoded));
    expect(maxRel(x.dataSync(), golden.decoded.data)).toBeLessThanOrEqual(1e-4);
    tf.dispose([img, x, ...derived(p, w), ...Object.values(w)]);
  });

  it('names every missing and mis-shaped tensor, and rejects wrong input shapes', () => {
    const w = toWeightMap();
    const conv = `${PREFIX}decoder.up.1.block.0.conv1.weight`;
    const bad: Record<string, tf.Tensor> = { ...w, [conv]: tf.zeros([64, 64, 1, 1]) };
    delete bad[`${PREFIX}decoder.norm_out.bias`];
    delete bad[`${PREFIX}encoder.mid.attn_1.q.bias`];  // the encoder is partly present, so checked too
    expect(() => prepareVQ(cfg, bad)).toThrow(WeightMismatchError);
    try { prepareVQ(cfg, bad); } catch (e) {
      expect((e as WeightMismatchError).missing).toEqual([`${PREFIX}decoder.norm_out.bias`, `${PREFIX}encoder.mid.attn_1.q.bias`]);
      expect((e as WeightMismatchError).misShaped).toEqual([{ name: conv, expected: [64, 64, 3, 3], found: [64, 64, 1, 1] }]);
    }
    const noQ = { ...w };
    delete noQ[`${PREFIX}encoder.mid.attn_1.q.bias`];
    expect(() => prepareVQ(cfg, noQ)).toThrow(/missing first_stage_model\.encoder\.mid\.attn_1\.q\.bias/);
    const p = prepareVQ(cfg, w);
    expect(() => vqDecode(cfg, p, tf.zeros([1, 4, 8, 8]) as tf.Tensor4D)).toThrow(VQInputError);
    expect(() => vqEncode(cfg, p, tf.zeros([1, 3, 30, 30]) as tf.Tensor4D)).toThrow(/multiples of 4, found \[1,3,30,30\]/);
    tf.dispose([bad[conv], ...derived(p, w), ...Object.values(w)]);
  });
});
