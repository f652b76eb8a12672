// Checks run settings in the worker before any run state exists: settings from a message are untrusted
// (the UI clamps them, a receipt or a stale page may not), and a bad value must not leave a half-started run.
import type { RunSettings } from '../engine/protocol';
import { MAX_SAMPLES, MAX_SEED } from '../engine/receipt';

export class RunSettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidSettings';
  }
}

function int(name: string, v: unknown, lo: number, hi: number): void {
  if (!(typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi)) {
    throw new RunSettingsError(`${name} must be an integer in ${lo}..${hi} (got ${String(v)})`);
  }
}

/** Throws RunSettingsError naming the first setting out of range; `numTimesteps` is the model's schedule length. */
export function validateRunSettings(s: RunSettings, numTimesteps: number): void {
  if (s.sampler !== 'plms' && s.sampler !== 'ddim') throw new RunSettingsError(`sampler must be plms or ddim (got ${String(s.sampler)})`);
  int('steps', s.steps, 1, numTimesteps);
  int('numSamples', s.numSamples, 1, MAX_SAMPLES);
  int('seed', s.seed, 0, MAX_SEED);
  if (!(typeof s.eta === 'number' && s.eta >= 0 && s.eta <= 1)) throw new RunSettingsError(`eta must be in 0..1 (got ${String(s.eta)})`);
  if (s.init !== 'noise' && s.init !== 'lowlevel') throw new RunSettingsError(`init must be noise or lowlevel (got ${String(s.init)})`);
  if (!(typeof s.strength === 'number' && s.strength > 0 && s.strength <= 1)) {
    throw new RunSettingsError(`strength must be in (0, 1] (got ${String(s.strength)})`);
  }
  if (s.strength < 1 && s.init !== 'lowlevel') throw new RunSettingsError(`strength ${s.strength} < 1 needs init lowlevel (got init ${s.init})`);
  if (!(typeof s.guidance === 'number' && Number.isFinite(s.guidance) && s.guidance >= 0)) {
    throw new RunSettingsError(`guidance must be a finite number ≥ 0 (got ${String(s.guidance)})`);
  }
}
