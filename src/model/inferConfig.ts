// Validation of the sampler defaults a bundle carries (config.sampling), by the run-settings rules of
// src/engine/settings.ts. Needed at load time by the studio and the CLIs, and by the converter when it writes them.
import { DEFAULT_RUN_SETTINGS, problemMessage, settingsProblems } from '../engine/settings';
import type { SamplingDefaults } from './config';
import { errorClass } from '../errors';

export class ConfigInferenceError extends errorClass('ConfigInferenceError') {}

/**
 * Validates the sampler defaults a bundle carries (config.sampling, written by the training command from its
 * validation sweep): every field present and runnable by the run-settings rules (src/engine/settings.ts),
 * steps within this schedule's `numTimesteps`; else ConfigInferenceError naming the field.
 */
export function checkSamplingDefaults(s: Partial<SamplingDefaults>, numTimesteps: number): SamplingDefaults {
  const { sampler, steps, init, strength, guidance } = s;
  // eta / seed / samples are not part of the model's defaults: the shared defaults stand in for them.
  const [bad] = settingsProblems({ ...DEFAULT_RUN_SETTINGS, sampler, steps, init, strength, guidance }, numTimesteps);
  if (bad) throw new ConfigInferenceError(`config.sampling.${problemMessage(bad)}`);
  return { sampler: sampler!, steps: steps!, init: init!, strength: strength!, guidance: guidance! };
}
