// tfjs backends for Node CLIs. WebGPU needs `navigator.gpu` from the `webgpu` package (Dawn) set
// before tfjs-backend-webgpu is imported, so every backend is imported on demand.
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BackendName } from '../engine/types';
import { MANIFEST_FILE, parseManifest } from '../io/bundle/manifest';

/** navigator.gpu from the npm `webgpu` package (Dawn; SwiftShader through Debian chromium's Vulkan ICD). */
async function installNodeWebGpu(): Promise<void> {
  process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
  g.navigator ??= {};
  if (!g.navigator.gpu) Object.defineProperty(g.navigator, 'gpu', { value: create([]), configurable: true });
}

/**
 * --backend auto: the studio's rule (src/engine/backendProbe.ts) in Node — WebGPU through the `webgpu`
 * package against tfjs-wasm, timed with the probe at the model's shape (read from `modelDir`'s manifest);
 * a software adapter is a candidate, not the default. Prints the decision and why on stderr. No cache:
 * the probe costs a second or two.
 */
export async function chooseNodeBackend(modelDir: string): Promise<BackendName> {
  const { chooseBackend, probeShapeOf } = await import('../engine/backendProbe');
  const { config } = parseManifest(readFileSync(join(modelDir, MANIFEST_FILE), 'utf8'));
  try {
    await installNodeWebGpu();
    await import('@tensorflow/tfjs-backend-webgpu');
  } catch {
    /* no webgpu package or Dawn: wasm only */
  }
  const setBackend = async (b: 'webgpu' | 'wasm') => {
    try {
      await initNodeBackend(b);
      return undefined;
    } catch (e) {
      return (e as Error).message;
    }
  };
  const out = await chooseBackend(probeShapeOf(config, 1), { override: 'auto', cache: {} }, setBackend);
  process.stderr.write(`backend by measurement: ${out.decision.reason}\n`);
  return out.decision.backend;
}

export async function initNodeBackend(name: BackendName): Promise<string> {
  if (name === 'webgpu') {
    await installNodeWebGpu();
    await import('@tensorflow/tfjs-backend-webgpu');
  } else if (name === 'wasm') {
    await import('@tensorflow/tfjs-backend-wasm');
  } else if (name === 'cpu') {
    await import('@tensorflow/tfjs-backend-cpu');
  } else {
    throw new Error(`unknown backend '${name as string}' (choose wasm, cpu or webgpu)`);
  }
  let ok = false;
  try {
    ok = await tf.setBackend(name);
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new Error(
      name === 'webgpu'
        ? 'WebGPU backend could not start: no adapter (install Debian chromium for its SwiftShader driver, or use --backend wasm)'
        : `tfjs backend '${name}' could not start`,
    );
  }
  await tf.ready();
  return tf.getBackend();
}
