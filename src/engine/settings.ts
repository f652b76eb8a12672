// Run settings: their limits, their defaults and their validation, in one place. The studio (RunPanel,
// the store's normaliseSettings), the worker, the CLIs (decode, eval), the receipt parser, the bundle's
// config.sampling check and the pipeline all ask this module; nothing else restates a bound or a rule.
//
// The step bound is the loaded model's schedule length T (config.schedule.numTimesteps): every whole
// number of steps from 1 to T runs. Which timesteps S steps visit is the diffusion module's choice
// (src/diffusion/schedule.ts stepSpacing): the authors' uniform spacing where it is valid, diffusers'
// trailing spacing where the uniform list would reach t = T.
import { ddimTimesteps, isStepCount, isStrength, runTimesteps, stepSpacing, type StepSpacing } from '../diffusion/schedule';
import type { InitKind, SamplerName } from './types';
import { StudioError } from '../errors';

/** What one run is asked to do: the sampler settings a receipt records and the studio's form edits. */
export interface RunSettings {
  sampler: SamplerName;
  /** Requested steps S, a whole number 1..T (see stepSpacing for the timesteps they visit). */
  steps: number;
  /** DDIM noise scale in [0, 1]; 0 with PLMS. */
  eta: number;
  seed: number;
  numSamples: number;
  /** Start from noise, or from the model's low-level latent (img2img; DecodeOptions.init). */
  init: InitKind;
  /** img2img strength in (0, 1]; < 1 only with init 'lowlevel'. */
  strength: number;
  /** Classifier-free guidance scale ≥ 0; 1 = off. */
  guidance: number;
}

export const SAMPLERS: readonly SamplerName[] = ['plms', 'ddim'];
export const INITS: readonly InitKind[] = ['noise', 'lowlevel'];
/** Schedule length assumed before a model is loaded (every published LDM schedule has 1,000 steps). */
export const DEFAULT_NUM_TIMESTEPS = 1000;
/** Largest seed: seeds are 32-bit (src/diffusion/rng.ts xoshiro128**). */
export const MAX_SEED = 2 ** 32 - 1;
/** Most samples per run: each is a full latent trajectory the studio keeps for the timeline. */
export const MAX_SAMPLES = 16;
/** Largest guidance scale the studio's field offers (the engine takes any finite g ≥ 0). */
export const MAX_GUIDANCE = 20;
/** What the studio makes of a strength ≤ 0 (the engine takes any strength in (0, 1]). */
export const MIN_STUDIO_STRENGTH = 0.01;

/**
 * The defaults of the studio and both CLIs when the model carries none of its own (config.sampling, which
 * the training command chooses on validation data and which then wins for sampler, steps, init, strength
 * and guidance). DEFAULTS_REASON says why these values.
 */
export const DEFAULT_RUN_SETTINGS: Readonly<RunSettings> = Object.freeze({
  sampler: 'plms',
  steps: 50,
  eta: 0,
  seed: 0,
  numSamples: 1,
  init: 'noise',
  strength: 1,
  guidance: 1,
});

/** Why the defaults are what they are: shown next to the studio's form and in the CLIs' --help. */
export const DEFAULTS_REASON =
  "Defaults: the model's own sampler, steps, start, strength and guidance when its bundle carries them " +
  "(config.sampling, chosen on validation data when it was trained); otherwise PLMS, the sampler of the paper's code, with 50 steps, " +
  "the default of CompVis' LDM sampling scripts (the authors' configuration, Config_Generative_Model, samples with 250: " +
  'the same sampler, five times the time), eta 0, seed 0, one sample, a noise start and no guidance.';

/** A setting that cannot run, said in words: `${field} must be ${expected}`, found `found`. */
export interface SettingProblem {
  field: keyof RunSettings;
  expected: string;
  found: unknown;
}

/** Thrown by validateRunSettings; its message names the setting, what it must be and what was given. */
export class RunSettingsError extends StudioError {
  constructor(
    readonly problem: SettingProblem,
    label: string = problem.field,
  ) {
    super('RunSettingsError', problemMessage(problem, label));
  }
}

/** What a value was, for a message: 'nothing' for a missing or empty value, the value otherwise. */
export function describeFound(v: unknown): string {
  if (v === undefined || v === null || v === '') return 'nothing';
  if (typeof v === 'number') return Number.isNaN(v) ? 'not a number' : String(v);
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** "steps must be a whole number from 1 to 1000 (got 2.5)"; `label` replaces the field name (a CLI flag, a form label). */
export function problemMessage(p: SettingProblem, label: string = p.field): string {
  return `${label} must be ${p.expected} (got ${describeFound(p.found)})`;
}

const isNum = (v: unknown): v is number => typeof v === 'number' && !Number.isNaN(v);
const wholeIn = (v: unknown, lo: number, hi: number): boolean => isNum(v) && Number.isInteger(v) && v >= lo && v <= hi;

/** The steps rule: a whole number from 1 to the model's schedule length T (no upper bound known: ≥ 1). */
export function stepsProblem(steps: unknown, numTimesteps?: number): SettingProblem | undefined {
  if (isStepCount(steps, numTimesteps ?? Number.MAX_SAFE_INTEGER)) return undefined;
  const expected =
    numTimesteps === undefined
      ? 'a whole number of at least 1'
      : `a whole number from 1 to ${numTimesteps}${isNum(steps) && steps > numTimesteps ? ` (this model's schedule has ${numTimesteps} timesteps)` : ''}`;
  return { field: 'steps', expected, found: steps };
}

/** The eta rule: a number in [0, 1], and exactly 0 with PLMS (CompVis' PLMS is deterministic and refuses others). */
export function etaProblem(sampler: unknown, eta: unknown): SettingProblem | undefined {
  if (!(isNum(eta) && eta >= 0 && eta <= 1)) return { field: 'eta', expected: 'a number from 0 to 1', found: eta };
  if (sampler === 'plms' && eta !== 0) return { field: 'eta', expected: '0 with the PLMS sampler (use DDIM for eta above 0)', found: eta };
  return undefined;
}

/** init, strength and guidance: the start of a run and its guidance scale, checked against each other. */
export function modeProblems(s: { init?: unknown; strength?: unknown; guidance?: unknown }): SettingProblem[] {
  const out: SettingProblem[] = [];
  if (!INITS.includes(s.init as InitKind)) out.push({ field: 'init', expected: `one of ${INITS.join(', ')}`, found: s.init });
  if (!isStrength(s.strength)) {
    out.push({ field: 'strength', expected: 'a number above 0 and at most 1', found: s.strength });
  } else if (s.strength < 1 && s.init !== 'lowlevel') {
    out.push({
      field: 'strength',
      expected: `1 unless the run starts from the low-level latent (init lowlevel; init is ${describeFound(s.init)})`,
      found: s.strength,
    });
  }
  if (!(isNum(s.guidance) && Number.isFinite(s.guidance) && s.guidance >= 0)) {
    out.push({ field: 'guidance', expected: 'a finite number of at least 0', found: s.guidance });
  }
  return out;
}

/**
 * Every setting that cannot run, in form order (empty when all can). `numTimesteps` is the loaded model's
 * schedule length; without it the steps are only checked to be a whole number ≥ 1 (a receipt read before
 * its model is loaded).
 */
export function settingsProblems(s: Partial<Record<keyof RunSettings, unknown>>, numTimesteps?: number): SettingProblem[] {
  const out: SettingProblem[] = [];
  if (!SAMPLERS.includes(s.sampler as SamplerName))
    out.push({ field: 'sampler', expected: `one of ${SAMPLERS.join(', ')}`, found: s.sampler });
  const steps = stepsProblem(s.steps, numTimesteps);
  if (steps) out.push(steps);
  const eta = etaProblem(s.sampler, s.eta);
  if (eta) out.push(eta);
  if (!wholeIn(s.seed, 0, MAX_SEED)) out.push({ field: 'seed', expected: `a whole number from 0 to ${MAX_SEED}`, found: s.seed });
  if (!wholeIn(s.numSamples, 1, MAX_SAMPLES))
    out.push({ field: 'numSamples', expected: `a whole number from 1 to ${MAX_SAMPLES}`, found: s.numSamples });
  out.push(...modeProblems(s));
  return out;
}

/** Returns the settings when every one can run on a model of `numTimesteps` timesteps; RunSettingsError naming the first that cannot. */
export function validateRunSettings(s: unknown, numTimesteps?: number, label?: (field: keyof RunSettings) => string): RunSettings {
  const o = (typeof s === 'object' && s !== null ? s : {}) as Partial<Record<keyof RunSettings, unknown>>;
  const [first] = settingsProblems(o, numTimesteps);
  if (first) throw new RunSettingsError(first, label?.(first.field));
  return o as RunSettings;
}

/**
 * The value the studio's steps field holds, from its text: the step count, or the problem in words. An
 * empty field, 0, −1, 2.5 or more than T steps are refused here, before any run, never rounded or clamped.
 */
export function parseStepsField(
  text: string,
  numTimesteps: number,
): { steps: number; problem?: undefined } | { steps?: undefined; problem: string } {
  const trimmed = text.trim();
  if (trimmed === '') return { problem: `Enter the number of steps: a whole number from 1 to ${numTimesteps}.` };
  const n = Number(trimmed);
  const p = stepsProblem(n, numTimesteps);
  if (!p) return { steps: n };
  const why = !Number.isFinite(n)
    ? `“${trimmed}” is not a number`
    : !Number.isInteger(n)
      ? `${trimmed} is not a whole number of steps`
      : n < 1
        ? `${trimmed} steps cannot run (a run needs at least 1 step)`
        : `${n} steps are more than this model's ${numTimesteps} timesteps`;
  return { problem: `${why}: enter a whole number from 1 to ${numTimesteps}.` };
}

/** How a run's steps are spread over the schedule (stepPlan). */
export interface StepPlan {
  spacing: StepSpacing;
  /** Timesteps of the steps that run, descending. */
  timesteps: number[];
  /** Entries of the whole list before any img2img cut (uniform spacing: S = 12 → 13). */
  listLength: number;
  /** One sentence for the studio (next to the steps field) and the CLI (decode's output). */
  note: string;
}

/**
 * How S steps run on a schedule of T timesteps: the spacing, the timesteps visited in sampling order (the
 * img2img cut applied for init 'lowlevel') and the sentence that says so. Throws SamplerOptionsError for
 * steps outside 1..T or a strength outside (0, 1].
 */
export function stepPlan(steps: number, numTimesteps: number, mode: { init?: InitKind; strength?: number } = {}): StepPlan {
  const spacing = stepSpacing(steps, numTimesteps);
  const listLength = ddimTimesteps(steps, numTimesteps).length;
  const timesteps = runTimesteps(steps, numTimesteps, mode.init === 'lowlevel' ? (mode.strength ?? 1) : 1);
  const shown = timesteps.length <= 6 ? timesteps.join(', ') : `${timesteps.slice(0, 3).join(', ')}, …, ${timesteps.at(-1)}`;
  const how =
    spacing === 'uniform'
      ? `the authors' uniform spacing (every ${Math.floor(numTimesteps / steps)} timesteps from t = 1)`
      : `diffusers' trailing spacing (the authors' uniform spacing would end at t = ${numTimesteps}, past the schedule)`;
  const extra = listLength !== steps ? ` (${listLength} entries for ${steps} steps, as the authors' code runs them)` : '';
  const cut = timesteps.length !== listLength ? `, the last ${timesteps.length} of them after the low-level start` : '';
  return { spacing, timesteps, listLength, note: `${steps} steps use ${how}${extra}${cut}: t = ${shown}.` };
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

/**
 * The studio's form state made consistent after an edit or a dropped receipt: PLMS forces eta 0; init
 * 'noise' resets strength to 1; eta, guidance, seed, samples and a strength outside (0, 1] are brought into their ranges
 * (the form's number fields clamp them as browsers do). Steps are never clamped or rounded: a value that
 * cannot run stays, and the form shows why (parseStepsField / stepsProblem); only a non-number is
 * replaced by the default. Missing img2img / guidance fields (older receipts, older state) get the defaults.
 */
export function normaliseSettings(s: RunSettings): RunSettings {
  const d = DEFAULT_RUN_SETTINGS;
  const int = (v: number, lo: number, hi: number, fallback: number): number =>
    Number.isFinite(v) ? clamp(Math.round(v), lo, hi) : fallback;
  const sampler = SAMPLERS.includes(s.sampler) ? s.sampler : d.sampler;
  const init = s.init === 'lowlevel' ? 'lowlevel' : 'noise';
  return {
    sampler,
    steps: isNum(s.steps) ? s.steps : d.steps,
    eta: sampler === 'plms' ? 0 : Number.isFinite(s.eta) ? clamp(s.eta, 0, 1) : d.eta,
    seed: int(s.seed, 0, MAX_SEED, d.seed),
    numSamples: int(s.numSamples, 1, MAX_SAMPLES, d.numSamples),
    init,
    // Any valid strength stays (a CLI receipt may carry 0.001); only numbers outside (0, 1] are brought in.
    strength:
      init === 'noise'
        ? 1
        : isStrength(s.strength)
          ? s.strength
          : Number.isFinite(s.strength)
            ? clamp(s.strength, MIN_STUDIO_STRENGTH, 1)
            : d.strength,
    guidance: Number.isFinite(s.guidance) ? clamp(s.guidance, 0, MAX_GUIDANCE) : d.guidance,
  };
}
