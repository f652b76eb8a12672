// Batch reconstruction for evaluation: every fMRI vector through the same pipeline as the studio.
import { loadModelFromDir } from './nodeModel';
import { decodeLatents, decodeSteps, runToEnd } from '../engine/pipeline';
import type { InitKind, SamplerName } from '../engine/types';

export interface ReconstructOptions {
  sampler: SamplerName;
  steps: number;
  seed: number;
  numSamples: number;
  eta: number;
  /** DecodeOptions.init / strength / guidance (defaults noise, 1, 1). */
  init?: InitKind;
  strength?: number;
  guidance?: number;
  onProgress?: (done: number, total: number) => void;
}

/** For each fMRI vector, `numSamples` images [H, W, 3] in [0, 1], back to back. Seeds differ per vector. */
export async function reconstructBatch(modelDir: string, fmri: Float32Array[], opts: ReconstructOptions): Promise<Float32Array[]> {
  const model = await loadModelFromDir(modelDir);
  try {
    const out: Float32Array[] = [];
    for (const [i, x] of fmri.entries()) {
      const final = await runToEnd(decodeSteps(model, x, { ...opts, seed: opts.seed + i * 7919 }));
      out.push((await decodeLatents(model, final, opts.numSamples)).data);
      opts.onProgress?.(i + 1, fmri.length);
    }
    return out;
  } finally {
    model.dispose();
  }
}

/**
 * The low-level decoder alone (no diffusion): for each fMRI vector its ridge image, grey [R, R] in [0, 1]
 * repeated to RGB [R, R, 3], as reconstructBatch lays out one sample. Throws NoLowLevelError for a model
 * without decoding_studio.lowlevel.* tensors.
 */
export async function lowLevelBatch(modelDir: string, fmri: Float32Array[]): Promise<Float32Array[]> {
  const { hasLowLevel, lowLevelLatent, NoLowLevelError } = await import('../model/lowlevel');
  const { preprocessFmri } = await import('../model/preprocess');
  const model = await loadModelFromDir(modelDir);
  try {
    if (!hasLowLevel(model))
      throw new NoLowLevelError(`${modelDir} has no low-level decoder (decoding_studio.lowlevel.* and the VQ encoder)`);
    const out: Float32Array[] = [];
    for (const x of fmri) {
      const { pixels } = await lowLevelLatent(model, preprocessFmri(model.config, x));
      const rgb = new Float32Array(pixels.length * 3);
      for (let i = 0; i < pixels.length; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = pixels[i];
      out.push(rgb);
    }
    return out;
  } finally {
    model.dispose();
  }
}
