// LDM noise schedule and the DDIM/PLMS step coefficients, with CompVis' precision choices
// (`DDPM.register_schedule`, `DDIMSampler.make_schedule`, spec §4.4 and §10).
import type { ScheduleConfig } from '../model/config';
import { errorClass } from '../errors';

export interface Schedule {
  numTimesteps: number;
  /** β_t, float64: linear in sqrt space, then squared. */
  betas: Float64Array;
  /** ᾱ_t = Π(1 − β): computed in float64, stored as float32 like the checkpoint buffer. */
  alphasCumprod: Float32Array;
}

/** Options a sampler cannot run with (bad step count, eta, missing noise source). */
export class SamplerOptionsError extends errorClass('SamplerOptionsError') {}

/** 'linear' schedule: β = linspace(√start, √end, T)², as torch.linspace in float64. */
export function makeSchedule(cfg: ScheduleConfig): Schedule {
  const n = cfg.numTimesteps;
  if (!(Number.isInteger(n) && n >= 2)) throw new SamplerOptionsError(`numTimesteps must be an integer ≥ 2 (got ${n})`);
  const a = Math.sqrt(cfg.linearStart),
    b = Math.sqrt(cfg.linearEnd);
  const step = (b - a) / (n - 1);
  const betas = new Float64Array(n);
  const alphasCumprod = new Float32Array(n);
  let prod = 1;
  for (let i = 0; i < n; i++) {
    // torch.linspace fills the second half from the end so the last value is exactly `end`.
    const s = i < n / 2 ? a + step * i : b - step * (n - 1 - i);
    betas[i] = s * s;
    prod *= 1 - betas[i];
    alphasCumprod[i] = prod;
  }
  return { numTimesteps: n, betas, alphasCumprod };
}

function rawUniform(steps: number, numTimesteps: number): number[] {
  const c = Math.floor(numTimesteps / steps);
  const out: number[] = [];
  for (let t = 0; t < numTimesteps; t += c) out.push(t + 1);
  return out;
}

/**
 * How a step count S is spread over the T training timesteps:
 * - 'uniform': the authors' discretisation (ldm `make_ddim_timesteps`, 'uniform'): range(0, T, T // S) + 1.
 *   Used whenever it is valid, so the authors' lists stay bit-identical.
 * - 'trailing': diffusers' "trailing" timestep spacing (`DDIMScheduler.set_timesteps`), for the S where
 *   the uniform list would end at t = T (past the schedule; for T = 1000: S = 3, 9, 27, 36, 37, 101–111,
 *   251–333, 501–1000). See trailingTimesteps.
 */
export type StepSpacing = 'uniform' | 'trailing';
export const STEP_SPACINGS: readonly StepSpacing[] = ['uniform', 'trailing'];

/** The step-count rule (the run settings use it too, src/engine/settings.ts): a whole number from 1 to T. */
export function isStepCount(steps: unknown, numTimesteps: number): steps is number {
  return typeof steps === 'number' && Number.isInteger(steps) && steps >= 1 && steps <= numTimesteps;
}

/** The img2img strength rule (used by the run settings too): a number in (0, 1]. */
export function isStrength(strength: unknown): strength is number {
  return typeof strength === 'number' && strength > 0 && strength <= 1;
}

function checkSteps(steps: number, numTimesteps: number): void {
  if (!isStepCount(steps, numTimesteps)) {
    throw new SamplerOptionsError(`the step count must be a whole number from 1 to ${numTimesteps} (got ${steps})`);
  }
}

/** Whether the authors' uniform list for S is valid: its last entry stays below T. */
export function uniformFits(steps: number, numTimesteps = 1000): boolean {
  checkSteps(steps, numTimesteps);
  return rawUniform(steps, numTimesteps).at(-1)! < numTimesteps;
}

/**
 * The authors' 'uniform' discretisation, ascending: range(0, T, T // S) + 1. When T is not a multiple
 * of S this has more than S entries (S = 12 → 13); callers report the real count. Throws
 * SamplerOptionsError for the S where the last entry would be T (see StepSpacing): those use
 * trailingTimesteps instead (ddimTimesteps chooses).
 */
export function uniformTimesteps(steps: number, numTimesteps = 1000): number[] {
  if (!uniformFits(steps, numTimesteps)) {
    throw new SamplerOptionsError(
      `${steps} steps cannot use the authors' uniform spacing: with a stride of ` +
        `${Math.floor(numTimesteps / steps)} its last step would be t = ${numTimesteps}, past the ${numTimesteps}-step schedule`,
    );
  }
  return rawUniform(steps, numTimesteps);
}

/**
 * diffusers' "trailing" spacing, ascending: exactly S timesteps t_i = round(T·(S − i)/S) − 1, i = 0..S−1
 * (descending from T − 1 down to round(T/S) − 1 ≥ 0, all distinct since T/S ≥ 1). Computed exactly in
 * integers, halves rounded up: diffusers computes np.round(np.arange(T, 0, −T/S)) − 1 in floating point,
 * which rounds some exact halves down and, for 62 step counts at T = 1000 (S = 61, 103, …), yields an
 * extra entry t = −1. Reference: python/cad_ref/diffusion.py `trailing_timesteps`.
 */
export function trailingTimesteps(steps: number, numTimesteps = 1000): number[] {
  checkSteps(steps, numTimesteps);
  const out: number[] = [];
  for (let i = steps - 1; i >= 0; i--) {
    out.push(Math.floor((2 * numTimesteps * (steps - i) + steps) / (2 * steps)) - 1);
  }
  return out;
}

/** The spacing S steps use: 'uniform' where valid, else 'trailing'. Throws SamplerOptionsError for S outside 1..T. */
export function stepSpacing(steps: number, numTimesteps = 1000): StepSpacing {
  return uniformFits(steps, numTimesteps) ? 'uniform' : 'trailing';
}

/** The ascending timesteps S steps visit, with the spacing chosen by stepSpacing. */
export function ddimTimesteps(steps: number, numTimesteps = 1000): number[] {
  return stepSpacing(steps, numTimesteps) === 'uniform' ? rawUniform(steps, numTimesteps) : trailingTimesteps(steps, numTimesteps);
}

/** Per-step scalars of one sampling run, in sampling order (descending t). */
export interface StepCoefficients {
  /** Timesteps in sampling order (descending). */
  timesteps: number[];
  /** ᾱ_t, ᾱ_prev (ᾱ[0] for the last step), σ, √(1 − ᾱ_t): float32 values, as the PyTorch sampler's buffers. */
  alphas: number[];
  alphasPrev: number[];
  sigmas: number[];
  sqrtOneMinusAlphas: number[];
}

/** `DDIMSampler.make_schedule` for eta: σ_i = eta·√((1 − ᾱ_prev)/(1 − ᾱ_t)·(1 − ᾱ_t/ᾱ_prev)). */
export function stepCoefficients(schedule: Schedule, steps: number, eta: number): StepCoefficients {
  if (!(Number.isFinite(eta) && eta >= 0)) throw new SamplerOptionsError(`eta must be a finite number ≥ 0 (got ${eta})`);
  const ac = schedule.alphasCumprod;
  const ascending = ddimTimesteps(steps, schedule.numTimesteps);
  const alphas = ascending.map((t) => ac[t]);
  const alphasPrev = [ac[0], ...ascending.slice(0, -1).map((t) => ac[t])];
  // CompVis: 1 − ᾱ_t is a float32 tensor op, the rest float64 numpy, then stored as float32.
  const sigmas = alphas.map((a, i) => Math.fround(eta * Math.sqrt(((1 - alphasPrev[i]) / Math.fround(1 - a)) * (1 - a / alphasPrev[i]))));
  const sqrtOneMinus = alphas.map((a) => Math.fround(Math.sqrt(Math.fround(1 - a))));
  const rev = <T>(x: T[]): T[] => x.slice().reverse();
  return {
    timesteps: rev(ascending),
    alphas: rev(alphas),
    alphasPrev: rev(alphasPrev),
    sigmas: rev(sigmas),
    sqrtOneMinusAlphas: rev(sqrtOneMinus),
  };
}

/**
 * Where an img2img run starts in the descending step list `timesteps` (sampling order): the index of the
 * step whose t is nearest to strength·T, ties to the later (smaller) t. strength ∈ (0, 1]; 1 starts at
 * the first step. Reference: python/cad_ref/diffusion.py `img2img_start` (the agreed rule is stated in t,
 * not diffusers' int(S·strength) count, which the authors' 13-entry lists for S = 12 would shift by one).
 * Throws SamplerOptionsError for a strength outside (0, 1].
 */
export function img2imgStartIndex(timesteps: readonly number[], strength: number, numTimesteps: number): number {
  if (!isStrength(strength)) {
    throw new SamplerOptionsError(`strength must be a number above 0 and at most 1 (got ${strength})`);
  }
  const target = strength * numTimesteps;
  let best = 0;
  for (let i = 1; i < timesteps.length; i++) {
    if (Math.abs(timesteps[i] - target) <= Math.abs(timesteps[best] - target)) best = i;
  }
  return best;
}

/**
 * The timesteps a run really visits, in sampling order: the list for `steps` (ddimTimesteps), from the
 * img2img start for `strength` < 1 (strength 1: the whole list). What the receipt records and the
 * timeline shows. Throws SamplerOptionsError for step counts outside 1..T or strengths outside (0, 1].
 */
export function runTimesteps(steps: number, numTimesteps: number, strength = 1): number[] {
  const descending = ddimTimesteps(steps, numTimesteps).slice().reverse();
  return descending.slice(img2imgStartIndex(descending, strength, numTimesteps));
}
