import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RUN_SETTINGS,
  DEFAULTS_REASON,
  normaliseSettings,
  parseStepsField,
  problemMessage,
  RunSettingsError,
  settingsProblems,
  stepPlan,
  validateRunSettings,
  type RunSettings,
} from './settings';
import { runTimesteps } from '../diffusion/schedule';

const ok: RunSettings = { sampler: 'ddim', steps: 12, eta: 0.5, seed: 0, numSamples: 2, init: 'noise', strength: 1, guidance: 1 };

describe('validateRunSettings', () => {
  it('accepts settings in range, up to the schedule length', () => {
    expect(validateRunSettings(ok, 1000)).toBe(ok);
    expect(() => validateRunSettings({ ...ok, steps: 50 }, 50)).not.toThrow();
    expect(() => validateRunSettings({ ...ok, steps: 1000 }, 1000)).not.toThrow();
    expect(() => validateRunSettings({ ...ok, sampler: 'plms', eta: 0 }, 1000)).not.toThrow();
    expect(() => validateRunSettings({ ...ok, init: 'lowlevel', strength: 0.3, guidance: 7 }, 1000)).not.toThrow();
  });

  it.each([
    [{ steps: 51 }, /^steps must be a whole number from 1 to 50 \(this model's schedule has 50 timesteps\) \(got 51\)$/],
    [{ steps: 0 }, /^steps must be a whole number from 1 to 50 \(got 0\)$/],
    [{ steps: -1 }, /^steps must be a whole number from 1 to 50 \(got -1\)$/],
    [{ steps: 2.5 }, /^steps must be a whole number from 1 to 50 \(got 2\.5\)$/],
    [{ steps: Number.NaN }, /^steps must be a whole number from 1 to 50 \(got not a number\)$/],
    [{ steps: undefined }, /^steps must be a whole number from 1 to 50 \(got nothing\)$/],
    [{ numSamples: 17 }, /^numSamples must be a whole number from 1 to 16 \(got 17\)$/],
    [{ seed: -1 }, /^seed must be a whole number from 0 to 4294967295 \(got -1\)$/],
    [{ eta: Number.NaN }, /^eta must be a number from 0 to 1 \(got not a number\)$/],
    [{ sampler: 'plms', eta: 0.3 }, /^eta must be 0 with the PLMS sampler \(use DDIM for eta above 0\) \(got 0\.3\)$/],
    [{ sampler: 'euler' }, /^sampler must be one of plms, ddim \(got "euler"\)$/],
    [{ init: 'pixels' }, /^init must be one of noise, lowlevel \(got "pixels"\)$/],
    [{ strength: 0 }, /^strength must be a number above 0 and at most 1 \(got 0\)$/],
    [
      { strength: 0.5 },
      /^strength must be 1 unless the run starts from the low-level latent \(init lowlevel; init is "noise"\) \(got 0\.5\)$/,
    ],
    [{ guidance: Number.POSITIVE_INFINITY }, /^guidance must be a finite number of at least 0 \(got Infinity\)$/],
    [{ guidance: -1 }, /^guidance must be a finite number of at least 0 \(got -1\)$/],
  ])('rejects %o with a message in words', (patch, message) => {
    const bad = { ...ok, ...patch } as RunSettings;
    expect(() => validateRunSettings(bad, 50)).toThrow(RunSettingsError);
    expect(() => validateRunSettings(bad, 50)).toThrow(message);
  });

  it('lists every problem in form order, names CLI flags when asked, and checks steps ≥ 1 only without a model', () => {
    const bad = { ...ok, sampler: 'plms', steps: 0, eta: 0.4, guidance: -2 } as RunSettings;
    expect(settingsProblems(bad, 1000).map((p) => p.field)).toEqual(['steps', 'eta', 'guidance']);
    expect(() => validateRunSettings(bad, 1000, (f) => `--${f}`)).toThrow(/^--steps must be a whole number from 1 to 1000 \(got 0\)$/);
    expect(settingsProblems({ ...ok, steps: 5000 })).toEqual([]);
    expect(problemMessage(settingsProblems({ ...ok, steps: 0 })[0])).toBe('steps must be a whole number of at least 1 (got 0)');
    expect(() => validateRunSettings(null, 1000)).toThrow(/^sampler must be one of plms, ddim \(got nothing\)$/);
  });
});

describe('parseStepsField (the studio field, issue 12 edges)', () => {
  it.each([[1], [2], [3], [999], [1000]])('accepts %d steps on a 1000-step schedule', (n) => {
    expect(parseStepsField(String(n), 1000)).toEqual({ steps: n });
  });

  it.each([
    ['0', /^0 steps cannot run \(a run needs at least 1 step\): enter a whole number from 1 to 1000\.$/],
    ['-1', /^-1 steps cannot run \(a run needs at least 1 step\): enter a whole number from 1 to 1000\.$/],
    ['', /^Enter the number of steps: a whole number from 1 to 1000\.$/],
    ['   ', /^Enter the number of steps/],
    ['2.5', /^2\.5 is not a whole number of steps: enter a whole number from 1 to 1000\.$/],
    ['1001', /^1001 steps are more than this model's 1000 timesteps: enter a whole number from 1 to 1000\.$/],
    ['abc', /^“abc” is not a number: enter a whole number from 1 to 1000\.$/],
  ])('refuses %j in words, never rounding or clamping it', (text, message) => {
    const r = parseStepsField(text, 1000);
    expect(r.steps).toBeUndefined();
    expect(r.problem).toMatch(message);
    expect(r.problem).not.toMatch(/\/\/|range\(|\.\.|Infinity/);
  });

  it('uses the model schedule as the bound', () => {
    expect(parseStepsField('50', 50)).toEqual({ steps: 50 });
    expect(parseStepsField('51', 50).problem).toMatch(/more than this model's 50 timesteps/);
  });
});

describe('stepPlan', () => {
  it("keeps the authors' uniform list where it is valid and says so", () => {
    const p = stepPlan(10, 1000);
    expect(p).toMatchObject({ spacing: 'uniform', listLength: 10, timesteps: [901, 801, 701, 601, 501, 401, 301, 201, 101, 1] });
    expect(p.note).toMatch(/^10 steps use the authors' uniform spacing \(every 100 timesteps from t = 1\): t = 901, 801, 701, …, 1\.$/);
    expect(stepPlan(12, 1000).note).toMatch(/13 entries for 12 steps/);
  });

  it.each([
    [3, [999, 666, 332]],
    [1000, null],
    [999, null],
  ])('uses the trailing spacing for %d steps and says why', (S, ts) => {
    const p = stepPlan(S as number, 1000);
    expect(p.spacing).toBe('trailing');
    expect(p.timesteps).toHaveLength(S as number);
    if (ts) expect(p.timesteps).toEqual(ts);
    expect(p.timesteps[0]).toBe(999);
    expect(p.note).toMatch(/diffusers' trailing spacing \(the authors' uniform spacing would end at t = 1000, past the schedule\)/);
  });

  it('applies the img2img cut to the chosen list', () => {
    const p = stepPlan(3, 1000, { init: 'lowlevel', strength: 0.5 });
    expect(p.timesteps).toEqual(runTimesteps(3, 1000, 0.5));
    expect(p.note).toMatch(/the last 2 of them after the low-level start: t = 666, 332\./);
    expect(stepPlan(3, 1000, { init: 'noise', strength: 0.5 }).timesteps).toHaveLength(3);
  });
});

describe('defaults and normaliseSettings', () => {
  it('one set of defaults that runs on the published schedule, with its reason', () => {
    expect(() => validateRunSettings({ ...DEFAULT_RUN_SETTINGS }, 1000)).not.toThrow();
    expect(DEFAULT_RUN_SETTINGS).toMatchObject({ sampler: 'plms', steps: 50, numSamples: 1 });
    expect(DEFAULTS_REASON).toMatch(/config\.sampling/);
    expect(DEFAULTS_REASON).toMatch(/PLMS.*50 steps/);
  });

  it('never clamps or rounds the steps; brings the other fields into range; PLMS forces eta 0', () => {
    expect(normaliseSettings({ ...ok, steps: 0 }).steps).toBe(0);
    expect(normaliseSettings({ ...ok, steps: 2.5 }).steps).toBe(2.5);
    expect(normaliseSettings({ ...ok, steps: Number.NaN }).steps).toBe(DEFAULT_RUN_SETTINGS.steps);
    expect(
      normaliseSettings({ sampler: 'plms', steps: 7, eta: 0.7, seed: -3.2, numSamples: 99, init: 'noise', strength: 0.4, guidance: 99 }),
    ).toEqual({ sampler: 'plms', steps: 7, eta: 0, seed: 0, numSamples: 16, init: 'noise', strength: 1, guidance: 20 });
    expect(normaliseSettings({ ...ok, init: 'lowlevel', strength: 0 }).strength).toBe(0.01);
    expect(normaliseSettings({ ...ok, init: 'lowlevel', strength: 0.001 }).strength).toBe(0.001);
  });
});

describe("a bundle's config.sampling (checkSamplingDefaults) by the same rules", () => {
  it('accepts every runnable step count up to T and names the field otherwise', async () => {
    const { checkSamplingDefaults } = await import('../model/inferConfig');
    const d = { sampler: 'ddim' as const, steps: 20, init: 'lowlevel' as const, strength: 0.7, guidance: 3.5 };
    for (const steps of [1, 3, 1000]) expect(checkSamplingDefaults({ ...d, steps }, 1000).steps).toBe(steps);
    expect(() => checkSamplingDefaults({ ...d, steps: 0 }, 1000)).toThrow(
      /config\.sampling\.steps must be a whole number from 1 to 1000 \(got 0\)/,
    );
    expect(() => checkSamplingDefaults({ ...d, steps: 60 }, 50)).toThrow(/config\.sampling\.steps must be a whole number from 1 to 50/);
    expect(() => checkSamplingDefaults({ ...d, guidance: undefined }, 1000)).toThrow(
      /config\.sampling\.guidance must be a finite number of at least 0 \(got nothing\)/,
    );
  });
});
