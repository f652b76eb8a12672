// The decoder on tfjs WebGPU in headless Chromium (SwiftShader), with the fused attention kernels,
// against the PyTorch reference: conditioning, one UNet call, a whole PLMS trajectory and the VQ
// decode of the tiny preset, fp32 within 1e-4 relative.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgpu';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { commands } from 'vitest/browser';
import { npyToFloat32, readNpy, type NpyArray } from '../src/io/npy';
import type { ModelConfig } from '../src/model/config';
import { compileShaders, conditioning, decodeLatents, modelFromWeights, runToEnd, type EngineModel } from '../src/engine/pipeline';
import { plmsSampler } from '../src/diffusion/plms';
import { unet } from '../src/model/unet';
import { maxRel } from './compare';

const dir = inject('goldenDir');

async function readBytes(path: string): Promise<Uint8Array> {
  const b64 = await commands.readFile(path, 'base64');
  return Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
}
const npy = async (name: string): Promise<NpyArray> => readNpy(await readBytes(`${dir}/${name}.npy`));
const f32 = async (name: string): Promise<Float32Array> => npyToFloat32(await npy(name));

let model: EngineModel;
let c: tf.Tensor3D;

beforeAll(async () => {
  if (!(await tf.setBackend('webgpu'))) throw new Error('no WebGPU in chromium: launch it with --enable-unsafe-webgpu');
  const cfg = JSON.parse(await commands.readFile(`${dir}/model_config.json`, 'utf8')) as ModelConfig;
  const names = JSON.parse(await commands.readFile(`${dir}/tensors.json`, 'utf8')) as string[];
  const weights: Record<string, tf.Tensor> = {};
  for (const name of names) {
    const a = await npy(`tensors/${name}`);
    weights[name] = tf.tensor(npyToFloat32(a), a.shape);
  }
  model = modelFromWeights(cfg, weights);
  // As loadModel does: compile every pipeline first; the checks below show it changes no result.
  await compileShaders(model);
  const raw = await npy('fmri_raw');
  const V = raw.shape[1];
  const rows = npyToFloat32(raw);
  const cond = conditioning(model, [rows.slice(0, V), rows.slice(V, 2 * V)]);
  cond.encoderOut.dispose();
  c = cond.c;
}, 120_000);

describe('decoder on WebGPU (chromium, SwiftShader)', () => {
  it('runs on the webgpu backend, with compile-only mode off again after the warm-up', () => {
    expect(tf.getBackend()).toBe('webgpu');
    expect(tf.env().getBool('WEBGPU_ENGINE_COMPILE_ONLY')).toBe(false);
  });

  it('conditioning matches PyTorch to 1e-4', async () => {
    expect(maxRel(await c.data(), await f32('cond'))).toBeLessThanOrEqual(1e-4);
  });

  it('one UNet call matches PyTorch to 1e-4, through the fused attention kernels', async () => {
    const x = await npy('unet_x');
    const t = await f32('unet_t');
    const xt = tf.tensor4d(npyToFloat32(x), x.shape as [number, number, number, number]);
    const profile = await tf.profile(() => unet(model.config, model.unet, xt, Array.from(t), c));
    expect(profile.kernels.some((k) => /attention/i.test(k.name)), 'a fused attention kernel ran').toBe(true);
    const y = profile.result as tf.Tensor;
    expect(maxRel(await y.data(), await f32('unet_out'))).toBeLessThanOrEqual(1e-4);
    tf.dispose([xt, y]);
  });

  it('a whole PLMS trajectory and its VQ decode match PyTorch to 1e-4', async () => {
    const xT = await npy('plms_xT');
    const x = tf.tensor4d(npyToFloat32(xT), xT.shape as [number, number, number, number]);
    const last = await runToEnd(plmsSampler({ schedule: model.schedule, steps: 10, eps: (xt, t) => unet(model.config, model.unet, xt, t, c), xT: x }));
    const final = await last.data() as Float32Array;
    expect(maxRel(final, await f32('plms_final'))).toBeLessThanOrEqual(1e-4);
    const images = await decodeLatents(model, final, 2);
    expect(maxRel(images.data, await f32('plms_image'))).toBeLessThanOrEqual(1e-4);
    tf.dispose([last, x]);
  });
});
