// Whether the studio runs tfjs-wasm's threaded build, and what happens when its threads cannot start
// (issue 12). Pure: no tfjs, no workers; src/worker/wasmThreads.ts applies it in the engine worker.

/**
 * The URL's ?wasmThreads: 'auto' (default), threads where they can help; 'on', the threaded build whenever the page
 * is isolated, even for 1 thread; 'off', the single-threaded SIMD build.
 */
export type WasmThreadsPref = 'auto' | 'on' | 'off';

/** e2e only (?testHooks=1): what a machine or a failure would do, so its path can be tested here. */
export interface WasmThreadsEmulation {
  /** ?cores=N: the logical cores the engine worker reports (navigator.hardwareConcurrency), as on a machine with N. */
  cores?: number;
  /** ?threadsFail=1: the pthread workers' script throws as it loads, as the minified one did before the fix. */
  threadsFail?: boolean;
}

export interface WasmThreadsPlan {
  threaded: boolean;
  /** XNNPACK threads expected (the backend reports the actual count once started). */
  threads: number;
  /** Why, in words (shown next to the backend). */
  reason: string;
}

/**
 * The XNNPACK thread count tfjs-wasm 4.22 starts for `logicalCores` (navigator.hardwareConcurrency): half
 * of them, 1 to 8 (tfjs-backend-wasm src/cc/backend.cc, init_with_threads_count; setThreadsCount cannot
 * raise it above that). Its reasoning: many x86-64 processors run 2 hardware threads per core.
 */
export function tfjsWasmThreads(logicalCores: number): number {
  return Math.min(8, Math.max(1, Math.floor(logicalCores / 2)));
}

/**
 * Threads when the page is cross-origin isolated (SharedArrayBuffer) and tfjs-wasm would start more than one.
 * With one thread the threaded build brings nothing (measured on a 2-core machine: the same ms per step as the
 * single-threaded SIMD build, within the noise; README, "WebAssembly threads") and costs a pool of 8 idle
 * pthread workers and shared memory.
 */
export function planWasmThreads(env: { isolated: boolean; logicalCores: number; pref: WasmThreadsPref }): WasmThreadsPlan {
  const single = (reason: string): WasmThreadsPlan => ({ threaded: false, threads: 1, reason });
  if (env.pref === 'off') return single('single-threaded: WebAssembly threads are off (?wasmThreads=off)');
  if (!env.isolated) return single('single-threaded: the page is not cross-origin isolated, so WebAssembly threads are unavailable');
  const threads = tfjsWasmThreads(env.logicalCores);
  if (threads < 2 && env.pref === 'auto') {
    return single(
      `single-threaded: this browser reports ${env.logicalCores} logical core${env.logicalCores === 1 ? '' : 's'}, and tfjs-wasm runs half as many threads, so its threaded build would run 1 thread, no faster than the single-threaded build`,
    );
  }
  return {
    threaded: true,
    threads,
    reason: `${threads} thread${threads === 1 ? '' : 's'}: tfjs-wasm runs half of the ${env.logicalCores} logical core${env.logicalCores === 1 ? '' : 's'}${env.pref === 'on' ? ' (threaded build by ?wasmThreads=on)' : ''}`,
  };
}

/**
 * Start the threaded backend, or else the single-threaded one: `threaded()` fails, or a thread reports an
 * error (`errors`, the pthread workers' error events as the engine worker sees them), or nothing has
 * settled after `timeoutMs` (a thread that never loads leaves tfjs waiting forever). The result says why
 * threads were given up; the failure never escapes (the engine keeps running). After a fallback the error
 * callback stays registered: the abandoned threads may still report, and nothing of theirs is used.
 */
export async function startWithFallback<T>(opts: {
  threaded: () => Promise<T>;
  single: () => Promise<T>;
  /** Called with a callback for thread errors; returns its removal. */
  onThreadError: (report: (message: string) => void) => () => void;
  timeoutMs: number;
}): Promise<{ backend: T; fellBack?: string }> {
  let stop = (): void => {};
  let timer: ReturnType<typeof setTimeout> | undefined;
  let fellBack = false;
  const failure = new Promise<never>((_, reject) => {
    stop = opts.onThreadError((message) => reject(new Error(message)));
    timer = setTimeout(() => reject(new Error(`the threads had not started after ${Math.round(opts.timeoutMs / 1000)} s`)), opts.timeoutMs);
  });
  try {
    return { backend: await Promise.race([opts.threaded(), failure]) };
  } catch (e) {
    fellBack = true;
    return {
      backend: await opts.single(),
      fellBack: `WebAssembly threads could not start (${(e as Error).message}); running single-threaded`,
    };
  } finally {
    if (!fellBack) stop();
    clearTimeout(timer);
  }
}
