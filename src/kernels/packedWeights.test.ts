// Packed-f16 weights (issue 15) on the tfjs WebGPU backend in Node (Dawn on SwiftShader via test/setup-webgpu.ts):
// shaders/pack_f16.wgsl then shaders/unpack_f16.wgsl is f16 rounding (to one of the two neighbouring f16 values, as
// WGSL's pack2x16float allows; SwiftShader rounds a few subnormals the other way); a layer or a whole UNet / fMRI encoder
// with packed kernels equals float32 math on f16-rounded weights (≤ 1e-5) and stays within 2e-3 of float32 weights.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { packF16, PackedF16, weightTensor } from './packedWeights';
import { conv2d, linear } from '../model/layers';
import { expectedShapes } from '../model/layout';
import { latentShape, type ModelConfig } from '../model/config';
import { unet } from '../model/unet';
import { fmriEncoder } from '../model/fmriEncoder';
import { modelFromWeights, packsWeights, PACK_ABOVE_BYTES, type EngineModel } from '../engine/pipeline';
import { randomValues } from '../cli/randomWeights';
import { roundToF16 } from '../../test/attentionTestCases';
import { maxRel } from '../../test/compare';

// f16 keeps 11 significant bits: each weight moves by ≤ 2^-11 ≈ 4.9e-4 of itself; a layer's output, a sum of many
// such products, moves by about that relative to its scale. Observed below: ~1e-4–6e-4. Bound: 2e-3.
const F16_TOL = 2e-3;
// Against float32 math on the same f16-rounded weights the only differences are summation order and the GPU's
// float rounding: within f32 accuracy.
const SAME_WEIGHTS_TOL = 1e-5;

/** Normal values times magnitudes from 1e-6 to 1e2, with zeros and an odd length (the last word's high half is 0). */
function spread(n: number, seed: number): Float32Array {
  const v = randomValues(`spread${seed}`, [n, 2], seed).subarray(0, n);
  return v.map((x, i) => (i % 97 === 0 ? 0 : x * 10 ** ((i % 9) - 6)));
}

const rounded = (a: Float32Array): Float32Array => a.map(roundToF16);

/** Spacing of f16 values around x (subnormal below 2^-14). */
const ulp16 = (x: number): number => 2 ** (Math.max(Math.floor(Math.log2(Math.abs(x))), -14) - 10);

/**
 * How `got` (unpacked on the GPU) relates to f16 rounding of `want`: WGSL lets pack2x16float take either neighbouring f16
 * value, not only the nearest, so every value must be an f16 value within one f16 spacing of the original. Returns
 * those that are not, and how many took the other neighbour than round-to-nearest-even.
 */
function f16Check(got: Float32Array, want: Float32Array): { wrong: string[]; notNearest: number; subnormalOnly: boolean } {
  const wrong: string[] = [];
  let notNearest = 0,
    subnormalOnly = true;
  for (let i = 0; i < want.length; i++) {
    const g = got[i],
      x = want[i];
    if (g === roundToF16(x)) continue;
    if (roundToF16(g) !== g || Math.abs(g - x) > (x === 0 ? 0 : ulp16(x))) {
      if (wrong.length < 8) wrong.push(`${i}: ${x} → ${g}`);
      continue;
    }
    notNearest++;
    if (Math.abs(x) >= 2 ** -14) subnormalOnly = false;
  }
  return { wrong, notNearest, subnormalOnly };
}

beforeAll(async () => {
  if (!(await tf.setBackend('webgpu'))) throw new Error('tf.setBackend("webgpu") failed: Dawn found no adapter (see test/setup-webgpu.ts)');
});

describe('packed f16 weights on WebGPU', () => {
  it('pack then unpack is f16 rounding, value for value (either neighbour, as WGSL allows; odd length, zeros, 1e-6…1e2)', async () => {
    const values = spread(4097, 3);
    const t = tf.tensor2d(values, [17, 241]);
    const p = packF16(t);
    expect(p.shape).toEqual([17, 241]);
    expect(p.packed.shape).toEqual([Math.ceil(4097 / 2)]);
    expect(p.bytes).toBe(Math.ceil(4097 / 2) * 4);
    const back = tf.tidy(() => weightTensor(p));
    expect(back.shape).toEqual([17, 241]);
    const check = f16Check((await back.data()) as Float32Array, values);
    expect(check.wrong).toEqual([]);
    tf.dispose([t, back]);
    p.dispose();
  });

  it('packs and unpacks past 65,535 workgroups per dimension (the published UNet’s largest kernel has 16.6 M values)', async () => {
    const n = 65_535 * 64 * 2 + 5; // unpack: 2× the workgroups one dimension holds; pack: just past it
    const values = spread(n, 9);
    const t = tf.tensor1d(values);
    const p = packF16(t);
    const back = tf.tidy(() => weightTensor(p));
    const got = (await back.data()) as Float32Array;
    const check = f16Check(got, values);
    expect(check.wrong).toEqual([]);
    console.log(
      `${n} values packed and unpacked: ${check.notNearest} took the other neighbouring f16 value than round-to-nearest-even` +
        `${check.subnormalOnly ? ' (all f16 subnormals, below 2^-14)' : ''}`,
    );
    tf.dispose([t, back]);
    p.dispose();
  });

  it('linear and conv2d read a packed kernel: f32 math on the rounded weights; within 2e-3 of float32; no tensor left behind', async () => {
    const x = tf.tensor3d(randomValues('x', [2, 37, 96], 1), [2, 37, 96]);
    const kData = randomValues('k.weight', [96, 160], 2);
    const k = tf.tensor2d(kData, [96, 160]);
    const kRounded = tf.tensor2d(rounded(kData), [96, 160]);
    const bias = tf.tensor1d(randomValues('k.bias', [160], 3));
    const pk = packF16(k);
    const before = tf.memory().numTensors;
    const y = linear(x, pk, bias);
    expect(tf.memory().numTensors).toBe(before + 1);
    const ys = [y, linear(x, k, bias), linear(x, kRounded, bias)];
    const [got, ref32, ref16] = await Promise.all(ys.map((t) => t.data()));
    const relLinear = maxRel(got, ref32);
    expect(maxRel(got, ref16)).toBeLessThan(SAME_WEIGHTS_TOL);
    expect(relLinear).toBeLessThan(F16_TOL);
    expect(relLinear).toBeGreaterThan(0);

    const img = tf.tensor4d(randomValues('img', [1, 12, 12, 48], 4), [1, 12, 12, 48]);
    const fData = randomValues('f.weight', [3, 3, 48, 64], 5);
    const f = tf.tensor4d(fData, [3, 3, 48, 64]);
    const fRounded = tf.tensor4d(rounded(fData), [3, 3, 48, 64]);
    const fb = tf.tensor1d(randomValues('f.bias', [64], 6));
    const pf = packF16(f);
    const n0 = tf.memory().numTensors;
    const z = conv2d(img, pf, fb, 2, 1);
    expect(tf.memory().numTensors).toBe(n0 + 1);
    const zs = [z, conv2d(img, f, fb, 2, 1), conv2d(img, fRounded, fb, 2, 1)];
    const [zGot, z32, z16] = await Promise.all(zs.map((t) => t.data()));
    expect(maxRel(zGot, z16)).toBeLessThan(SAME_WEIGHTS_TOL);
    expect(maxRel(zGot, z32)).toBeLessThan(F16_TOL);
    console.log(`packed f16 kernel vs float32: linear ${relLinear.toExponential(2)}, conv2d ${maxRel(zGot, z32).toExponential(2)}`);
    tf.dispose([x, k, kRounded, bias, ...ys, img, f, fRounded, fb, ...zs]);
    pk.dispose();
    pf.dispose();
  });
});

describe('a model with packed weights (the embedded default model’s shapes, random weights)', () => {
  const cfg = (JSON.parse(readFileSync('public/models/default/manifest.json', 'utf8')) as { config: ModelConfig }).config;
  const shapes = expectedShapes(cfg);
  const values = Object.fromEntries(Object.entries(shapes).map(([n, s]) => [n, randomValues(n, s, 7)]));
  const weights = (round: (name: string) => boolean = () => false) =>
    Object.fromEntries(Object.entries(shapes).map(([n, s]) => [n, tf.tensor(round(n) ? rounded(values[n]) : values[n], s)]));
  let f32: EngineModel, f16: EngineModel, rounded16: EngineModel;
  let bytes32 = 0,
    bytes16 = 0;
  beforeAll(() => {
    const m0 = tf.memory().numBytes;
    f32 = modelFromWeights(cfg, weights(), undefined, { releaseRelaid: true });
    const m1 = tf.memory().numBytes;
    f16 = modelFromWeights(cfg, weights(), undefined, { releaseRelaid: true, packF16: { minElements: 4096 } });
    const m2 = tf.memory().numBytes;
    // float32 model whose packed weights (only those) are rounded to f16 on the CPU
    const packed = new Set(f16.packedF16?.names);
    rounded16 = modelFromWeights(
      cfg,
      weights((n) => packed.has(n)),
      undefined,
      { releaseRelaid: true },
    );
    bytes32 = m1 - m0;
    bytes16 = m2 - m1;
  });
  afterAll(() => [f32, f16, rounded16].forEach((m) => m.dispose()));

  it('keeps the large UNet and encoder matrices packed, and the device holds that many fewer bytes', () => {
    expect(f32.packedF16).toBeUndefined();
    expect(f32.deviceWeightBytes).toBe((f32.card.params.total ?? 0) * 4);
    expect(f16.packedF16!.tensors).toBeGreaterThan(10);
    expect(f16.packedF16!.names).toHaveLength(f16.packedF16!.tensors);
    expect(f16.packedF16!.names.every((n) => /^(model\.diffusion_model|cond_stage_model\.mae)\./.test(n))).toBe(true);
    expect(f16.deviceWeightBytes).toBe(f32.deviceWeightBytes - f16.packedF16!.bytesSaved);
    expect(bytes32 - bytes16).toBe(f16.packedF16!.bytesSaved);
    expect(f16.unet.input[1][0].kind === 'res' && f16.unet.input[1][0].inConv.kernel).toBeInstanceOf(PackedF16);
    expect(f16.encoder.blocks[0].fc1Weight).toBeInstanceOf(PackedF16);
    expect(f16.encoder.patchWeight).not.toBeInstanceOf(PackedF16);
    console.log(
      `default-model shapes: ${f16.packedF16!.tensors} matrices packed, weights ${bytes32} → ${bytes16} bytes (tf.memory().numBytes)`,
    );
  });

  it('UNet step and fMRI encoder: f32 math on the rounded weights (≤ 1e-5), within 2e-3 of float32, no tensor left behind', async () => {
    const [ch, h, w] = latentShape(cfg);
    const x = tf.tensor4d(randomValues('x', [2, ch, h, w], 11), [2, ch, h, w]);
    const c = tf.tensor3d(randomValues('c', [2, 77, cfg.unet.contextDim], 12), [2, 77, cfg.unet.contextDim]);
    const before = tf.memory().numTensors;
    const y = unet(cfg, f16.unet, x, [500, 20], c);
    expect(tf.memory().numTensors).toBe(before + 1);
    const ys = [y, unet(cfg, f32.unet, x, [500, 20], c), unet(cfg, rounded16.unet, x, [500, 20], c)];
    const [got, ref32, ref16] = await Promise.all(ys.map((t) => t.data()));
    const relUnet = maxRel(got, ref32);
    expect(maxRel(got, ref16)).toBeLessThan(SAME_WEIGHTS_TOL);
    expect(relUnet).toBeLessThan(F16_TOL);

    const v = tf.tensor2d(randomValues('v', [1, cfg.encoder.numVoxels], 13), [1, cfg.encoder.numVoxels]);
    const n0 = tf.memory().numTensors;
    const e = fmriEncoder(cfg, f16.encoder, v);
    expect(tf.memory().numTensors).toBe(n0 + 1);
    const es = [e, fmriEncoder(cfg, f32.encoder, v), fmriEncoder(cfg, rounded16.encoder, v)];
    const [eGot, e32, e16] = await Promise.all(es.map((t) => t.data()));
    expect(maxRel(eGot, e16)).toBeLessThan(SAME_WEIGHTS_TOL);
    expect(maxRel(eGot, e32)).toBeLessThan(F16_TOL);
    console.log(`packed f16 vs float32 weights: UNet step ${relUnet.toExponential(2)}, fMRI encoder ${maxRel(eGot, e32).toExponential(2)}`);
    tf.dispose([x, c, ...ys, v, ...es]);
  });

  it('loadModel packs on WebGPU only when float32 weights would exceed 2 GiB, or when asked', () => {
    expect(packsWeights('auto', PACK_ABOVE_BYTES / 4)).toBe(false);
    expect(packsWeights('auto', PACK_ABOVE_BYTES / 4 + 1)).toBe(true);
    expect(packsWeights('f16', 10)).toBe(true);
    expect(packsWeights('f32', 1e9)).toBe(false);
  });
});
