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
import { ddimSampler } from '../src/diffusion/ddim';
import { guidedEps } from '../src/diffusion/guidance';
import { hasLowLevel, lowLevelLatent } from '../src/model/lowlevel';
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
  // The extras (low-level decoder, null context) ride along, as a bundle converted with extras.safetensors has them.
  const extras = JSON.parse(await commands.readFile(`${dir}/extras.json`, 'utf8')) as string[];
  const weights: Record<string, tf.Tensor> = {};
  for (const name of [...names, ...extras]) {
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
    expect(
      profile.kernels.some((k) => /attention/i.test(k.name)),
      'a fused attention kernel ran',
    ).toBe(true);
    const y = profile.result as tf.Tensor;
    expect(maxRel(await y.data(), await f32('unet_out'))).toBeLessThanOrEqual(1e-4);
    tf.dispose([xt, y]);
  });

  it('the low-level decoder (ridge → grey image → VQ encoder) matches PyTorch to 1e-4', async () => {
    expect(hasLowLevel(model)).toBe(true);
    const { pixels, latent } = await lowLevelLatent(model, await f32('fmri'));
    expect(maxRel(pixels, await f32('lowlevel_pix'))).toBeLessThanOrEqual(1e-4);
    expect(maxRel(latent, await f32('lowlevel_z0'))).toBeLessThanOrEqual(1e-4);
  });

  it('a whole PLMS trajectory and its VQ decode match PyTorch to 1e-4', async () => {
    const xT = await npy('plms_xT');
    const x = tf.tensor4d(npyToFloat32(xT), xT.shape as [number, number, number, number]);
    const last = await runToEnd(
      plmsSampler({ schedule: model.schedule, steps: 10, eps: (xt, t) => unet(model.config, model.unet, xt, t, c), xT: x }),
    );
    const final = (await last.data()) as Float32Array;
    expect(maxRel(final, await f32('plms_final'))).toBeLessThanOrEqual(1e-4);
    const images = await decodeLatents(model, final, 2);
    expect(maxRel(images.data, await f32('plms_image'))).toBeLessThanOrEqual(1e-4);
    tf.dispose([last, x]);
  });

  // Issue 16: classifier-free guidance (one batched UNet call on [x, x], context [null, c]) and img2img
  // starts, against the PyTorch trajectories, step by step.
  it.each([
    ['plms', 'guided'],
    ['ddim', 'guided'],
    ['plms', 'img2img'],
    ['ddim', 'img2img'],
  ] as const)(
    '%s %s: every step matches PyTorch to 1e-4',
    async (sampler, variant) => {
      const samplers = JSON.parse(await commands.readFile(`${dir}/samplers.json`, 'utf8')) as {
        plms: { steps: number };
        ddim: { steps: number; eta: number };
        img2img: { strength: number };
        guided: { guidance: number };
      };
      const tag = `${sampler}_${variant}`;
      const xTa = await npy(`${tag}_xT`);
      const shape = xTa.shape as [number, number, number, number];
      const perStep = async (name: string): Promise<Float32Array[]> => {
        const a = await npy(`${tag}_${name}`);
        const data = npyToFloat32(a),
          size = data.length / a.shape[0];
        return Array.from({ length: a.shape[0] }, (_, i) => data.subarray(i * size, (i + 1) * size));
      };
      const [xt, eps, x0] = [await perStep('x_t'), await perStep('eps'), await perStep('x0')];
      const noise = sampler === 'ddim' ? await perStep('noise') : [];
      const nullA = await npy('tensors/decoding_studio.null_context');
      const cNull = tf.tensor(npyToFloat32(nullA), nullA.shape);
      const x = tf.tensor4d(npyToFloat32(xTa), shape);
      const x0Init = variant === 'img2img' ? tf.tensor4d(await f32('img2img_x0_init'), shape) : undefined;
      const e = guidedEps(
        (xx, t, ctx) => unet(model.config, model.unet, xx, t, ctx),
        c,
        cNull,
        variant === 'guided' ? samplers.guided.guidance : 1,
      );
      const init = x0Init ? { init: { x0: x0Init, strength: samplers.img2img.strength } } : {};
      const gen =
        sampler === 'plms'
          ? plmsSampler({ schedule: model.schedule, steps: samplers.plms.steps, eps: e, xT: x, ...init })
          : ddimSampler({
              schedule: model.schedule,
              steps: samplers.ddim.steps,
              eta: samplers.ddim.eta,
              eps: e,
              xT: x,
              ...init,
              noise: (i) => tf.tensor4d(noise[i], shape),
            });
      let worst = 0,
        n = 0;
      let r = await gen.next();
      while (!r.done) {
        const s = r.value;
        worst = Math.max(worst, maxRel(await s.xt.data(), xt[n]), maxRel(await s.eps.data(), eps[n]), maxRel(await s.x0.data(), x0[n]));
        n++;
        r = await gen.next();
      }
      expect(n).toBe(xt.length);
      expect(worst).toBeLessThanOrEqual(1e-4);
      expect(maxRel(await r.value.data(), await f32(`${tag}_final`))).toBeLessThanOrEqual(1e-4);
      e.dispose();
      tf.dispose([r.value, x, cNull, ...(x0Init ? [x0Init] : [])]);
    },
    400_000,
  ); // SwiftShader: a guided DDIM run (13 UNet calls on a batch of 4) takes about two minutes
});
