// Test support for the Engine in Node: the embedded default model and the bundled SYNTHETIC god-synth set read
// from public/, on tfjs's wasm backend (a CPU backend, as `npm run decode` uses; tfjs-cpu takes ~17 s per step here), with GPU hooks whose device loss and GPU errors a test triggers by hand.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { initNodeBackend } from '../src/cli/nodeBackend';
import type { EngineError, EngineEvent, ModelSourceSpec } from '../src/engine/protocol';
import { readNpz } from '../src/io/npz';
import { FASHION_MNIST_CLASSES } from '../src/eval/cnn';
import { openBundle } from '../src/worker/bundles';
import { Engine, type BundledData, type EngineDeps, type GpuHooks } from '../src/worker/engine';
import { uint8ToRgba } from '../src/worker/images';

export const MODEL_DIR = 'public/models/default';
export const DATA_DIR = 'public/data/god-synth';

export async function modelSource(): Promise<ModelSourceSpec> {
  const files: Record<string, Blob> = {};
  for (const name of ['manifest.json', 'shard-000.bin']) files[name] = new Blob([await readFile(join(MODEL_DIR, name))]);
  return { kind: 'files', files, label: 'default (test)' };
}

/** The bundled set's ground truth from disk, as src/worker/groundTruth.ts serves it in the browser. */
export function diskData(): BundledData {
  const images = (async () => {
    const npz = readNpz(new Uint8Array(await readFile(join(DATA_DIR, 'images_32.npz'))), (n) => /^(train|test)_(images|labels)$/.test(n));
    return npz;
  })();
  return {
    async bundledSet() {
      const meta = JSON.parse(await readFile(join(DATA_DIR, 'meta.json'), 'utf8')) as { label: string; sha256: Record<string, string> };
      return { label: meta.label, sha256: new Set(Object.values(meta.sha256)), singleSampleTestImage: 0 };
    },
    async bundledImage(split, index) {
      const arr = (await images)[`${split}_images`];
      const [, h, w, c] = arr.shape;
      const size = h * w * (c ?? 1);
      return uint8ToRgba((arr.data as Uint8Array).subarray(index * size, (index + 1) * size), w, h, c ?? 1);
    },
    async bundledClassName(split, index) {
      const label = (await images)[`${split}_labels`]?.data[index];
      return label === undefined ? undefined : FASHION_MNIST_CLASSES[Number(label)];
    },
    async bundledCnn() {
      throw new Error('no CNN in Node tests');
    },
  };
}

/** GPU hooks on the wasm backend; `loseDevice` / `gpuError` fire what a real device would. */
export function fakeGpu(): GpuHooks & { loseDevice(message: string): void; raiseGpuError(e: EngineError): void; dropped: number } {
  let lost: ((m: string) => void) | undefined;
  let errors: ((e: EngineError) => void) | undefined;
  const hooks = {
    dropped: 0,
    initBackend: async () => ({ backend: (await initNodeBackend('wasm')) as 'wasm' }),
    watchDeviceLost(onLost: (m: string) => void) {
      lost = onLost;
      return true;
    },
    watchGpuErrors(onError: (e: EngineError) => void) {
      errors = onError;
      return true;
    },
    gpuSettled: async () => undefined,
    dropWebGpu() {
      hooks.dropped++;
    },
    loseDevice(message: string) {
      lost?.(message);
    },
    raiseGpuError(e: EngineError) {
      errors?.(e);
    },
  };
  return hooks;
}

export interface Harness {
  engine: Engine;
  events: EngineEvent[];
  gpu: ReturnType<typeof fakeGpu>;
  /** Set by a test: runs before each sampler step (runId, timeline position). */
  beforeStep: { fn?: (runId: number, position: number) => void | Promise<void> };
}

export function harness(): Harness {
  const events: EngineEvent[] = [];
  const gpu = fakeGpu();
  const beforeStep: Harness['beforeStep'] = {};
  const deps: EngineDeps = {
    emit: (e) => {
      events.push(e);
    },
    gpu,
    data: diskData(),
    store: { saveModel: async () => undefined, listSaved: async () => [], deleteSaved: async () => undefined },
    openBundle,
    beforeStep: (id, p) => beforeStep.fn?.(id, p),
  };
  return { engine: new Engine(deps), events, gpu, beforeStep };
}

/** The bundled sbj_3.npz as readFile takes it. */
export async function bundledFile(): Promise<{ name: string; file: Blob }> {
  return { name: 'sbj_3.npz', file: new Blob([await readFile(join(DATA_DIR, 'sbj_3.npz'))]) };
}
