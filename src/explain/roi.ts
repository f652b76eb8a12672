// What the studio and the CLI draw from one step's attention maps and the token → voxel shares
// (issue 14, item 1): a heatmap over the image for an ROI, voxel importance for an image region, and
// the attention mass per ROI. Plain functions of Float32Arrays for one sample.
import type { AttentionMaps } from './attentionMaps';
import type { TokenAttribution } from './attribution';
import { errorClass } from '../errors';

export class RoiError extends errorClass('RoiError') {}

/** One sample's slice of the maps: [h·w, tokens]. */
export function sampleMaps(maps: AttentionMaps, b: number): Float32Array {
  const size = maps.height * maps.width * maps.tokens;
  if (!(b >= 0 && b < maps.batch)) throw new RoiError(`sample ${b} is outside the ${maps.batch} sample(s) of the maps`);
  return maps.data.subarray(b * size, (b + 1) * size);
}

/** One sample's token → voxel shares: [tokens, voxels]. */
export function sampleTokenVoxel(a: TokenAttribution, b: number): Float32Array {
  const size = a.tokens * a.voxels;
  if (!(b >= 0 && b < a.batch)) throw new RoiError(`sample ${b} is outside the ${a.batch} sample(s) of the attribution`);
  return a.tokenVoxel.subarray(b * size, (b + 1) * size);
}

/** Checks an ROI mask against the voxel count and returns its voxel indices. */
export function roiIndices(mask: ArrayLike<number | boolean>, voxels: number, name = 'ROI'): number[] {
  if (mask.length !== voxels) throw new RoiError(`${name} mask has ${mask.length} entries; the fMRI vector has ${voxels} voxels`);
  const out: number[] = [];
  for (let v = 0; v < voxels; v++) if (mask[v]) out.push(v);
  if (out.length === 0) throw new RoiError(`${name} mask selects no voxel`);
  return out;
}

/** w[m] = Σ_{v ∈ ROI} tokenVoxel[m, v]: how much of token m comes from the ROI. */
export function roiTokenWeights(tokenVoxel: Float32Array, tokens: number, voxels: number, roi: readonly number[]): Float32Array {
  const w = new Float32Array(tokens);
  for (let m = 0; m < tokens; m++) {
    let s = 0;
    for (const v of roi) s += tokenVoxel[m * voxels + v];
    w[m] = s;
  }
  return w;
}

/**
 * Heatmap [h·w] for an ROI: at each image position, Σ_m A[i, m]·w_ROI[m], the fraction of that position's
 * cross-attention that flows to the ROI's voxels (0..1).
 */
export function roiHeatmap(attn: Float32Array, tokens: number, weights: Float32Array): Float32Array {
  const n = attn.length / tokens;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let m = 0; m < tokens; m++) s += attn[i * tokens + m] * weights[m];
    out[i] = s;
  }
  return out;
}

/**
 * Voxel importance [voxels] for an image region (a 0/1 flag per position, [h·w]): the region's mean
 * attention over tokens carried to the voxels, Σ_m Ā_R[m]·tokenVoxel[m, v]. Sums to 1 − the bias share.
 */
export function regionVoxelImportance(
  attn: Float32Array,
  tokens: number,
  region: ArrayLike<number | boolean>,
  tokenVoxel: Float32Array,
  voxels: number,
): Float32Array {
  const n = attn.length / tokens;
  if (region.length !== n) throw new RoiError(`region has ${region.length} positions; the maps have ${n}`);
  const mean = new Float64Array(tokens);
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (!region[i]) continue;
    count++;
    for (let m = 0; m < tokens; m++) mean[m] += attn[i * tokens + m];
  }
  if (count === 0) throw new RoiError('the image region is empty: brush at least one position');
  const out = new Float32Array(voxels);
  for (let m = 0; m < tokens; m++) {
    const a = mean[m] / count;
    for (let v = 0; v < voxels; v++) out[v] += a * tokenVoxel[m * voxels + v];
  }
  return out;
}

/**
 * Attention mass per ROI over the whole image: mean over positions of the ROI's heatmap, plus the share
 * that goes to the mappers' constant part ('bias'). For ROIs that partition the voxels the masses and the
 * bias sum to 1. `perVoxel` divides by the ROI's share of the voxels (1 = as much as its size predicts).
 */
export function roiMass(
  attn: Float32Array,
  tokens: number,
  tokenVoxel: Float32Array,
  tokenBias: Float32Array,
  voxels: number,
  rois: Record<string, readonly number[]>,
): { mass: Record<string, number>; perVoxel: Record<string, number>; bias: number } {
  const n = attn.length / tokens;
  const meanA = new Float64Array(tokens);
  for (let i = 0; i < n; i++) for (let m = 0; m < tokens; m++) meanA[m] += attn[i * tokens + m] / n;
  const mass: Record<string, number> = {},
    perVoxel: Record<string, number> = {};
  for (const [name, idx] of Object.entries(rois)) {
    const w = roiTokenWeights(tokenVoxel, tokens, voxels, idx);
    let s = 0;
    for (let m = 0; m < tokens; m++) s += meanA[m] * w[m];
    mass[name] = s;
    perVoxel[name] = s / (idx.length / voxels);
  }
  let bias = 0;
  for (let m = 0; m < tokens; m++) bias += meanA[m] * tokenBias[m];
  return { mass, perVoxel, bias };
}
