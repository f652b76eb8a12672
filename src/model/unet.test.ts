// UNet parity with the PyTorch reference (python/cad_ref/unet.py) on the tiny golden preset.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import { prepareUNet, unet, UNetInputError, type UNetParams } from './unet';

/** max|a − b| / max|b| */
function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0, m = 0;
  for (let i = 0; i < b.length; i++) { d = Math.max(d, Math.abs(a[i] - b[i])); m = Math.max(m, Math.abs(b[i])); }
  return d / m;
}

type HostArray = { data: Float32Array; shape: number[] };
const PREFIX = 'model.diffusion_model.';
const ATTN2_BIAS = `${PREFIX}middle_block.1.transformer_blocks.0.attn2.to_out.0.bias`;
let cfg: ModelConfig;
let host: Record<string, HostArray>;
let golden: Record<'x' | 't' | 'cond' | 'out', HostArray>;

async function load(dir: string, name: string): Promise<HostArray> {
  const a = await goldenNpy(dir, name);
  return { data: npyToFloat32(a), shape: a.shape };
}

function toWeightMap(): Record<string, tf.Tensor> {
  return Object.fromEntries(Object.entries(host).map(([n, a]) => [n, tf.tensor(a.data, a.shape)]));
}

/** Tensors prepareUNet created (HWIO kernels, reshaped views), i.e. all but the WeightMap's own. */
function derived(p: UNetParams, w: WeightMap): tf.Tensor[] {
  const owned = new Set(Object.values(w));
  const out: tf.Tensor[] = [];
  const walk = (v: unknown): void => {
    if (v instanceof tf.Tensor) { if (!owned.has(v)) out.push(v); return; }
    if (v !== null && typeof v === 'object') for (const x of Object.values(v)) walk(x);
  };
  walk(p);
  return out;
}

const inputs = (): [tf.Tensor4D, tf.Tensor3D] => [
  tf.tensor4d(golden.x.data, golden.x.shape as [number, number, number, number]),
  tf.tensor3d(golden.cond.data, golden.cond.shape as [number, number, number]),
];

beforeAll(async () => {
  const dir = await goldenDir('tiny');
  cfg = JSON.parse(await readFile(join(dir, 'model_config.json'), 'utf8')) as ModelConfig;
  const names = (JSON.parse(await readFile(join(dir, 'tensors.json'), 'utf8')) as string[]).filter((n) => n.startsWith(PREFIX));
  host = {};
  for (const n of names) host[n] = await load(dir, `tensors/${n}`);
  golden = { x: await load(dir, 'unet_x'), t: await load(dir, 'unet_t'), cond: await load(dir, 'cond'), out: await load(dir, 'unet_out') };
});

describe.each(['cpu', 'wasm'])('unet on %s', (backend) => {
  let w: Record<string, tf.Tensor>;
  let params: UNetParams;
  beforeAll(async () => {
    expect(await tf.setBackend(backend)).toBe(true);
    w = toWeightMap();
    params = prepareUNet(cfg, w);
    return () => tf.dispose([...derived(params, w), ...Object.values(w)]);
  });

  it('predicts ε as PyTorch for per-sample timesteps (≤ 1e-4), leaving only its output', () => {
    expect(golden.t.data[0]).not.toBe(golden.t.data[1]);
    const [x, c] = inputs();
    const before = tf.memory().numTensors;
    const y = unet(cfg, params, x, golden.t.data, c);
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(y.shape).toEqual(golden.out.shape);
    const rel = maxRel(y.dataSync(), golden.out.data);
    expect(rel).toBeLessThanOrEqual(1e-4);
    tf.dispose([x, c, y]);
  });

  it('gives each sample its own timestep: a scalar t equals the same t repeated, and differs from another t', () => {
    const [x, c] = inputs();
    const t0 = golden.t.data[0];
    const scalar = unet(cfg, params, x, t0, c);
    const repeated = unet(cfg, params, x, [t0, t0], c);
    const golden0 = unet(cfg, params, x, golden.t.data, c);
    const s = scalar.dataSync(), r = repeated.dataSync(), g = golden0.dataSync();
    expect(maxRel(s, r)).toBe(0);
    const half = s.length / 2;  // sample 0 shares t0 with the golden call, sample 1 does not
    expect(maxRel(s.subarray(0, half), g.subarray(0, half))).toBe(0);
    expect(maxRel(s.subarray(half), g.subarray(half))).toBeGreaterThan(1e-3);
    tf.dispose([x, c, scalar, repeated, golden0]);
  });

  it('fails parity when one attn2 weight is off by 1e-3', () => {
    const bad = { ...w, [ATTN2_BIAS]: tf.add(w[ATTN2_BIAS], 1e-3) };
    const p = prepareUNet(cfg, bad);
    const [x, c] = inputs();
    const y = unet(cfg, p, x, golden.t.data, c);
    expect(maxRel(y.dataSync(), golden.out.data)).toBeGreaterThan(1e-4);
    tf.dispose([x, c, y, bad[ATTN2_BIAS], ...derived(p, bad)]);
  });
});

describe('unet input and weight checks', () => {
  let w: Record<string, tf.Tensor>;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    w = toWeightMap();
    return () => tf.dispose(Object.values(w));
  });

  it('names every missing and mis-shaped tensor in one error', () => {
    const k = `${PREFIX}input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight`;
    const bad: Record<string, tf.Tensor> = { ...w, [k]: tf.zeros([32, 16]) };
    delete bad[`${PREFIX}out.2.bias`];
    delete bad[`${PREFIX}time_embed_condtion.1.weight`];
    let err: unknown;
    try { prepareUNet(cfg, bad); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(WeightMismatchError);
    const e = err as WeightMismatchError;
    expect(e.missing.sort()).toEqual([`${PREFIX}out.2.bias`, `${PREFIX}time_embed_condtion.1.weight`]);
    expect(e.misShaped).toEqual([{ name: k, expected: [32, 32], found: [32, 16] }]);
    expect(e.message).toContain(`${k}: expected [32,32], found [32,16]`);
    bad[k].dispose();
  });

  it('rejects inputs of the wrong shape with the expected one', () => {
    const p = prepareUNet(cfg, w);
    const c = tf.zeros([2, 77, 32]) as tf.Tensor3D;
    expect(() => unet(cfg, p, tf.zeros([2, 4, 8, 8]) as tf.Tensor4D, 10, c)).toThrow(UNetInputError);
    expect(() => unet(cfg, p, tf.zeros([2, 3, 7, 7]) as tf.Tensor4D, 10, c)).toThrow(/multiples of 2, found \[2,3,7,7\]/);
    expect(() => unet(cfg, p, tf.zeros([2, 3, 8, 8]) as tf.Tensor4D, 10, tf.zeros([2, 77, 16]) as tf.Tensor3D)).toThrow(/context must be \[2, tokens, 32\], found \[2,77,16\]/);
    expect(() => unet(cfg, p, tf.zeros([2, 3, 8, 8]) as tf.Tensor4D, [1, 2, 3], c)).toThrow(/3 timesteps for a batch of 2/);
    tf.dispose(derived(p, w));
    c.dispose();
  });
});

describe('unet on webgpu (SwiftShader in Node)', () => {
  let ok = false;
  beforeAll(async () => {
    try {
      await import('@tensorflow/tfjs-backend-webgpu');
      ok = await tf.setBackend('webgpu');
    } catch { ok = false; }
  });
  afterAll(async () => { await tf.setBackend('cpu'); });

  it('matches the PyTorch UNet output to 1e-4', async () => {
    expect(ok, 'no WebGPU adapter in Node: run scripts/setup-test-deps.sh').toBe(true);
    const w = toWeightMap();
    const p = prepareUNet(cfg, w);
    const [x, c] = inputs();
    const y = unet(cfg, p, x, golden.t.data, c);
    expect(maxRel(await y.data(), golden.out.data)).toBeLessThanOrEqual(1e-4);
    tf.dispose([x, c, y, ...derived(p, w), ...Object.values(w)]);
  });
});
