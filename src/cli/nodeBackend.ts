// tfjs backends for Node CLIs. WebGPU needs `navigator.gpu` from the `webgpu` package (Dawn) set
// before tfjs-backend-webgpu is imported, so every backend is imported on demand.
import * as tf from '@tensorflow/tfjs-core';
import type { BackendName } from '../engine/types';

export async function initNodeBackend(name: BackendName): Promise<string> {
  if (name === 'webgpu') {
    process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';
    process.env.XDG_RUNTIME_DIR ??= '/tmp';
    const { create, globals } = await import('webgpu');
    Object.assign(globalThis, globals);
    const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
    g.navigator ??= {};
    if (!g.navigator.gpu) Object.defineProperty(g.navigator, 'gpu', { value: create([]), configurable: true });
    await import('@tensorflow/tfjs-backend-webgpu');
  } else if (name === 'wasm') {
    await import('@tensorflow/tfjs-backend-wasm');
  } else if (name === 'cpu') {
    await import('@tensorflow/tfjs-backend-cpu');
  } else {
    throw new Error(`unknown backend '${name as string}' (choose wasm, cpu or webgpu)`);
  }
  let ok = false;
  try { ok = await tf.setBackend(name); } catch { ok = false; }
  if (!ok) {
    throw new Error(name === 'webgpu'
      ? 'WebGPU backend could not start: no adapter (install Debian chromium for its SwiftShader driver, or use --backend wasm)'
      : `tfjs backend '${name}' could not start`);
  }
  await tf.ready();
  return tf.getBackend();
}
