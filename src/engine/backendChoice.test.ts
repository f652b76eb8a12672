import { describe, expect, it } from 'vitest';
import {
  choiceKey,
  decideBackend,
  fromCache,
  isSoftwareAdapter,
  MAX_CACHED,
  parsePrefs,
  withCached,
  type Candidate,
  type ProbeTiming,
} from './backendChoice';

const t = (stepMs: number, overBudget = false): ProbeTiming => ({ firstMs: stepMs * 3, stepMs, reps: overBudget ? 0 : 5, overBudget });
const wasm = (ms: number, over = false): Candidate => ({ backend: 'wasm', label: 'WebAssembly (1 thread)', timing: t(ms, over) });
const gpu = (ms: number, software: boolean, over = false): Candidate => ({
  backend: 'webgpu',
  software,
  label: software ? 'this software GPU adapter (google/swiftshader)' : 'this GPU adapter (nvidia/ampere)',
  timing: t(ms, over),
});

describe('isSoftwareAdapter', () => {
  it('recognises fallback and software adapters, not hardware ones', () => {
    expect(isSoftwareAdapter({ vendor: 'google', architecture: 'swiftshader', description: '' })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'mesa', architecture: '', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'nvidia', architecture: 'ampere', description: '', isFallbackAdapter: true })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'nvidia', architecture: 'ampere', description: 'NVIDIA GeForce RTX 3080' })).toBe(false);
    expect(isSoftwareAdapter({ vendor: 'apple', architecture: 'metal-3', description: '' })).toBe(false);
  });
});

describe('decideBackend', () => {
  it('chooses WebAssembly over a software adapter that is 40× slower, and says by how much', () => {
    const d = decideBackend([wasm(1.2), gpu(48, true)]);
    expect(d).toMatchObject({ backend: 'wasm', how: 'probe', stepMs: { wasm: 1.2, webgpu: 48 } });
    expect(d.reason).toBe(
      "WebAssembly: 40× faster than this software GPU adapter (google/swiftshader) (probe step at this model's shape: 1.20 ms against 48.0 ms)",
    );
  });

  it('chooses a software adapter when it is clearly faster', () => {
    const d = decideBackend([wasm(30), gpu(10, true)]);
    expect(d.backend).toBe('webgpu');
    expect(d.reason).toMatch(/^WebGPU: 3\.0× faster than WebAssembly \(1 thread\)/);
  });

  it('gives a tie to the default: hardware WebGPU, or WebAssembly against a software adapter', () => {
    expect(decideBackend([wasm(10), gpu(11, false)]).backend).toBe('webgpu');
    expect(decideBackend([wasm(10), gpu(11, false)]).reason).toMatch(/within 1\.25× of WebAssembly.*hardware GPU is preferred at a tie/);
    expect(decideBackend([wasm(11), gpu(10, true)]).backend).toBe('wasm');
    // Just past the margin, the faster wins against the default.
    expect(decideBackend([wasm(7.9), gpu(10, false)]).backend).toBe('wasm');
    expect(decideBackend([wasm(8.1), gpu(10, false)]).backend).toBe('webgpu');
  });

  it('treats an over-budget time as a lower bound that cannot win', () => {
    const d = decideBackend([wasm(50), gpu(5, true, true)]);
    expect(d.backend).toBe('wasm');
    const e = decideBackend([wasm(2), gpu(4000, true, true)]);
    expect(e.reason).toMatch(/^WebAssembly: more than 2000× faster .* against more than 4000 ms\)$/);
  });

  it('takes the only usable backend and says why the other is not', () => {
    const d = decideBackend([wasm(3), { backend: 'webgpu', label: 'WebGPU', problem: 'navigator.gpu is missing' }]);
    expect(d).toMatchObject({ backend: 'wasm', how: 'only' });
    expect(d.reason).toBe('WebAssembly: the only usable backend (WebGPU: navigator.gpu is missing)');
  });

  it('follows an override, and says whether the measurement agrees', () => {
    const d = decideBackend([wasm(1), gpu(40, true)], 'webgpu');
    expect(d).toMatchObject({ backend: 'webgpu', how: 'override' });
    expect(d.reason).toMatch(/^WebGPU: chosen by you; the measurement would choose otherwise \(WebAssembly: 40× faster/);
    expect(decideBackend([wasm(1), gpu(40, true)], 'wasm').reason).toMatch(/the measurement agrees/);
  });

  it('falls back to the measurement when the override is unusable, and says so', () => {
    const d = decideBackend([wasm(3), { backend: 'webgpu', label: 'WebGPU', problem: 'no adapter' }], 'webgpu');
    expect(d.backend).toBe('wasm');
    expect(d.reason).toBe('WebAssembly: your choice WebGPU is unusable (no adapter)');
  });

  it('refuses when nothing is usable', () => {
    expect(() => decideBackend([{ backend: 'wasm', label: 'WebAssembly', problem: 'wasm failed to compile' }])).toThrow(
      'no backend could be measured (WebAssembly: wasm failed to compile)',
    );
  });
});

describe('choice cache', () => {
  const adapter = { vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader', software: true };

  it('keys by adapter, software flag, wasm threads and model shape', () => {
    const k = choiceKey({ adapter, shape: 'b4-h8-c64', wasmThreads: 1 });
    expect(k).toBe('v1|google/swiftshader/SwiftShader/software|wasm1t|b4-h8-c64');
    expect(choiceKey({ adapter, shape: 'b4-h32-c192', wasmThreads: 1 })).not.toBe(k);
    expect(choiceKey({ adapter, shape: 'b4-h8-c64', wasmThreads: 2 })).not.toBe(k);
    expect(choiceKey({ shape: 'b4-h8-c64', wasmThreads: 1 })).toBe('v1|no-webgpu|wasm1t|b4-h8-c64');
  });

  it('round-trips through JSON and ignores malformed parts', () => {
    const prefs = withCached({ override: 'wasm', cache: {} }, 'k', {
      backend: 'wasm',
      reason: 'r',
      measuredAt: '2026-12-01T04:00:00.000Z',
      stepMs: { wasm: 1 },
    });
    expect(parsePrefs(JSON.stringify(prefs))).toEqual(prefs);
    expect(parsePrefs(null)).toEqual({ override: 'auto', cache: {} });
    expect(parsePrefs('{not json')).toEqual({ override: 'auto', cache: {} });
    expect(parsePrefs(JSON.stringify({ override: 'cuda', cache: { a: { backend: 'cpu', reason: 'x', measuredAt: 'y' }, b: 7 } }))).toEqual({
      override: 'auto',
      cache: {},
    });
  });

  it('keeps the newest MAX_CACHED decisions', () => {
    let prefs = parsePrefs(null);
    for (let i = 0; i < MAX_CACHED + 3; i++) {
      prefs = withCached(prefs, `k${i}`, {
        backend: 'wasm',
        reason: `r${i}`,
        measuredAt: `2026-12-01T04:${String(i).padStart(2, '0')}:00.000Z`,
      });
    }
    expect(Object.keys(prefs.cache)).toHaveLength(MAX_CACHED);
    expect(prefs.cache.k0).toBeUndefined();
    expect(prefs.cache[`k${MAX_CACHED + 2}`]?.reason).toBe(`r${MAX_CACHED + 2}`);
  });

  it('answers a cached decision only when its backend is usable now', () => {
    const prefs = withCached(parsePrefs(null), 'k', {
      backend: 'webgpu',
      reason: 'WebGPU: 3.0× faster than WebAssembly',
      measuredAt: '2026-12-01T04:05:00.000Z',
    });
    expect(fromCache(prefs, 'k', ['webgpu', 'wasm'])).toEqual({
      backend: 'webgpu',
      how: 'cache',
      reason: 'WebGPU: 3.0× faster than WebAssembly — measured 2026-12-01 04:05 UTC, cached for this adapter and model shape',
    });
    expect(fromCache(prefs, 'k', ['wasm'])).toBeUndefined();
    expect(fromCache(prefs, 'other', ['webgpu', 'wasm'])).toBeUndefined();
  });
});
