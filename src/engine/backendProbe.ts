// Measures tfjs backends for the backend choice (src/engine/backendChoice.ts): a probe step built from the
// loaded model's shape, timed on each candidate within a time budget, so the slow backend never pays the
// model's full load (on a software WebGPU adapter most of that is shader compilation for every UNet and VQ
// kernel: 24–30 s, against ~1 s for the probe's handful of kernels).
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import type { ModelConfig } from '../model/config';
import {
  choiceKey,
  decideBackend,
  fromCache,
  isSoftwareAdapter,
  type BackendDecision,
  type BackendPrefs,
  type Candidate,
  type MeasuredBackend,
  type ProbeTiming,
} from './backendChoice';

/**
 * What the probe step is built from: the UNet's latent side h = w, its first level's channels, and the batch
 * (samples × 2 with classifier-free guidance). Read from the model config.
 */
export interface ProbeShape {
  batch: number;
  latent: number;
  channels: number;
}

/** The probe shape of a model for the studio's default run (2 samples, guidance: batch 4). */
export function probeShapeOf(config: ModelConfig, batch = 4): ProbeShape {
  return { batch, latent: config.unet.imageSize, channels: config.unet.modelChannels };
}

/** The cache key's model part: every size the probe depends on. */
export function probeShapeKey(s: ProbeShape): string {
  return `b${s.batch}-h${s.latent}-c${s.channels}`;
}

/**
 * One probe step: a chain of PROBE_DEPTH fused matMul + bias + ReLU at the size of the UNet's first level
 * ([batch·h·w, channels] × [channels, channels], where most of a step's work is) and a mean to read back. Few distinct kernels on purpose:
 * on a software adapter each kernel's first compilation costs seconds, which would make the probe as
 * expensive as the model load it is meant to avoid; many small dispatches per step keep the per-dispatch
 * cost (what separates a software GPU adapter from WebAssembly) in the figure. Random weights: only the
 * time matters.
 */
function probeStep(w: ProbeWeights): tf.Scalar {
  return tf.tidy(() => {
    let x: tf.Tensor = w.x;
    for (let i = 0; i < PROBE_DEPTH; i++) x = tf.fused.matMul({ a: x as tf.Tensor2D, b: w.w, bias: w.bias, activation: 'relu' });
    return tf.mean(x) as tf.Scalar;
  });
}

/** matMuls per probe step: about one UNet level's worth of dispatches. */
const PROBE_DEPTH = 16;

interface ProbeWeights {
  x: tf.Tensor2D;
  w: tf.Tensor2D;
  bias: tf.Tensor1D;
}

function probeWeights(s: ProbeShape): ProbeWeights {
  const c = s.channels;
  return {
    x: tf.randomNormal([s.batch * s.latent * s.latent, c], 0, 1, 'float32', 1),
    w: tf.randomNormal([c, c], 0, Math.sqrt(2 / c), 'float32', 2),
    bias: tf.zeros([c]),
  };
}

/**
 * Times the probe step on the active tfjs backend: one first run (compilation, warm-up), then up to `reps`
 * runs while the total stays under `budgetMs`. A first run still going at the budget is abandoned (it
 * finishes and frees its tensors in the background) and the probe answers an over-budget lower bound, so a
 * software adapter's shader compilation never holds up the load. Units: milliseconds of wall time, read
 * back included.
 */
export async function timeProbe(
  shape: ProbeShape,
  budgetMs = 4000,
  reps = 5,
  now: () => number = () => performance.now(),
): Promise<ProbeTiming> {
  const w = probeWeights(shape);
  const free = () => {
    for (const t of Object.values(w)) (t as tf.Tensor).dispose();
  };
  const run = async (): Promise<number> => {
    const t0 = now();
    const out = probeStep(w);
    try {
      await out.data();
    } finally {
      out.dispose();
    }
    return now() - t0;
  };
  const start = now();
  const first = run();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), budgetMs);
  });
  const firstMs = await Promise.race([first, late]);
  clearTimeout(timer);
  if (firstMs === 'late') {
    void first.catch(() => undefined).finally(free);
    return { firstMs: budgetMs, stepMs: budgetMs, reps: 0, overBudget: true };
  }
  try {
    const times: number[] = [];
    while (times.length < reps && now() - start < budgetMs) times.push(await run());
    if (!times.length) return { firstMs, stepMs: firstMs, reps: 0, overBudget: true };
    times.sort((x, y) => x - y);
    return { firstMs, stepMs: times[Math.floor(times.length / 2)], reps: times.length, overBudget: false };
  } finally {
    free();
  }
}

/** What the choice needs to know about WebGPU here. */
export interface WebGpuCandidate {
  adapter?: { vendor: string; architecture: string; description: string; software: boolean };
  problem?: string;
}

type GpuAdapterWithFallback = GPUAdapter & { isFallbackAdapter?: boolean; info: GPUAdapterInfo & { isFallbackAdapter?: boolean } };

/** The WebGPU adapter (without creating a device), or why there is none. */
export async function webGpuCandidate(): Promise<WebGpuCandidate> {
  const gpu = (globalThis.navigator as { gpu?: GPU } | undefined)?.gpu;
  if (!gpu) return { problem: 'navigator.gpu is missing (no WebGPU in this browser, or not a secure context)' };
  const adapter = (await gpu.requestAdapter()) as GpuAdapterWithFallback | null;
  if (!adapter) return { problem: 'no WebGPU adapter is available (GPU blocklisted or disabled)' };
  const info = adapter.info;
  const fallback = !!(info.isFallbackAdapter ?? adapter.isFallbackAdapter);
  return {
    adapter: {
      vendor: info.vendor,
      architecture: info.architecture,
      description: info.description,
      software: isSoftwareAdapter({ ...info, isFallbackAdapter: fallback }),
    },
  };
}

/** WebAssembly threads tfjs-wasm runs with (1 when the threaded build is off or not yet initialised). */
export function wasmThreads(): number {
  try {
    return tf.findBackend('wasm') ? Math.max(1, getThreadsCount()) : 1;
  } catch {
    return 1;
  }
}

export interface ChoiceOutcome {
  decision: BackendDecision;
  key: string;
  /** Probe figures per backend measured now (empty when cached or overridden). */
  timings: Partial<Record<MeasuredBackend, ProbeTiming>>;
  adapter?: WebGpuCandidate['adapter'];
}

/**
 * Decide which backend runs a model of `shape` and activate it: the override if usable, else the cached
 * decision for this adapter and shape, else the probe on each candidate (WebAssembly first: it is cheap, and
 * bounds the budget WebGPU gets: 1.5 s, or 20 WebAssembly probe steps when that is longer; past it WebGPU is
 * at least that much slower and loses). `setBackend` switches
 * tfjs (and initialises a backend on first use); it returns a problem string when the backend cannot start.
 * `excludeWebGpu`: the device was lost in this session.
 */
export async function chooseBackend(
  shape: ProbeShape,
  prefs: BackendPrefs,
  setBackend: (b: MeasuredBackend) => Promise<string | undefined>,
  opts: { excludeWebGpu?: boolean } = {},
): Promise<ChoiceOutcome> {
  const gpu: WebGpuCandidate = opts.excludeWebGpu ? { problem: 'the WebGPU device was lost in this session' } : await webGpuCandidate();
  const wasmProblem = await setBackend('wasm');
  const key = choiceKey({ ...(gpu.adapter ? { adapter: gpu.adapter } : {}), shape: probeShapeKey(shape), wasmThreads: wasmThreads() });
  const usable: MeasuredBackend[] = [...(gpu.adapter ? ['webgpu' as const] : []), ...(wasmProblem ? [] : ['wasm' as const])];
  const cached = fromCache(prefs, key, usable);
  const finish = async (decision: BackendDecision, timings: ChoiceOutcome['timings']): Promise<ChoiceOutcome> => {
    const problem = await setBackend(decision.backend);
    if (problem) throw new Error(`${decision.backend} could not start: ${problem}`);
    return { decision, key, timings, ...(gpu.adapter ? { adapter: gpu.adapter } : {}) };
  };
  if (prefs.override !== 'auto' && usable.includes(prefs.override)) {
    const name = prefs.override === 'webgpu' ? 'WebGPU' : 'WebAssembly';
    return finish(
      {
        backend: prefs.override,
        how: 'override',
        reason: `${name}: chosen by you${cached ? ` (by measurement: ${cached.reason})` : ''}`,
        ...(cached?.stepMs ? { stepMs: cached.stepMs } : {}),
      },
      {},
    );
  }
  if (cached) return finish(cached, {});
  const timings: ChoiceOutcome['timings'] = {};
  const candidates: Candidate[] = [];
  const threads = wasmThreads();
  const wasmLabel = `WebAssembly (${threads} thread${threads === 1 ? '' : 's'})`;
  if (wasmProblem) candidates.push({ backend: 'wasm', label: wasmLabel, problem: wasmProblem });
  else {
    timings.wasm = await timeProbe(shape);
    candidates.push({ backend: 'wasm', label: wasmLabel, timing: timings.wasm });
  }
  if (gpu.adapter) {
    const label = `this ${gpu.adapter.software ? 'software ' : ''}GPU adapter (${[gpu.adapter.vendor, gpu.adapter.architecture].filter(Boolean).join('/') || 'unnamed'})`;
    const problem = await setBackend('webgpu');
    if (problem) candidates.push({ backend: 'webgpu', software: gpu.adapter.software, label, problem });
    else {
      timings.webgpu = await timeProbe(shape, Math.max(1500, 20 * (timings.wasm?.stepMs ?? 0)));
      candidates.push({ backend: 'webgpu', software: gpu.adapter.software, label, timing: timings.webgpu });
    }
  } else {
    candidates.push({ backend: 'webgpu', label: 'WebGPU', problem: gpu.problem ?? 'unavailable' });
  }
  return finish(decideBackend(candidates, prefs.override), timings);
}
