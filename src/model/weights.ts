import type * as tf from '@tensorflow/tfjs-core';
import { StudioError } from '../errors';

/**
 * Weights by the authors' full parameter names (phase-3 layout: `cond_stage_model.mae.…`,
 * `model.diffusion_model.…`, `first_stage_model.…`), each tensor in PyTorch layout
 * (Linear [out,in], Conv [out,in,k…]). Networks re-layout what they need once, in their `prepare*`.
 */
export type WeightMap = Readonly<Record<string, tf.Tensor>>;

export class MissingWeightError extends StudioError {
  constructor(readonly names: string[]) {
    super(
      'MissingWeightError',
      `model bundle lacks ${names.length} tensor(s): ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', …' : ''}`,
    );
  }
}

/** The tensor `name`, checked against an expected shape when one is given. */
export function getWeight(w: WeightMap, name: string, shape?: readonly number[]): tf.Tensor {
  const t = w[name];
  if (!t) throw new MissingWeightError([name]);
  if (shape && (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))) {
    throw new Error(`tensor ${name} has shape [${t.shape}] but the config needs [${shape}]`);
  }
  return t;
}
