// One decode's explanation, step by step (issue 14, item 1): the conditioning and the token → voxel shares
// are computed once for the (possibly edited) fMRI vector, then every sampler step's maps are turned into
// ROI heatmaps and attention mass per ROI. Used by `decode --attention-maps` and the studio's worker; it
// takes the loaded model as an argument and holds one tensor (the conditioning) until dispose().
import * as tf from '@tensorflow/tfjs-core';
import { conditioning, type EngineModel } from '../engine/pipeline';
import { crossAttentionMaps, type AttentionMaps } from './attentionMaps';
import { tokenAttribution, type TokenAttribution } from './attribution';
import { roiHeatmap, roiIndices, roiMass, roiTokenWeights, sampleMaps } from './roi';

export interface StepExplanation {
  index: number;
  t: number;
  maps: AttentionMaps;
  /** Per ROI: heatmap [n, h·w], the fraction of each position's cross-attention that reaches the ROI's voxels. */
  heat: Record<string, Float32Array>;
  /** Heatmap [n, h·w] of the share that reaches the mappers' constant part (no voxel moves it). */
  biasHeat: Float32Array;
  /** Attention mass per ROI, sample 0 (roiMass). */
  mass: ReturnType<typeof roiMass>;
}

export interface StepExplainer {
  attribution: TokenAttribution;
  /** ROI name → voxel indices of the vector. */
  rois: Record<string, number[]>;
  explainStep(step: { index: number; t: number; xt: Float32Array }): Promise<StepExplanation>;
  dispose(): void;
}

/**
 * Prepares the explanation of decoding `fmriRaw` (the raw vector the decode uses) with `numSamples` samples.
 * `masks` are 0/1 per voxel of that vector (roiMasksForSample); an empty record gives maps without ROIs.
 */
export async function startExplainer(
  model: EngineModel,
  fmriRaw: Float32Array,
  numSamples: number,
  masks: Record<string, ArrayLike<number>>,
): Promise<StepExplainer> {
  const rois = Object.fromEntries(Object.entries(masks).map(([k, m]) => [k, roiIndices(m, fmriRaw.length, `ROI '${k}'`)]));
  const { fmri, encoderOut, c } = conditioning(model, fmriRaw);
  let attribution: TokenAttribution;
  try {
    attribution = await tokenAttribution(model.config, model.cond, model.encoder.patchWeight, fmri, encoderOut, fmriRaw.length);
  } catch (e) {
    tf.dispose([encoderOut, c]);
    throw e;
  }
  encoderOut.dispose();
  const cRep = tf.tidy(() => tf.tile(c, [numSamples, 1, 1]) as tf.Tensor3D);
  c.dispose();
  const { tokens, voxels, tokenVoxel, tokenBias } = attribution;
  const weights = Object.fromEntries(Object.entries(rois).map(([k, idx]) => [k, roiTokenWeights(tokenVoxel, tokens, voxels, idx)]));
  return {
    attribution,
    rois,
    async explainStep(step) {
      const maps = await crossAttentionMaps(model.config, model.unet, step.xt, step.t, cRep);
      const hw = maps.height * maps.width;
      const heat: Record<string, Float32Array> = {};
      for (const [k, w] of Object.entries(weights)) {
        const h = new Float32Array(numSamples * hw);
        for (let b = 0; b < numSamples; b++) h.set(roiHeatmap(sampleMaps(maps, b), tokens, w), b * hw);
        heat[k] = h;
      }
      const biasHeat = new Float32Array(numSamples * hw);
      for (let b = 0; b < numSamples; b++) biasHeat.set(roiHeatmap(sampleMaps(maps, b), tokens, tokenBias), b * hw);
      const mass = roiMass(sampleMaps(maps, 0), tokens, tokenVoxel, tokenBias, voxels, rois);
      return { index: step.index, t: step.t, maps, heat, biasHeat, mass };
    },
    dispose() {
      cRep.dispose();
    },
  };
}
