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
