// tfjs backend selection with a reason for every fallback, and WebGPU device-loss and error notification.
// No bundler-only imports here so Node CLIs can use it; the browser sets the wasm file paths in
// src/worker/wasmPaths.ts before calling initBackend.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import type { AdapterInfo, BackendInfo, EngineError } from './protocol';
import type { BackendName } from './types';

export type { BackendInfo };

type GpuNavigator = { gpu?: GPU };

async function probeWebGpu(): Promise<{ adapter?: AdapterInfo; problem?: string }> {
  const gpu = (globalThis.navigator as GpuNavigator | undefined)?.gpu;
  if (!gpu) {
    return { problem: 'navigator.gpu is missing (this browser has no WebGPU, or the page is not a secure context)' };
  }
  const adapter = await gpu.requestAdapter();
  if (!adapter) return { problem: 'no WebGPU adapter is available (GPU blocklisted or disabled)' };
  const info = adapter.info;
  return { adapter: { vendor: info.vendor, architecture: info.architecture, description: info.description } };
}

/**
 * Activate the first backend of `prefer` that initialises. The result names the adapter for WebGPU and,
 * when a preferred backend was skipped, why (the UI shows it as a banner).
 */
export async function initBackend(prefer: BackendName[] = ['webgpu', 'wasm', 'cpu']): Promise<BackendInfo> {
  const reasons: string[] = [];
  for (const name of prefer) {
    let adapter: AdapterInfo | undefined;
    if (name === 'webgpu') {
      const probe = await probeWebGpu();
      if (probe.problem) {
        reasons.push(`webgpu: ${probe.problem}`);
        continue;
      }
      adapter = probe.adapter;
    }
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        return { backend: name, ...(adapter ? { adapter } : {}), ...(reasons.length ? { fallbackReason: reasons.join('; ') } : {}) };
      }
      reasons.push(`${name}: initialisation failed`);
    } catch (e) {
      reasons.push(`${name}: ${(e as Error).message}`);
    }
  }
  throw new Error(`no tfjs backend could be initialised (${reasons.join('; ')})`);
}

/**
 * Call `onLost` once if the active WebGPU device is lost (driver reset, GPU process crash, destroy()).
 * Returns false when the active backend is not WebGPU (nothing to watch).
 */
export function watchDeviceLost(onLost: (message: string) => void): boolean {
  const backend = tf.backend();
  if (!(backend instanceof WebGPUBackend)) return false;
  void backend.device.lost.then((info) => {
    // reason 'destroyed' with our own dispose is not a loss the user needs to hear about.
    if (tf.getBackend() !== 'webgpu') return;
    onLost(`WebGPU device lost (${info.reason}): ${info.message || 'no message'}`);
  });
  return true;
}

/**
 * A GPU error as an EngineError: out-of-memory (code 'GpuOutOfMemory') apart from validation and
 * internal errors ('GpuError'). By constructor name, as GPUOutOfMemoryError is not a global everywhere.
 */
export function gpuEngineError(error: GPUError): EngineError {
  const kind = error.constructor?.name ?? '';
  if (kind === 'GPUOutOfMemoryError') {
    return { code: 'GpuOutOfMemory', message: `the GPU ran out of memory (try fewer samples): ${error.message || 'no message'}` };
  }
  return {
    code: 'GpuError',
    message: `WebGPU ${
      kind
        .replace(/^GPU/, '')
        .replace(/Error$/, '')
        .toLowerCase() || 'unknown'
    } error: ${error.message || 'no message'}`,
    ...(kind ? { detail: kind } : {}),
  };
}

/**
 * Call `onError` for every GPU error no error scope caught (out-of-memory, validation, internal):
 * tfjs does not check them, so without this an OOM yields garbage or black images silently.
 * Returns false when the active backend is not WebGPU.
 */
export function watchGpuErrors(onError: (e: EngineError) => void): boolean {
  const backend = tf.backend();
  if (!(backend instanceof WebGPUBackend)) return false;
  backend.device.addEventListener('uncapturederror', (ev) => {
    ev.preventDefault();
    onError(gpuEngineError((ev as GPUUncapturedErrorEvent).error));
  });
  return true;
}

/**
 * Resolves once the GPU has finished all submitted work and the error events it raised have been
 * dispatched, so a caller can check for errors before trusting results. Immediate off WebGPU.
 */
export async function gpuSettled(): Promise<void> {
  const backend = tf.backend();
  if (!(backend instanceof WebGPUBackend)) return;
  await backend.device.queue.onSubmittedWorkDone();
  // uncapturederror events are queued as tasks: let them run.
  await new Promise((resolve) => setTimeout(resolve, 0));
}

/** Forget the WebGPU backend so a later initBackend starts from a fresh device. */
export function dropWebGpu(): void {
  if (!tf.findBackend('webgpu')) return;
  try {
    tf.removeBackend('webgpu');
  } catch {
    // Disposing buffers of a lost device may throw; the registry entry is gone either way.
  }
}

/** The active WebGPU device, to check later whether it was lost (undefined off WebGPU). */
export function activeGpuDevice(): GPUDevice | undefined {
  const backend = tf.backend();
  return backend instanceof WebGPUBackend ? backend.device : undefined;
}

/**
 * After an operation on `device` failed (`error`) or was cancelled: whether the device was lost, as an
 * EngineError (code 'DeviceLost') that says so. A readback of a destroyed device fails at once with
 * "Buffer was unmapped before mapping was resolved", which tells the user nothing, while `device.lost`
 * can settle seconds later (Chromium settles it once the GPU process has drained the queued work; on a
 * software adapter that is slow): so that error is a loss by itself, and otherwise `device.lost` is
 * waited on for `waitMs`. Undefined when there is no device or it is alive.
 */
export async function deviceLossError(device: GPUDevice | undefined, error?: unknown, waitMs = 500): Promise<EngineError | undefined> {
  if (!device) return undefined;
  const info = await Promise.race([device.lost, new Promise<null>((resolve) => setTimeout(() => resolve(null), waitMs))]);
  const tail = 'the run stopped, and the studio continues on WebAssembly';
  if (info) return { code: 'DeviceLost', message: `WebGPU device lost (${info.reason}): ${info.message || 'no message'}; ${tail}` };
  if (isLostReadback(error))
    return { code: 'DeviceLost', message: `WebGPU device lost (a GPU readback was aborted: ${(error as Error).message}); ${tail}` };
  return undefined;
}

/** The error a pending GPU readback gets when its device is destroyed or lost under it. */
export function isLostReadback(e: unknown): boolean {
  return (
    e instanceof Error &&
    (e.name === 'AbortError' || e.name === 'OperationError') &&
    /unmapped before mapping was resolved|device (is |was )?(lost|destroyed)/i.test(e.message)
  );
}
