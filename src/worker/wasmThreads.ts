// WebAssembly threads in the engine worker (issue 12): the plan of src/engine/wasmThreads.ts applied to
// tfjs-wasm. tfjs registers its 'wasm' backend on import; it is registered again here under a factory that
// starts the threaded build when the plan says so and falls back to the single-threaded SIMD build when its
// threads cannot start, so a failing thread never takes the engine down. Both are tfjs's own factory: it
// reads WASM_HAS_MULTITHREAD_SUPPORT when it runs (tf.setBackend('wasm'), i.e. the first use).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import {
  planWasmThreads,
  startWithFallback,
  type WasmThreadsEmulation,
  type WasmThreadsPlan,
  type WasmThreadsPref,
} from '../engine/wasmThreads';
import { failPthreadsForTest } from './wasmThreadedFactory';

/** tfjs-backend-wasm's registration priority (dist/base.js). */
const WASM_PRIORITY = 2;
/** Loading 8 pthread workers takes well under a second on a 2-core machine; give a busy one far more. */
const THREAD_START_TIMEOUT_MS = 30_000;

const tfjsFactory = tf.findBackendFactory('wasm');
let plan: WasmThreadsPlan | null = null;
let fellBack: string | undefined;

function setThreadedBuild(on: boolean): void {
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', on);
}

/**
 * The pthread workers' errors as the engine worker sees them, each twice: emscripten's onerror handler rethrows
 * the worker's ErrorEvent (an uncaught error whose value is that ErrorEvent), and having not cancelled it, the
 * worker's error itself arrives as an uncaught error of this scope (its file a blob: URL, the pthread script;
 * the engine's own scripts are not blobs). While the threads start, both are taken (not passed to the page,
 * where an uncaught worker error means the engine crashed) and reported.
 */
function onThreadError(report: (message: string) => void): () => void {
  const listener = (ev: ErrorEvent) => {
    const rethrown = ev.error instanceof ErrorEvent;
    if (!rethrown && !ev.filename?.startsWith('blob:')) return;
    ev.preventDefault();
    report((rethrown ? (ev.error as ErrorEvent).message : ev.message) || 'a thread failed');
  };
  self.addEventListener('error', listener);
  return () => self.removeEventListener('error', listener);
}

async function startWasm(): Promise<tf.KernelBackend> {
  const p = plan ?? configureWasmThreads('auto');
  if (!p.threaded) return tfjsFactory();
  const out = await startWithFallback({
    threaded: async () => tfjsFactory(),
    single: async () => {
      setThreadedBuild(false);
      return tfjsFactory();
    },
    onThreadError,
    timeoutMs: THREAD_START_TIMEOUT_MS,
  });
  fellBack = out.fellBack;
  return out.backend;
}

tf.removeBackend('wasm');
tf.registerBackend('wasm', startWasm, WASM_PRIORITY);

/**
 * Decide threads or not before tfjs-wasm first starts (later calls change nothing once it has). `emulate` (e2e
 * only): `cores` makes this worker report that many logical cores, as a machine with them would (tfjs-wasm reads
 * navigator.hardwareConcurrency when its module starts); `threadsFail` breaks the pthread workers' script.
 */
export function configureWasmThreads(pref: WasmThreadsPref, emulate: WasmThreadsEmulation = {}): WasmThreadsPlan {
  if (emulate.cores) Object.defineProperty(self.navigator, 'hardwareConcurrency', { value: emulate.cores, configurable: true });
  if (emulate.threadsFail) failPthreadsForTest();
  plan = planWasmThreads({ isolated: self.crossOriginIsolated === true, logicalCores: self.navigator.hardwareConcurrency || 1, pref });
  setThreadedBuild(plan.threaded);
  return plan;
}

/** Why WebAssembly runs with the threads it has (the fallback's reason when threads failed to start). */
export function wasmThreadsNote(): string | undefined {
  return fellBack ?? plan?.reason;
}
