import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import {
  activeGpuDevice,
  deviceLossError,
  dropWebGpu,
  gpuEngineError,
  gpuSettled,
  initBackend,
  isLostReadback,
  watchDeviceLost,
  watchGpuErrors,
} from './backend';
import type { EngineError } from './protocol';

// test/setup-webgpu.ts gives Node a navigator.gpu backed by Dawn + SwiftShader; without a Vulkan loader
// (Debian libvulkan1, installed by scripts/setup-test-deps.sh) Dawn finds no adapter and the WebGPU case fails.

describe('initBackend', () => {
  afterAll(async () => {
    await initBackend(['cpu']);
  });

  it('picks WebGPU first and reports the adapter', async () => {
    const info = await initBackend();
    expect(info.backend).toBe('webgpu');
    expect(tf.getBackend()).toBe('webgpu');
    expect(info.adapter?.architecture).toBe('swiftshader');
    expect(info.fallbackReason).toBeUndefined();
    expect(watchDeviceLost(() => undefined)).toBe(true);
    expect(Array.from(await tf.add(tf.tensor1d([1, 2]), 1).data())).toEqual([2, 3]);
  });

  it('reports uncaptured GPU errors as structured engine errors', async () => {
    await initBackend(['webgpu']);
    const errors: EngineError[] = [];
    expect(watchGpuErrors((e) => errors.push(e))).toBe(true);
    // MAP_READ | MAP_WRITE together is invalid: a validation error no error scope catches.
    (tf.backend() as WebGPUBackend).device.createBuffer({ size: 4, usage: 1 | 2 });
    await gpuSettled();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'GpuError', detail: 'GPUValidationError' });
    expect(errors[0].message).toMatch(/^WebGPU validation error: /);
    // The device still works after a validation error.
    expect(Array.from(await tf.add(tf.tensor1d([1]), 1).data())).toEqual([2]);
  });

  it('names out-of-memory errors apart', () => {
    class GPUOutOfMemoryError {
      constructor(readonly message: string) {}
    }
    expect(gpuEngineError(new GPUOutOfMemoryError('allocation of 2 GiB failed') as unknown as GPUError)).toEqual({
      code: 'GpuOutOfMemory',
      message: 'the GPU ran out of memory (try fewer samples): allocation of 2 GiB failed',
    });
  });

  it('falls back with a reason when WebGPU is missing', async () => {
    const nav = globalThis.navigator as unknown as Record<string, unknown>;
    const saved = Object.getOwnPropertyDescriptor(nav, 'gpu');
    Object.defineProperty(nav, 'gpu', { value: undefined, configurable: true });
    try {
      const info = await initBackend(['webgpu', 'cpu']);
      expect(info.backend).toBe('cpu');
      expect(info.adapter).toBeUndefined();
      expect(info.fallbackReason).toMatch(/webgpu: navigator\.gpu is missing/);
      expect(watchDeviceLost(() => undefined)).toBe(false);
    } finally {
      if (saved) Object.defineProperty(nav, 'gpu', saved);
    }
  });

  it('runs on wasm when asked', async () => {
    const info = await initBackend(['wasm']);
    expect(info.backend).toBe('wasm');
    expect(Array.from(await tf.mul(tf.tensor1d([2, 3]), 2).data())).toEqual([4, 6]);
  });
});

describe('deviceLossError', () => {
  afterAll(async () => {
    dropWebGpu();
    await initBackend(['cpu']);
  });

  it('names a real device loss, and nothing while the device is alive', async () => {
    await initBackend(['webgpu']);
    const device = activeGpuDevice();
    expect(device).toBeDefined();
    expect(await deviceLossError(device, new Error('some other failure'), 50)).toBeUndefined();
    const pending = tf.add(tf.tensor1d([1, 2, 3]), 1).data();
    device!.destroy();
    const readback = await pending.then(
      () => undefined,
      (e: unknown) => e,
    );
    const lost = await deviceLossError(device, readback, 5000);
    expect(lost?.code).toBe('DeviceLost');
    expect(lost?.message).toMatch(/^WebGPU device lost \(/);
    expect(lost?.message).toMatch(/the run stopped, and the studio continues on WebAssembly$/);
    expect(await deviceLossError(undefined, readback)).toBeUndefined();
  });

  it('recognises the readback error of a destroyed device by itself', () => {
    expect(
      isLostReadback(
        new DOMException("Failed to execute 'mapAsync' on 'GPUBuffer': Buffer was unmapped before mapping was resolved.", 'AbortError'),
      ),
    ).toBe(true);
    expect(isLostReadback(Object.assign(new Error('Device is lost'), { name: 'OperationError' }))).toBe(true);
    expect(isLostReadback(new DOMException('model load cancelled', 'AbortError'))).toBe(false);
    expect(isLostReadback(new Error('Buffer was unmapped before mapping was resolved'))).toBe(false);
  });
});
