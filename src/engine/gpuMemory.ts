// Memory as tfjs counts it (issue 15's page benchmark): tensors and their bytes, and on WebGPU the bytes of the
// buffers in use and allocated, with their peaks since the tracker was installed on the backend. tfjs keeps the
// buffers of disposed tensors for reuse, so "allocated" (in use + kept for reuse) is what the device holds.
import * as tf from '@tensorflow/tfjs-core';
import type { MemoryReport } from './protocol';

interface BufferManagerLike {
  numBytesUsed: number;
  numBytesAllocated: number;
  acquireBuffer(...args: unknown[]): unknown;
}

const peaks = new WeakMap<object, { used: number; allocated: number }>();

function bufferManager(): BufferManagerLike | undefined {
  if (tf.getBackend() !== 'webgpu') return undefined;
  const bm = (tf.backend() as unknown as { bufferManager?: BufferManagerLike }).bufferManager;
  return bm && typeof bm.acquireBuffer === 'function' && typeof bm.numBytesUsed === 'number' ? bm : undefined;
}

/** Starts tracking the peak GPU bytes of the active WebGPU backend (once per backend; elsewhere nothing). */
export function trackGpuPeak(): void {
  const bm = bufferManager();
  if (!bm || peaks.has(bm)) return;
  const peak = { used: bm.numBytesUsed, allocated: bm.numBytesAllocated };
  peaks.set(bm, peak);
  const acquire = bm.acquireBuffer.bind(bm);
  bm.acquireBuffer = (...args: unknown[]) => {
    const buffer = acquire(...args);
    peak.used = Math.max(peak.used, bm.numBytesUsed);
    peak.allocated = Math.max(peak.allocated, bm.numBytesAllocated);
    return buffer;
  };
}

/** tf.memory() of the active backend, with the WebGPU peaks when trackGpuPeak was called on it. */
export function memoryReport(): MemoryReport {
  const m = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number; numBytesAllocatedInGPU?: number };
  const bm = bufferManager();
  const peak = bm && peaks.get(bm);
  return {
    backend: tf.getBackend(),
    numTensors: m.numTensors,
    numBytes: m.numBytes,
    ...(bm ? { gpuBytesInUse: bm.numBytesUsed, gpuBytesAllocated: bm.numBytesAllocated } : {}),
    ...(peak ? { peakGpuBytesInUse: peak.used, peakGpuBytesAllocated: peak.allocated } : {}),
  };
}

/**
 * Destroys the buffers tfjs keeps for reuse (those of disposed tensors) once the GPU has finished the work submitted so
 * far, and returns their bytes. After a model load they are the weights' upload and re-layout buffers, which no later
 * op of the same size may ever ask for; a decode allocates what it needs again. Only while nothing else runs on the GPU.
 */
export async function releaseFreeGpuBuffers(): Promise<number> {
  const bm = bufferManager() as (BufferManagerLike & { freeBuffers?: Map<string, GPUBuffer[]>; numFreeBuffers?: number }) | undefined;
  if (!bm?.freeBuffers) return 0;
  const backend = tf.backend() as unknown as { submitQueue?(): void; commandEncoder?: unknown; device?: GPUDevice };
  // Commands still being recorded go out first (their disposals then join the pool), then the GPU finishes them all.
  if (backend.commandEncoder) backend.submitQueue?.();
  await backend.device?.queue.onSubmittedWorkDone();
  let freed = 0,
    count = 0;
  for (const list of bm.freeBuffers.values()) {
    for (const buffer of list.splice(0)) {
      freed += buffer.size;
      count++;
      buffer.destroy();
    }
  }
  bm.numBytesAllocated -= freed;
  if (typeof bm.numFreeBuffers === 'number') bm.numFreeBuffers -= count;
  return freed;
}
