// The explanation parity cases (issue 14), shared by the Node test (src/explain/explain.parity.test.ts: cpu, wasm,
// tfjs-webgpu on Dawn) and the Chromium one (src/explain/explain.browser.test.ts: tfjs-webgpu in the page). Each
// computes on the current tfjs backend what python/cad_ref/explain.py computed with PyTorch forward hooks (see
// test/oracles/explain.ts) and returns both, so the tests hold them to the same bound with the same metric: maxRel
// (test/compare.ts, max|a − b| / max|b|) < 1e-4. No Node imports here: this module also runs in the browser.
import * as tf from '@tensorflow/tfjs-core';
import { conditioning, type EngineModel } from '../src/engine/pipeline';
import { crossAttentionMaps, crossAttentionMapsTensor } from '../src/explain/attentionMaps';
import { tokenAttribution, type TokenAttribution } from '../src/explain/attribution';
import { maxRel } from './compare';
import type { HostArray } from './golden';

/** The fp32 bound of every explanation parity check (docs/explain.md, "Parity"). */
export const EXPLAIN_TOLERANCE = 1e-4;

/** A golden or reference array by name (golden: unet_x, cond, …; reference: attn_unet, token_patch, …). */
export type Load = (name: string) => Promise<HostArray>;

export interface MapsOfUnetCall {
  /** [B, h, w, 77] computed here, and its shape. */
  got: Float32Array;
  shape: number[];
  /** attn_unet.npy: the hooked PyTorch maps. */
  want: HostArray;
  layers: number;
  /** Kernels the maps ran (tf.profile), to show which attention path produced them. */
  kernels: string[];
}

/** Maps of one UNet call, unet(unet_x, unet_t, cond) of the golden set (2 samples, t = 17 and 640). */
export async function mapsOfUnetCall(model: EngineModel, gold: Load, ref: Load): Promise<MapsOfUnetCall> {
  const [x, t, c, want] = await Promise.all([gold('unet_x'), gold('unet_t'), gold('cond'), ref('attn_unet')]);
  const xs = tf.tensor4d(x.data, x.shape as [number, number, number, number]);
  const cs = tf.tensor3d(c.data, c.shape as [number, number, number]);
  try {
    let layers = 0;
    const profile = await tf.profile(() => {
      const r = crossAttentionMapsTensor(model.config, model.unet, xs, t.data, cs);
      layers = r.layers;
      return r.maps;
    });
    const maps = profile.result as tf.Tensor;
    const got = (await maps.data()) as Float32Array;
    maps.dispose();
    return { got, shape: maps.shape, want, layers, kernels: profile.kernels.map((k) => k.name) };
  } finally {
    tf.dispose([xs, cs]);
  }
}

/**
 * The largest maxRel over the golden DDIM trajectory's steps `which` (default all) between the maps of step i
 * (x_t[i], t_i, cond) and attn_ddim.npy[i]; `steps` is the trajectory's length.
 */
export async function ddimMapsError(model: EngineModel, gold: Load, ref: Load, which?: (steps: number) => number[]): Promise<number> {
  const [xt, ts, c, want] = await Promise.all([gold('ddim_x_t'), gold('ddim_timesteps'), gold('cond'), ref('attn_ddim')]);
  const cs = tf.tensor3d(c.data, c.shape as [number, number, number]);
  const steps = ts.data.length,
    per = xt.data.length / steps,
    perMap = want.data.length / steps;
  let worst = 0;
  try {
    for (const i of which ? which(steps) : Array.from({ length: steps }, (_, k) => k)) {
      const m = await crossAttentionMaps(model.config, model.unet, xt.data.slice(i * per, (i + 1) * per), ts.data[i], cs);
      worst = Math.max(worst, maxRel(m.data, want.data.subarray(i * perMap, (i + 1) * perMap)));
    }
  } finally {
    cs.dispose();
  }
  return worst;
}

/** Token → patch → voxel shares from our own encoder output for the golden fmri_raw rows, with the reference's. */
export async function attributionOfGolden(
  model: EngineModel,
  gold: Load,
  ref: Load,
): Promise<{ got: TokenAttribution; patch: HostArray; bias: HostArray; voxel: HostArray }> {
  const raw = await gold('fmri_raw');
  const [b, v] = raw.shape;
  const rows = Array.from({ length: b }, (_, i) => raw.data.slice(i * v, (i + 1) * v));
  const { fmri, encoderOut, c } = conditioning(model, rows);
  try {
    const got = await tokenAttribution(model.config, model.cond, model.encoder.patchWeight, fmri, encoderOut, v);
    const [patch, bias, voxel] = await Promise.all([ref('token_patch'), ref('token_bias'), ref('token_voxel')]);
    return { got, patch, bias, voxel };
  } finally {
    tf.dispose([encoderOut, c]);
  }
}
