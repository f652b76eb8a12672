/// <reference lib="webworker" />
// The engine worker: a message router. Requests (src/engine/protocol.ts) go to the Engine (./engine.ts), which owns
// tfjs, the GPU device, the model, the open file and the run; its events and answers go back as messages, pixel and
// byte buffers transferred.
import './wasmPaths';
import { configureWasmThreads, wasmThreadsNote } from './wasmThreads';
import * as tf from '@tensorflow/tfjs-core';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { activeGpuDevice, deviceLossError, dropWebGpu, gpuSettled, initBackend, watchDeviceLost, watchGpuErrors } from '../engine/backend';
import type { BackendPrefs } from '../engine/backendChoice';
import { chooseBackend, probeShapeOf, wasmThreads } from '../engine/backendProbe';
import type { BackendInfo } from '../engine/protocol';
import type { ModelConfig } from '../model/config';
import {
  toEngineError,
  type ExportResult,
  type OpName,
  type Request,
  type RunResult,
  type SampleInfo,
  type StepPreview,
  type WorkerMessage,
} from '../engine/protocol';
import { openBundle } from './bundles';
import { Engine } from './engine';
import { bundledClassName, bundledCnn, bundledImage, bundledSet } from './groundTruth';
import { deleteSaved, listSaved, saveModel } from './modelStore';
import { cloneForTransfer } from './previews';

const scope = self as unknown as DedicatedWorkerGlobalScope;

function post(m: WorkerMessage, transfer: Transferable[] = []): void {
  scope.postMessage(m, transfer);
}

/** WebAssembly's thread count and why (for a BackendInfo whose backend is 'wasm'). */
function wasmThreadsInfo(): Pick<BackendInfo, 'threads' | 'threadsNote'> {
  const note = wasmThreadsNote();
  return { threads: wasmThreads(), ...(note ? { threadsNote: note } : {}) };
}

async function initBackendHere(prefer: BackendInfo['backend'][]): Promise<BackendInfo> {
  const info = await initBackend(prefer);
  return info.backend === 'wasm' ? { ...info, ...wasmThreadsInfo() } : info;
}

/** Backend by measurement (issue 12): the probe of src/engine/backendProbe.ts at the model's shape, activated here. */
async function chooseFor(config: ModelConfig, prefs: BackendPrefs, opts: { excludeWebGpu: boolean }) {
  const activate = async (b: 'webgpu' | 'wasm'): Promise<string | undefined> => {
    try {
      await initBackend([b]);
      return undefined;
    } catch (e) {
      return (e as Error).message;
    }
  };
  const out = await chooseBackend(probeShapeOf(config), prefs, activate, opts);
  const b = out.decision.backend;
  const info: BackendInfo = {
    backend: b,
    choice: out.decision,
    ...(b === 'webgpu' && out.adapter
      ? { adapter: { vendor: out.adapter.vendor, architecture: out.adapter.architecture, description: out.adapter.description } }
      : {}),
    ...(b === 'wasm' ? wasmThreadsInfo() : {}),
  };
  const measured = out.decision.how === 'probe' || out.decision.how === 'only';
  const cache = measured
    ? {
        backend: b,
        reason: out.decision.reason,
        measuredAt: new Date().toISOString(),
        ...(out.decision.stepMs ? { stepMs: out.decision.stepMs } : {}),
      }
    : undefined;
  return { info, key: out.key, ...(cache ? { cache } : {}) };
}

function loseDevice(): void {
  const b = tf.backend();
  if (!(b instanceof WebGPUBackend)) throw new Error(`the active backend is ${tf.getBackend()}, not WebGPU`);
  b.device.destroy();
}

const engine = new Engine({
  emit: (e, transfer = []) => post(e, transfer),
  gpu: {
    initBackend: initBackendHere,
    watchDeviceLost,
    watchGpuErrors,
    gpuSettled,
    dropWebGpu,
    chooseBackend: chooseFor,
    activeDevice: activeGpuDevice,
    deviceLossError: (device, e) => deviceLossError(device as GPUDevice | undefined, e),
    destroyDevice: loseDevice,
    configureWasmThreads,
  },
  data: { bundledSet, bundledImage, bundledClassName, bundledCnn },
  store: { saveModel, listSaved, deleteSaved },
  openBundle,
});

/** Results that carry pixels or bytes are transferred (as copies when the engine keeps a cached original). */
function transferablesOf(op: OpName, result: unknown): { result: unknown; transfer: Transferable[] } {
  if (op === 'preview') {
    const c = cloneForTransfer(result as StepPreview);
    return { result: c.preview, transfer: c.transfer };
  }
  if (op === 'run') {
    const r = result as RunResult;
    if (!r.final) return { result, transfer: [] };
    const c = cloneForTransfer(r.final);
    return { result: { ...r, final: c.preview }, transfer: c.transfer };
  }
  if (op === 'export') return { result, transfer: [(result as ExportResult).bytes.buffer] };
  if (op === 'selectSample') {
    const s = result as SampleInfo;
    return { result, transfer: [s.voxels.buffer, ...(s.groundTruth ? [s.groundTruth.pixels.buffer] : [])] };
  }
  return { result, transfer: [] };
}

scope.onmessage = async (ev: MessageEvent<Request>) => {
  const { id, op, args } = ev.data;
  try {
    const raw = await engine.handle(op, args);
    const { result, transfer } = transferablesOf(op, raw);
    post({ id, ok: true, result }, transfer);
  } catch (e) {
    post({ id, ok: false, error: toEngineError(e) });
  }
};
