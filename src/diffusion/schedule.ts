// LDM noise schedule and the DDIM/PLMS step coefficients, with CompVis' precision choices
// (`DDPM.register_schedule`, `DDIMSampler.make_schedule`, spec §4.4 and §10).
import type { ScheduleConfig } from '../model/config';

export interface Schedule {
  numTimesteps: number;
  /** β_t, float64: linear in sqrt space, then squared. */
  betas: Float64Array;
  /** ᾱ_t = Π(1 − β): computed in float64, stored as float32 like the checkpoint buffer. */
  alphasCumprod: Float32Array;
}

/** Options a sampler cannot run with (bad step count, eta, missing noise source). */
export class SamplerOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SamplerOptionsError';
  }
}

/** 'linear' schedule: β = linspace(√start, √end, T)², as torch.linspace in float64. */
export function makeSchedule(cfg: ScheduleConfig): Schedule {
  const n = cfg.numTimesteps;
  if (!(Number.isInteger(n) && n >= 2)) throw new SamplerOptionsError(`numTimesteps must be an integer ≥ 2 (got ${n})`);
  const a = Math.sqrt(cfg.linearStart), b = Math.sqrt(cfg.linearEnd);
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
 * The authors' 'uniform' discretisation, ascending: range(0, T, T // S) + 1. When T is not a multiple
 * of S this has more than S entries (S = 12 → 13); callers report the real count. When T − 1 is a
 * multiple of T // S (for T = 1000: S = 3, 9, 27, 36, 37, 101–111, 251–333, 501–1000) the last entry is T, past the
 * schedule (PyTorch raises an IndexError there): such S are refused, with the nearest counts that work.
 */
export function uniformTimesteps(steps: number, numTimesteps = 1000): number[] {
  if (!(Number.isInteger(steps) && steps >= 1 && steps <= numTimesteps)) {
    throw new SamplerOptionsError(`steps must be an integer in 1..${numTimesteps} (got ${steps})`);
  }
  const out = rawUniform(steps, numTimesteps);
  if (out[out.length - 1] >= numTimesteps) {
    const fits = (s: number) => s >= 1 && s <= numTimesteps && rawUniform(s, numTimesteps).at(-1)! < numTimesteps;
    let below = steps - 1, above = steps + 1;
    while (below >= 1 && !fits(below)) below--;
    while (above <= numTimesteps && !fits(above)) above++;
    const options = [below >= 1 ? below : null, above <= numTimesteps ? above : null].filter((v) => v !== null).join(' or ');
    throw new SamplerOptionsError(`${steps} steps are not possible with the authors' uniform spacing (range(0, ${numTimesteps}, `
      + `${numTimesteps} // ${steps}) + 1 ends at t = ${numTimesteps}, past the ${numTimesteps}-step schedule): use ${options} steps`);
  }
  return out;
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
  const ascending = uniformTimesteps(steps, schedule.numTimesteps);
  const alphas = ascending.map((t) => ac[t]);
  const alphasPrev = [ac[0], ...ascending.slice(0, -1).map((t) => ac[t])];
  // CompVis: 1 − ᾱ_t is a float32 tensor op, the rest float64 numpy, then stored as float32.
  const sigmas = alphas.map((a, i) => Math.fround(
    eta * Math.sqrt((1 - alphasPrev[i]) / Math.fround(1 - a) * (1 - a / alphasPrev[i]))));
  const sqrtOneMinus = alphas.map((a) => Math.fround(Math.sqrt(Math.fround(1 - a))));
  const rev = <T>(x: T[]): T[] => x.slice().reverse();
  return {
    timesteps: rev(ascending), alphas: rev(alphas), alphasPrev: rev(alphasPrev),
    sigmas: rev(sigmas), sqrtOneMinusAlphas: rev(sqrtOneMinus),
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
  if (!(typeof strength === 'number' && strength > 0 && strength <= 1)) {
    throw new SamplerOptionsError(`strength must be a number in (0, 1] (got ${strength})`);
  }
  const target = strength * numTimesteps;
  let best = 0;
  for (let i = 1; i < timesteps.length; i++) {
    if (Math.abs(timesteps[i] - target) <= Math.abs(timesteps[best] - target)) best = i;
  }
  return best;
}

/**
 * The timesteps a run really visits, in sampling order: the authors' uniform list for `steps`, from the
 * img2img start for `strength` < 1 (strength 1: the whole list). What the receipt records and the
 * timeline shows. Throws SamplerOptionsError for impossible step counts or strengths.
 */
export function runTimesteps(steps: number, numTimesteps: number, strength = 1): number[] {
  const descending = uniformTimesteps(steps, numTimesteps).slice().reverse();
  return descending.slice(img2imgStartIndex(descending, strength, numTimesteps));
}
