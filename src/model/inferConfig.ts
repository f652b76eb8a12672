// Validation of the sampler defaults a bundle carries (config.sampling). Needed at load time by the studio and
// the CLIs, and by the converter when it writes them.
import type { SamplingDefaults } from './config';

export class ConfigInferenceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigInferenceError';
  }
}

/**
 * Validates the sampler defaults a bundle carries (config.sampling, written by the training command from its
 * validation sweep): every field present and in range, else ConfigInferenceError naming the field.
 */
export function checkSamplingDefaults(s: Partial<SamplingDefaults>, numTimesteps: number): SamplingDefaults {
  const bad = (what: string): never => { throw new ConfigInferenceError(`config.sampling.${what}`); };
  if (s.sampler !== 'plms' && s.sampler !== 'ddim') bad(`sampler must be plms or ddim (got ${String(s.sampler)})`);
  if (!(Number.isInteger(s.steps) && s.steps! >= 1 && s.steps! < numTimesteps)) bad(`steps must be an integer in 1..${numTimesteps - 1} (got ${String(s.steps)})`);
  if (s.init !== 'noise' && s.init !== 'lowlevel') bad(`init must be noise or lowlevel (got ${String(s.init)})`);
  if (!(typeof s.strength === 'number' && s.strength > 0 && s.strength <= 1)) bad(`strength must be in (0, 1] (got ${String(s.strength)})`);
  if (s.init === 'noise' && s.strength !== 1) bad(`strength must be 1 with init noise (got ${String(s.strength)})`);
  if (!(typeof s.guidance === 'number' && Number.isFinite(s.guidance) && s.guidance >= 0)) bad(`guidance must be a finite number ≥ 0 (got ${String(s.guidance)})`);
  return { sampler: s.sampler!, steps: s.steps!, init: s.init!, strength: s.strength!, guidance: s.guidance! };
}
