// Batch reconstruction for evaluation: every fMRI vector through the same pipeline as the studio.
import { loadModelFromDir } from './nodeModel';
import { decodeLatents, decodeSteps, runToEnd } from '../engine/pipeline';
import type { SamplerName } from '../engine/types';

export interface ReconstructOptions {
  sampler: SamplerName;
  steps: number;
  seed: number;
  numSamples: number;
  eta: number;
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
