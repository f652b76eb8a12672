// UNet parity with the PyTorch reference (python/cad_ref/unet.py) on the tiny golden preset.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { goldenArray, goldenConfig, goldenDir, goldenWeights, preparedTensors, webgpuInNode, type HostArray } from '../../test/golden';
import { maxRel } from '../../test/compare';
import type { ModelConfig } from './config';
import { WeightMismatchError } from './layout';
import { prepareUNet, unet, unetWithContextCache, UNetInputError, type UNetParams } from './unet';

const PREFIX = 'model.diffusion_model.';
const ATTN2_BIAS = `${PREFIX}middle_block.1.transformer_blocks.0.attn2.to_out.0.bias`;
let dir: string;
let cfg: ModelConfig;
let golden: Record<'x' | 't' | 'cond' | 'out', HostArray>;

const unetWeights = (): Promise<Record<string, tf.Tensor>> => goldenWeights(dir, (n) => n.startsWith(PREFIX));

const inputs = (): [tf.Tensor4D, tf.Tensor3D] => [
  tf.tensor4d(golden.x.data, golden.x.shape as [number, number, number, number]),
  tf.tensor3d(golden.cond.data, golden.cond.shape as [number, number, number]),
];

beforeAll(async () => {
  dir = await goldenDir('tiny');
  cfg = await goldenConfig(dir);
  const load = (name: string): Promise<HostArray> => goldenArray(dir, name);
  golden = { x: await load('unet_x'), t: await load('unet_t'), cond: await load('cond'), out: await load('unet_out') };
});

describe.each(['cpu', 'wasm'])('unet on %s', (backend) => {
  let w: Record<string, tf.Tensor>;
  let params: UNetParams;
  beforeAll(async () => {
    expect(await tf.setBackend(backend)).toBe(true);
    w = await unetWeights();
    params = prepareUNet(cfg, w);
    return () => tf.dispose([...preparedTensors(params, w), ...Object.values(w)]);
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
    const s = scalar.dataSync(),
      r = repeated.dataSync(),
      g = golden0.dataSync();
    expect(maxRel(s, r)).toBe(0);
    const half = s.length / 2; // sample 0 shares t0 with the golden call, sample 1 does not
    expect(maxRel(s.subarray(0, half), g.subarray(0, half))).toBe(0);
    expect(maxRel(s.subarray(half), g.subarray(half))).toBeGreaterThan(1e-3);
    tf.dispose([x, c, scalar, repeated, golden0]);
  });

  it('makes the context-only work once per context tensor: the same ε as from the bare context, freed by dispose()', () => {
    const [x, c] = inputs();
    const bare = unet(cfg, params, x, golden.t.data, c);
    const before = tf.memory().numTensors;
    const denoiser = unetWithContextCache(cfg, params);
    // The first step in a tf.tidy, as guidedEps runs it: the context it makes must outlive that tidy.
    const ys = [tf.tidy(() => denoiser(x, golden.t.data, c))];
    const afterFirst = tf.memory().numTensors;
    ys.push(denoiser(x, golden.t.data, c));
    expect(tf.memory().numTensors).toBe(afterFirst + 1); // the second step made only its output
    const other = tf.clone(c);
    ys.push(denoiser(x, golden.t.data, other)); // another context tensor: its own context, the first one freed
    expect(tf.memory().numTensors).toBe(afterFirst + 3);
    for (const y of ys) expect(maxRel(y.dataSync(), bare.dataSync())).toBe(0);
    denoiser.dispose();
    expect(tf.memory().numTensors).toBe(before + ys.length + 1);
    tf.dispose([x, c, other, bare, ...ys]);
  });

  it('fails parity when one attn2 weight is off by 1e-3', () => {
    const bad = { ...w, [ATTN2_BIAS]: tf.add(w[ATTN2_BIAS], 1e-3) };
    const p = prepareUNet(cfg, bad);
    const [x, c] = inputs();
    const y = unet(cfg, p, x, golden.t.data, c);
    expect(maxRel(y.dataSync(), golden.out.data)).toBeGreaterThan(1e-4);
    tf.dispose([x, c, y, bad[ATTN2_BIAS], ...preparedTensors(p, bad)]);
  });
});

describe('unet input and weight checks', () => {
  let w: Record<string, tf.Tensor>;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    w = await unetWeights();
    return () => tf.dispose(Object.values(w));
  });

  it('names every missing and mis-shaped tensor in one error', () => {
    const k = `${PREFIX}input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight`;
    const bad: Record<string, tf.Tensor> = { ...w, [k]: tf.zeros([32, 16]) };
    delete bad[`${PREFIX}out.2.bias`];
    delete bad[`${PREFIX}time_embed_condtion.1.weight`];
    let err: unknown;
    try {
      prepareUNet(cfg, bad);
    } catch (e) {
      err = e;
    }
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
    expect(() => unet(cfg, p, tf.zeros([2, 3, 8, 8]) as tf.Tensor4D, 10, tf.zeros([2, 77, 16]) as tf.Tensor3D)).toThrow(
      /context must be \[2, tokens, 32\], found \[2,77,16\]/,
    );
    expect(() => unet(cfg, p, tf.zeros([2, 3, 8, 8]) as tf.Tensor4D, [1, 2, 3], c)).toThrow(/3 timesteps for a batch of 2/);
    tf.dispose(preparedTensors(p, w));
    c.dispose();
  });
});

describe('unet on webgpu (SwiftShader in Node)', () => {
  const webgpu = webgpuInNode();

  it('matches the PyTorch UNet output to 1e-4', async () => {
    expect(webgpu(), 'no WebGPU adapter in Node: run scripts/setup-test-deps.sh').toBe(true);
    const w = await unetWeights();
    const p = prepareUNet(cfg, w);
    const [x, c] = inputs();
    const y = unet(cfg, p, x, golden.t.data, c);
    expect(maxRel(await y.data(), golden.out.data)).toBeLessThanOrEqual(1e-4);
    tf.dispose([x, c, y, ...preparedTensors(p, w), ...Object.values(w)]);
  });
});
