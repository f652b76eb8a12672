// Context token → encoder patch → voxel attribution through the conditioning mappers (issue 14, item 1).
//
// The mappers are linear (spec §4.1): the two kernel-1 Conv1d mix tokens, dim_mapper acts on each token
// alone, so context token m is exactly
//     c_m = Σ_l M[m, l] · (W_d e_l)  +  (β_m · W_d 1 + b_d),     M = W_2 W_1 [tokens, L],  β = W_2 b_1 + b_2,
// with e_l the encoder's output token l (token l sits on patch l: the MAE has no cls token here).
// Attribution is norm-based (Kobayashi et al., "Attention is Not Only a Weight: Analyzing Transformers with
// Vector Norms", EMNLP 2020): patch l's share of token m is ‖M[m, l] W_d e_l‖ = |M[m, l]|·‖W_d e_l‖,
// normalised together with the norm of the constant (bias) part, which no fMRI value changes and which is
// reported separately as the "bias" share. Composing these linear shares is attention rollout (Abnar &
// Zuidema, ACL 2020) through linear maps.
// Patch → voxel: the patch embedding is Σ_k W_p[:, k]·x_k + b over its 16 voxels; voxel k's share is
// |x_k|·‖W_p[:, k]‖ over the patch (same norm rule; a patch of all-zero input splits evenly).
// Limits (docs/explain.md): the encoder's self-attention and MLPs between patch embedding and e_l are not
// traced (e_l is credited to patch l), and a norm says how much a part contributes, not in which direction.
import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from '../model/config';
import type { CondStageParams } from '../model/condStage';
import { errorClass } from '../errors';

/** Shares per sample; every token's patch shares plus its bias share sum to 1. */
export interface TokenAttribution {
  batch: number;
  tokens: number;
  patches: number;
  /** Voxels of the raw (unpadded) fMRI vector. */
  voxels: number;
  /** [B, tokens, patches]: share of each encoder patch in each context token. */
  tokenPatch: Float32Array;
  /** [B, tokens]: share of the fMRI-independent constant part (the mappers' biases). */
  tokenBias: Float32Array;
  /** [B, tokens, voxels]: tokenPatch spread over each patch's voxels (wrap-padded voxels fold back). */
  tokenVoxel: Float32Array;
}

export class AttributionError extends errorClass('AttributionError', 'attribution: ') {}

/**
 * Token → patch → voxel shares for B preprocessed fMRI vectors.
 * @param fmri preprocessed (wrap-padded, z-scored) fMRI, [B, numVoxels] row-major (conditioning().fmri)
 * @param encoderOut the encoder's output for it, [B, L, D] (a tensor the caller keeps)
 * @param cond the prepared conditioning mappers (EngineModel.cond: token mixes as [1, out, in], dim_mapper as [in, out])
 * @param patchKernel the prepared patch embedding [patchSize, D] (EngineModel.encoder.patchWeight)
 * @param rawVoxels length of the vector before wrap padding (padded voxel j is raw voxel j mod rawVoxels)
 */
export async function tokenAttribution(
  cfg: ModelConfig,
  cond: CondStageParams,
  patchKernel: tf.Tensor2D,
  fmri: Float32Array,
  encoderOut: tf.Tensor3D,
  rawVoxels: number,
): Promise<TokenAttribution> {
  const { numTokens: L, midTokens: mid, outTokens: T, condDim } = cfg.cond;
  const { numVoxels: V, patchSize: P, embedDim: D } = cfg.encoder;
  const B = encoderOut.shape[0];
  if (encoderOut.shape[1] !== L || encoderOut.shape[2] !== D)
    throw new AttributionError(`encoder output must be [batch, ${L}, ${D}], found [${encoderOut.shape}]`);
  if (fmri.length !== B * V)
    throw new AttributionError(`fMRI has ${fmri.length} values; ${B} preprocessed vector(s) of ${V} voxels need ${B * V}`);
  if (!(Number.isInteger(rawVoxels) && rawVoxels >= 1 && rawVoxels <= V))
    throw new AttributionError(`raw voxel count ${rawVoxels} must be in 1..${V}`);
  if (L * P !== V) throw new AttributionError(`${L} tokens of ${P} voxels do not cover ${V} voxels`);
  const [mArr, betaArr, encNorm, biasNorm, colNorm] = tf.tidy(() => {
    const w1 = tf.reshape(cond.mix1.weight, [mid, L]);
    const w2 = tf.reshape(cond.mix2.weight, [T, mid]);
    const b1 = tf.reshape(cond.mix1.bias, [mid, 1]);
    const b2 = tf.reshape(cond.mix2.bias, [T]);
    const wdT = cond.dim.kernel; // [D, condDim] = W_dᵀ
    const bd = cond.dim.bias;
    const m = tf.matMul(w2 as tf.Tensor2D, w1 as tf.Tensor2D); // [T, L]
    const beta = tf.add(tf.reshape(tf.matMul(w2 as tf.Tensor2D, b1 as tf.Tensor2D), [T]), b2); // [T]
    // ‖W_d e_l‖ per sample and patch: e [B·L, D] · W_dᵀ.
    const proj = tf.matMul(tf.reshape(encoderOut, [B * L, D]) as tf.Tensor2D, wdT);
    const en = tf.sqrt(tf.sum(tf.square(proj), 1)); // [B·L]
    // β_m·(W_d 1) + b_d per token, its norm.
    const rowSum = tf.sum(wdT, 0); // [condDim]
    const biasVec = tf.add(tf.mul(tf.reshape(beta, [T, 1]), tf.reshape(rowSum, [1, condDim])), bd);
    const bn = tf.sqrt(tf.sum(tf.square(biasVec), 1)); // [T]
    const cn = tf.sqrt(tf.sum(tf.square(patchKernel), 1)); // [P]: ‖W_p[:, k]‖
    return [m, beta, en, bn, cn];
  });
  let M: Float32Array, enc: Float32Array, bnorm: Float32Array, cnorm: Float32Array;
  try {
    [M, , enc, bnorm, cnorm] = (await Promise.all([mArr, betaArr, encNorm, biasNorm, colNorm].map((t) => t.data()))) as Float32Array[];
  } finally {
    tf.dispose([mArr, betaArr, encNorm, biasNorm, colNorm]);
  }
  const tokenPatch = new Float32Array(B * T * L),
    tokenBias = new Float32Array(B * T),
    tokenVoxel = new Float32Array(B * T * rawVoxels);
  const within = new Float64Array(V);
  for (let b = 0; b < B; b++) {
    // Voxel shares inside each patch.
    for (let p = 0; p < L; p++) {
      let s = 0;
      for (let k = 0; k < P; k++) s += within[p * P + k] = Math.abs(fmri[b * V + p * P + k]) * cnorm[k];
      for (let k = 0; k < P; k++) within[p * P + k] = s > 0 ? within[p * P + k] / s : 1 / P;
    }
    for (let m = 0; m < T; m++) {
      let total = bnorm[m];
      for (let l = 0; l < L; l++) total += Math.abs(M[m * L + l]) * enc[b * L + l];
      const row = b * T + m;
      tokenBias[row] = total > 0 ? bnorm[m] / total : 0;
      for (let l = 0; l < L; l++) {
        const share = total > 0 ? (Math.abs(M[m * L + l]) * enc[b * L + l]) / total : 0;
        tokenPatch[row * L + l] = share;
        for (let k = 0; k < P; k++) {
          const j = l * P + k;
          tokenVoxel[row * rawVoxels + (j % rawVoxels)] += share * within[j];
        }
      }
    }
  }
  return { batch: B, tokens: T, patches: L, voxels: rawVoxels, tokenPatch, tokenBias, tokenVoxel };
}
