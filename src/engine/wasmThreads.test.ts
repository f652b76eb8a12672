import { describe, expect, it, vi } from 'vitest';
import { planWasmThreads, startWithFallback, tfjsWasmThreads } from './wasmThreads';

describe('tfjsWasmThreads', () => {
  it("is tfjs-wasm's count: half the logical cores, 1 to 8", () => {
    expect([1, 2, 3, 4, 5, 8, 16, 32].map(tfjsWasmThreads)).toEqual([1, 1, 1, 2, 2, 4, 8, 8]);
  });
});

describe('planWasmThreads', () => {
  it('uses threads when isolated and tfjs-wasm would start more than one', () => {
    expect(planWasmThreads({ isolated: true, logicalCores: 8, pref: 'auto' })).toMatchObject({ threaded: true, threads: 4 });
  });
  it('stays single-threaded, saying why, where the threaded build would run 1 thread', () => {
    const p = planWasmThreads({ isolated: true, logicalCores: 2, pref: 'auto' });
    expect(p).toMatchObject({ threaded: false, threads: 1 });
    expect(p.reason).toMatch(/2 logical cores.*1 thread/);
  });
  it("'on' takes the threaded build even for 1 thread; 'off' never", () => {
    expect(planWasmThreads({ isolated: true, logicalCores: 2, pref: 'on' })).toMatchObject({ threaded: true, threads: 1 });
    const off = planWasmThreads({ isolated: true, logicalCores: 16, pref: 'off' });
    expect(off).toMatchObject({ threaded: false, threads: 1 });
    expect(off.reason).toContain('?wasmThreads=off');
  });
  it('has no threads without cross-origin isolation, whatever is asked', () => {
    for (const pref of ['auto', 'on'] as const) {
      const p = planWasmThreads({ isolated: false, logicalCores: 16, pref });
      expect(p.threaded).toBe(false);
      expect(p.reason).toMatch(/not cross-origin isolated/);
    }
  });
});

/** Thread errors raised by the test; `removed` once the callback is unregistered. */
function errorSource() {
  let report: ((message: string) => void) | null = null;
  const src = {
    removed: false,
    fire: (message: string) => report?.(message),
    onThreadError: (r: (message: string) => void) => {
      report = r;
      return () => {
        src.removed = true;
        report = null;
      };
    },
  };
  return src;
}

describe('startWithFallback', () => {
  it('returns the threaded backend when it starts, and stops listening', async () => {
    const errors = errorSource();
    const single = vi.fn(async () => 'single');
    const out = await startWithFallback({ threaded: async () => 'threaded', single, onThreadError: errors.onThreadError, timeoutMs: 1000 });
    expect(out).toEqual({ backend: 'threaded' });
    expect(single).not.toHaveBeenCalled();
    expect(errors.removed).toBe(true);
  });

  it('falls back when a thread reports an error while the threaded start hangs, and keeps taking their errors', async () => {
    const errors = errorSource();
    const out = startWithFallback({
      threaded: () => new Promise<string>(() => {}),
      single: async () => 'single',
      onThreadError: errors.onThreadError,
      timeoutMs: 60_000,
    });
    errors.fire('Uncaught ReferenceError: e is not defined');
    await expect(out).resolves.toEqual({
      backend: 'single',
      fellBack: 'WebAssembly threads could not start (Uncaught ReferenceError: e is not defined); running single-threaded',
    });
    expect(errors.removed).toBe(false);
  });

  it('falls back when the threaded start fails or never settles', async () => {
    const failed = await startWithFallback({
      threaded: async () => {
        throw new Error('no shared memory');
      },
      single: async () => 'single',
      onThreadError: errorSource().onThreadError,
      timeoutMs: 60_000,
    });
    expect(failed.fellBack).toContain('(no shared memory)');
    vi.useFakeTimers();
    try {
      const hung = startWithFallback({
        threaded: () => new Promise<string>(() => {}),
        single: async () => 'single',
        onThreadError: errorSource().onThreadError,
        timeoutMs: 30_000,
      });
      await vi.advanceTimersByTimeAsync(30_000);
      await expect(hung).resolves.toMatchObject({ backend: 'single', fellBack: expect.stringContaining('not started after 30 s') });
    } finally {
      vi.useRealTimers();
    }
  });
});
