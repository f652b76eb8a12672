import { describe, expect, it } from 'vitest';
import type { RunSettings } from '../engine/protocol';
import { RunSettingsError, validateRunSettings } from './runSettings';

const ok: RunSettings = { sampler: 'ddim', steps: 12, eta: 0.5, seed: 0, numSamples: 2, init: 'noise', strength: 1, guidance: 1 };

describe('validateRunSettings', () => {
  it('accepts settings in range, up to the schedule length', () => {
    expect(() => validateRunSettings(ok, 1000)).not.toThrow();
    expect(() => validateRunSettings({ ...ok, steps: 50 }, 50)).not.toThrow();
  });

  it.each([
    [{ steps: 51 }, /steps must be an integer in 1\.\.50 \(got 51\)/],
    [{ steps: 0 }, /steps .* \(got 0\)/],
    [{ steps: 2.5 }, /steps .* \(got 2\.5\)/],
    [{ numSamples: 17 }, /numSamples must be an integer in 1\.\.16 \(got 17\)/],
    [{ seed: -1 }, /seed .* \(got -1\)/],
    [{ eta: Number.NaN }, /eta must be in 0\.\.1 \(got NaN\)/],
    [{ sampler: 'euler' }, /sampler must be plms or ddim \(got euler\)/],
    [{ init: 'pixels' }, /init must be noise or lowlevel \(got pixels\)/],
    [{ strength: 0 }, /strength must be in \(0, 1\] \(got 0\)/],
    [{ strength: 0.5 }, /strength 0.5 < 1 needs init lowlevel \(got init noise\)/],
    [{ guidance: Number.POSITIVE_INFINITY }, /guidance must be a finite number ≥ 0 \(got Infinity\)/],
    [{ guidance: -1 }, /guidance must be a finite number ≥ 0 \(got -1\)/],
  ])('rejects %o', (patch, message) => {
    const bad = { ...ok, ...patch } as RunSettings;
    expect(() => validateRunSettings(bad, 50)).toThrow(RunSettingsError);
    expect(() => validateRunSettings(bad, 50)).toThrow(message);
  });
});
