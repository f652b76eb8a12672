// tfjs's GPU memory counts with peaks, and giving back the buffers tfjs keeps for reuse (WebGPU in Node, Dawn on
// SwiftShader via test/setup-webgpu.ts).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgpu';
import { beforeAll, expect, it } from 'vitest';
import { memoryReport, releaseFreeGpuBuffers, trackGpuPeak } from './gpuMemory';

beforeAll(async () => {
  if (!(await tf.setBackend('webgpu'))) throw new Error('tf.setBackend("webgpu") failed: Dawn found no adapter (see test/setup-webgpu.ts)');
});

it('tracks the peak bytes in use and allocated, and releases the reuse pool', async () => {
  trackGpuPeak();
  const start = memoryReport();
  expect(start.backend).toBe('webgpu');
  const mb = 2 ** 20;
  const a = tf.add(tf.zeros([mb / 4 + 3]), 1); // a new size: a new buffer (and its input's)
  await a.data();
  const during = memoryReport();
  expect(during.peakGpuBytesInUse).toBeGreaterThanOrEqual(start.gpuBytesInUse! + mb);
  tf.dispose(a);
  const after = memoryReport();
  expect(after.gpuBytesInUse).toBeLessThan(during.gpuBytesInUse!);
  // The disposed buffer stays allocated for reuse until it is given back.
  expect(after.gpuBytesAllocated).toBeGreaterThanOrEqual(during.gpuBytesAllocated!);
  const freed = await releaseFreeGpuBuffers();
  expect(freed).toBeGreaterThanOrEqual(mb);
  const released = memoryReport();
  expect(released.gpuBytesAllocated).toBe(after.gpuBytesAllocated! - freed);
  expect(released.peakGpuBytesAllocated).toBeGreaterThanOrEqual(during.gpuBytesAllocated!);
  // Tensors still alive keep working after the pool is gone, and new ones allocate again.
  const b = tf.square(tf.ones([1000]));
  expect((await b.data())[0]).toBe(1);
  tf.dispose(b);
});

it('reports no GPU figures on other backends', async () => {
  await import('@tensorflow/tfjs-backend-cpu');
  await tf.setBackend('cpu');
  const m = memoryReport();
  expect(m.backend).toBe('cpu');
  expect(m.gpuBytesInUse).toBeUndefined();
  expect(await releaseFreeGpuBuffers()).toBe(0);
});
