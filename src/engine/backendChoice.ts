// Which tfjs backend runs the model, decided by measurement: pure functions (timings in, choice and reason
// out) and the per-adapter, per-model-shape cache. No tfjs here: src/engine/backendProbe.ts measures, the
// worker and the CLIs call both. Why: a software WebGPU adapter (SwiftShader, llvmpipe) is often tens of
// times slower than WebAssembly, so "WebGPU first" is the wrong default there, while a hardware GPU is
// usually faster; only a measurement tells them apart.
import type { BackendName } from './types';

/** Backends the studio chooses between ('cpu' is a last resort, never measured). */
export type MeasuredBackend = 'webgpu' | 'wasm';
/** What the user asked for: 'auto' = by measurement. */
export type BackendOverride = 'auto' | MeasuredBackend;

/** The probe's figures on one backend (src/engine/backendProbe.ts). Milliseconds. */
export interface ProbeTiming {
  /** First run, including shader compilation / wasm warm-up. */
  firstMs: number;
  /** Median of the timed runs after the first: the per-step cost. */
  stepMs: number;
  /** Timed runs after the first (0 when the first run used up the budget). */
  reps: number;
  /** The budget ran out: stepMs is a lower bound (the backend is at least this slow). */
  overBudget: boolean;
}

export interface Candidate {
  backend: MeasuredBackend;
  /** A WebGPU adapter that reports itself as fallback/software (isFallbackAdapter, SwiftShader, llvmpipe…). */
  software?: boolean;
  /** Shown in reasons: "this software GPU adapter (google/swiftshader)", "WebAssembly (4 threads)". */
  label: string;
  timing?: ProbeTiming;
  /** Why this backend cannot be used (no adapter, initialisation failed); then it has no timing. */
  problem?: string;
}

export type ChoiceHow = 'probe' | 'cache' | 'override' | 'only';

export interface BackendDecision {
  backend: MeasuredBackend;
  how: ChoiceHow;
  /** One sentence for the header: "WebAssembly: 40× faster than this software GPU adapter (…)". */
  reason: string;
  /** Probe step time per measured backend, ms (absent with 'only' and when read from an old cache). */
  stepMs?: Partial<Record<MeasuredBackend, number>>;
}

/** A candidate must beat the default by this factor to be chosen over it: a tie goes to the default. */
export const CHOICE_MARGIN = 1.25;

const NAMES: Record<MeasuredBackend, string> = { webgpu: 'WebGPU', wasm: 'WebAssembly' };

/** Adapter strings that mean a CPU implementation of WebGPU. */
const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|softpipe|software|microsoft basic render|\bwarp\b/i;

/** Whether an adapter is a software/fallback one, from what it reports (spec: isFallbackAdapter; else its strings). */
export function isSoftwareAdapter(a: {
  vendor?: string;
  architecture?: string;
  description?: string;
  device?: string;
  isFallbackAdapter?: boolean;
}): boolean {
  if (a.isFallbackAdapter) return true;
  return SOFTWARE_ADAPTER.test([a.vendor, a.architecture, a.description, a.device].filter(Boolean).join(' '));
}

function fmtMs(ms: number): string {
  return ms >= 100 ? `${Math.round(ms)} ms` : ms >= 10 ? `${ms.toFixed(1)} ms` : `${ms.toFixed(2)} ms`;
}

function fmtRatio(r: number): string {
  return r >= 10 ? `${Math.round(r)}×` : `${r.toFixed(1)}×`;
}

/**
 * The backend to run, and why. Timings in (one probe per usable candidate), choice and reason out.
 *
 * Rules: an override wins when that backend is usable; one usable candidate is taken; otherwise the faster
 * by probe step time, where the *default* (a hardware WebGPU adapter; WebAssembly when the adapter is
 * software) wins unless the other is faster by CHOICE_MARGIN. An over-budget timing is a lower bound, so
 * it can only lose. Throws when no candidate is usable.
 */
export function decideBackend(candidates: Candidate[], override: BackendOverride = 'auto'): BackendDecision {
  const usable = candidates.filter((c) => !c.problem && c.timing);
  const unusable = candidates.filter((c) => c.problem);
  const why = unusable.map((c) => `${NAMES[c.backend]}: ${c.problem}`).join('; ');
  if (!usable.length) throw new Error(`no backend could be measured (${why || 'no candidates'})`);
  const stepMs = Object.fromEntries(usable.map((c) => [c.backend, c.timing!.stepMs])) as Partial<Record<MeasuredBackend, number>>;
  const auto = decideByTiming(usable, stepMs, why);
  if (override !== 'auto') {
    const asked = usable.find((c) => c.backend === override);
    if (asked) {
      const agree = asked.backend === auto.backend ? 'the measurement agrees' : 'the measurement would choose otherwise';
      return {
        backend: asked.backend,
        how: 'override',
        reason: `${NAMES[asked.backend]}: chosen by you; ${agree} (${auto.reason})`,
        stepMs,
      };
    }
    const problem = candidates.find((c) => c.backend === override)?.problem ?? 'not available here';
    const rest = auto.how === 'only' ? '' : `; by measurement: ${auto.reason}`;
    return { ...auto, reason: `${NAMES[auto.backend]}: your choice ${NAMES[override]} is unusable (${problem})${rest}` };
  }
  return auto;
}

function decideByTiming(usable: Candidate[], stepMs: Partial<Record<MeasuredBackend, number>>, why: string): BackendDecision {
  if (usable.length === 1) {
    const only = usable[0];
    return {
      backend: only.backend,
      how: 'only',
      reason: `${NAMES[only.backend]}: the only usable backend${why ? ` (${why})` : ''}`,
      stepMs,
    };
  }
  const gpu = usable.find((c) => c.backend === 'webgpu');
  const wasm = usable.find((c) => c.backend === 'wasm');
  if (!gpu || !wasm) throw new Error(`unexpected candidates: ${usable.map((c) => c.backend).join(', ')}`);
  const def = gpu.software ? wasm : gpu;
  const other = def === gpu ? wasm : gpu;
  const tDef = def.timing!,
    tOther = other.timing!;
  // An over-budget time is only a lower bound: that backend cannot be shown faster.
  const otherWins = !tOther.overBudget && tOther.stepMs * CHOICE_MARGIN < tDef.stepMs;
  const winner = otherWins ? other : def;
  const loser = otherWins ? def : other;
  const tw = winner.timing!,
    tl = loser.timing!;
  const ratio = tl.stepMs / Math.max(tw.stepMs, 1e-3);
  const figures = `probe step at this model's shape: ${fmtMs(tw.stepMs)} against ${tl.overBudget ? 'more than ' : ''}${fmtMs(tl.stepMs)}`;
  if (ratio >= CHOICE_MARGIN) {
    return {
      backend: winner.backend,
      how: 'probe',
      reason: `${NAMES[winner.backend]}: ${tl.overBudget ? 'more than ' : ''}${fmtRatio(ratio)} faster than ${loser.label} (${figures})`,
      stepMs,
    };
  }
  const tie = def === gpu ? 'a hardware GPU is preferred at a tie' : 'a software GPU adapter is not preferred at a tie';
  return {
    backend: winner.backend,
    how: 'probe',
    reason: `${NAMES[winner.backend]}: within ${CHOICE_MARGIN}× of ${loser.label}, and ${tie} (${figures})`,
    stepMs,
  };
}

// ---- cache ------------------------------------------------------------------------------------------

/** What identifies a decision: the adapter (or its absence) and the model's shape. */
export interface ChoiceKeyParts {
  adapter?: { vendor: string; architecture: string; description: string; software: boolean };
  /** src/engine/backendProbe.ts probeShapeKey(config). */
  shape: string;
  /** WebAssembly threads: a different thread count is a different contest. */
  wasmThreads: number;
}

/** Bumped when the probe or the rule changes, so decisions measured by an older one are not reused. */
export const CHOICE_VERSION = 1;

export function choiceKey(p: ChoiceKeyParts): string {
  const a = p.adapter
    ? `${p.adapter.vendor}/${p.adapter.architecture}/${p.adapter.description}${p.adapter.software ? '/software' : ''}`
    : 'no-webgpu';
  return `v${CHOICE_VERSION}|${a}|wasm${p.wasmThreads}t|${p.shape}`;
}

export interface CachedChoice {
  backend: MeasuredBackend;
  reason: string;
  stepMs?: Partial<Record<MeasuredBackend, number>>;
  /** ISO time of the measurement. */
  measuredAt: string;
}

/** Decisions by choiceKey; the user's override, which applies to every key. Stored as JSON in localStorage. */
export interface BackendPrefs {
  override: BackendOverride;
  cache: Record<string, CachedChoice>;
}

export const PREFS_STORAGE_KEY = 'decoding-studio.backend';
/** Oldest decisions are dropped beyond this many (each adapter × model shape is one). */
export const MAX_CACHED = 16;

/** Parse stored prefs; anything malformed is ignored field by field (a bad cache must never block the studio). */
export function parsePrefs(text: string | null | undefined): BackendPrefs {
  const prefs: BackendPrefs = { override: 'auto', cache: {} };
  if (!text) return prefs;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return prefs;
  }
  if (!raw || typeof raw !== 'object') return prefs;
  const r = raw as { override?: unknown; cache?: unknown };
  if (r.override === 'webgpu' || r.override === 'wasm' || r.override === 'auto') prefs.override = r.override;
  if (r.cache && typeof r.cache === 'object') {
    for (const [k, v] of Object.entries(r.cache as Record<string, unknown>)) {
      const c = v as Partial<CachedChoice> | null;
      if (c && (c.backend === 'webgpu' || c.backend === 'wasm') && typeof c.reason === 'string' && typeof c.measuredAt === 'string') {
        prefs.cache[k] = {
          backend: c.backend,
          reason: c.reason,
          measuredAt: c.measuredAt,
          ...(c.stepMs && typeof c.stepMs === 'object' ? { stepMs: c.stepMs } : {}),
        };
      }
    }
  }
  return prefs;
}

/** prefs with `choice` stored under `key` (the oldest entries dropped beyond MAX_CACHED). Pure. */
export function withCached(prefs: BackendPrefs, key: string, choice: CachedChoice): BackendPrefs {
  const entries = Object.entries(prefs.cache).filter(([k]) => k !== key);
  entries.push([key, choice]);
  entries.sort((a, b) => a[1].measuredAt.localeCompare(b[1].measuredAt));
  return { ...prefs, cache: Object.fromEntries(entries.slice(-MAX_CACHED)) };
}

/** The cached decision for `key` when its backend is usable now, as a decision that says it was cached. */
export function fromCache(prefs: BackendPrefs, key: string, usable: MeasuredBackend[]): BackendDecision | undefined {
  const c = prefs.cache[key];
  if (!c || !usable.includes(c.backend)) return undefined;
  return {
    backend: c.backend,
    how: 'cache',
    reason: `${c.reason} — measured ${c.measuredAt.slice(0, 16).replace('T', ' ')} UTC, cached for this adapter and model shape`,
    ...(c.stepMs ? { stepMs: c.stepMs } : {}),
  };
}

export function backendLabel(b: BackendName): string {
  return b === 'webgpu' ? 'WebGPU' : b === 'wasm' ? 'WebAssembly' : 'CPU';
}
