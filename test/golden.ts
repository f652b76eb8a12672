// Golden vectors from the PyTorch reference (python/cad_ref): generated on demand into
// .cache/golden/<preset>/ and regenerated when any python/cad_ref/*.py is newer than the stamp.
// Several vitest workers may ask at once: one generates into a temporary folder under a lock
// folder and renames it into place; the others wait for the lock and reuse the result.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll } from 'vitest';
import { npyToFloat32, readNpy, type NpyArray } from '../src/io/npy';
import type { ModelConfig } from '../src/model/config';

const run = promisify(execFile);

export const PYTHON = '/usr/bin/python3';
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCES = join(REPO_ROOT, 'python', 'cad_ref');
const CACHE = join(REPO_ROOT, '.cache', 'golden');
const STAMP = '.stamp';
const SEED = 0;
/** A lock older than this is taken to belong to a crashed process. */
const STALE_LOCK_MS = 5 * 60_000;
const POLL_MS = 200;

export class GoldenUnavailableError extends Error {
  constructor(detail: string) {
    super(`golden vectors unavailable: ${detail}`);
    this.name = 'GoldenUnavailableError';
  }
}

async function newestSourceMs(): Promise<number> {
  const files = (await readdir(SOURCES)).filter((f) => f.endsWith('.py'));
  if (files.length === 0) throw new GoldenUnavailableError(`no python sources in ${SOURCES}`);
  const times = await Promise.all(files.map(async (f) => (await stat(join(SOURCES, f))).mtimeMs));
  return Math.max(...times);
}

async function isFresh(dir: string): Promise<boolean> {
  try {
    return (await stat(join(dir, STAMP))).mtimeMs >= (await newestSourceMs());
  } catch {
    return false;
  }
}

async function checkPython(): Promise<void> {
  try {
    await run(PYTHON, ['-c', 'import torch, numpy'], { timeout: 60_000 });
  } catch (e) {
    const why = (e as { stderr?: string }).stderr?.trim().split('\n').pop() ?? String(e);
    throw new GoldenUnavailableError(`${PYTHON} cannot import torch and numpy (${why}); run scripts/setup-test-deps.sh`);
  }
}

async function generate(preset: string, finalDir: string): Promise<void> {
  await checkPython();
  const tmp = `${finalDir}.tmp-${process.pid}-${Date.now()}`;
  await rm(tmp, { recursive: true, force: true });
  try {
    await run(PYTHON, ['-m', 'cad_ref.golden', '--preset', preset, '--seed', String(SEED), '--out', tmp], {
      cwd: REPO_ROOT,
      env: { ...process.env, PYTHONPATH: join(REPO_ROOT, 'python') },
      timeout: 300_000,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    const stderr = (e as { stderr?: string }).stderr ?? '';
    throw new GoldenUnavailableError(`cad_ref.golden --preset ${preset} failed: ${stderr.slice(-2000) || String(e)}`);
  }
  await writeFile(join(tmp, STAMP), `${preset} seed ${SEED} ${new Date().toISOString()}\n`);
  const old = `${finalDir}.old-${process.pid}-${Date.now()}`;
  if (existsSync(finalDir)) await rename(finalDir, old);
  await rename(tmp, finalDir);
  await rm(old, { recursive: true, force: true });
}

async function tryLock(lock: string): Promise<boolean> {
  try {
    await mkdir(lock);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const age =
      Date.now() -
      (await stat(lock).then(
        (s) => s.mtimeMs,
        () => Date.now(),
      ));
    if (age > STALE_LOCK_MS) await rm(lock, { recursive: true, force: true });
    return false;
  }
}

const pending = new Map<string, Promise<string>>();

/** Folder with the golden files of `preset` (see python/README.md), generating them first if needed. */
export function goldenDir(preset = 'tiny'): Promise<string> {
  let p = pending.get(preset);
  if (!p) {
    p = ensure(preset);
    pending.set(preset, p);
    p.catch(() => pending.delete(preset));
  }
  return p;
}

async function ensure(preset: string): Promise<string> {
  const dir = join(CACHE, preset);
  const lock = `${dir}.lock`;
  await mkdir(CACHE, { recursive: true });
  for (;;) {
    if (await isFresh(dir)) return dir;
    if (await tryLock(lock)) {
      try {
        if (!(await isFresh(dir))) await generate(preset, dir);
      } finally {
        await rm(lock, { recursive: true, force: true });
      }
      return dir;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** One golden array, e.g. `await goldenNpy(dir, 'unet_out')` or `'tensors/<full name>'`. */
export async function goldenNpy(dir: string, name: string): Promise<NpyArray> {
  return readNpy(new Uint8Array(await readFile(join(dir, `${name}.npy`))));
}

/** A golden array as float32 on the host, with its shape. */
export interface HostArray {
  data: Float32Array;
  shape: number[];
}

/** `goldenNpy` as float32 (int64 timesteps included). */
export async function goldenArray(dir: string, name: string): Promise<HostArray> {
  const a = await goldenNpy(dir, name);
  return { data: npyToFloat32(a), shape: a.shape };
}

async function readJson<T>(dir: string, file: string): Promise<T> {
  return JSON.parse(await readFile(join(dir, file), 'utf8')) as T;
}

/** The preset's model_config.json. */
export const goldenConfig = (dir: string): Promise<ModelConfig> => readJson(dir, 'model_config.json');

/** Names of the phase-3 state dict's tensors (tensors.json). */
export const goldenTensorNames = (dir: string): Promise<string[]> => readJson(dir, 'tensors.json');

export interface GoldenSamplers {
  plms: { steps: number };
  ddim: { steps: number; eta: number };
  /** The img2img trajectories' strength (their init latent is img2img_x0_init) and the guided ones' scale. */
  img2img: { strength: number };
  guided: { guidance: number };
  /** The trailing trajectories' step count: one whose uniform list would reach t = T (diffusers' trailing spacing). */
  trailing: { steps: number };
}
/** The sampler settings the trajectories were made with (samplers.json). */
export const goldenSamplers = (dir: string): Promise<GoldenSamplers> => readJson(dir, 'samplers.json');

/**
 * The phase-3 weights whose names pass `keep`, as new tensors on the current backend (PyTorch
 * layouts, the authors' names); the caller disposes of them.
 */
export async function goldenWeights(dir: string, keep: (name: string) => boolean = () => true): Promise<Record<string, tf.Tensor>> {
  const names = (await goldenTensorNames(dir)).filter(keep);
  const arrays = await Promise.all(names.map((n) => goldenArray(dir, `tensors/${n}`)));
  return Object.fromEntries(names.map((n, i) => [n, tf.tensor(arrays[i].data, arrays[i].shape)]));
}

/** Tensors inside prepared parameters that are not among `weights`: what the prepare step made, to dispose of. */
export function preparedTensors(params: unknown, weights: Record<string, tf.Tensor>): tf.Tensor[] {
  const owned = new Set(Object.values(weights));
  const out: tf.Tensor[] = [];
  const walk = (v: unknown): void => {
    if (v instanceof tf.Tensor) {
      if (!owned.has(v)) out.push(v);
      return;
    }
    if (v !== null && typeof v === 'object') for (const x of Object.values(v)) walk(x);
  };
  walk(params);
  return out;
}

/** A golden sampler trajectory, per step (`x_t[i]` is the latent input to step i; `x_t[0]` = x_T). */
export interface GoldenTrajectory {
  shape: [number, number, number, number];
  timesteps: number[];
  xT: Float32Array;
  x_t: Float32Array[];
  eps: Float32Array[];
  x0: Float32Array[];
  final: Float32Array;
  /** DDIM's unit Gaussian noise per step (scaled by sigma_i there); empty for PLMS, which draws none. */
  noise: Float32Array[];
}

/** Splits a [steps, ...] array into one view per step. */
function perStep(a: HostArray): Float32Array[] {
  const size = a.data.length / a.shape[0];
  return Array.from({ length: a.shape[0] }, (_, i) => a.data.subarray(i * size, (i + 1) * size));
}

/**
 * Which golden run of a sampler: the plain one; 'img2img' (from img2img_x0_init at samplers.json's
 * strength, only the steps run recorded, so x_t[0] is the noised init, not xT); 'guided' (classifier-free
 * guidance at samplers.json's scale with the extras' decoding_studio.null_context; eps is the guided ε).
 */
export type GoldenVariant = 'plain' | 'img2img' | 'guided' | 'trailing';

/** The `<sampler>[_<variant>]_*` golden files of one sampler run. */
export async function goldenTrajectory(dir: string, sampler: 'plms' | 'ddim', variant: GoldenVariant = 'plain'): Promise<GoldenTrajectory> {
  const tag = variant === 'plain' ? sampler : `${sampler}_${variant}`;
  const load = (n: string): Promise<HostArray> => goldenArray(dir, `${tag}_${n}`);
  const xT = await load('xT');
  return {
    shape: xT.shape as GoldenTrajectory['shape'],
    timesteps: Array.from((await goldenNpy(dir, `${tag}_timesteps`)).data, Number),
    xT: xT.data,
    x_t: perStep(await load('x_t')),
    eps: perStep(await load('eps')),
    x0: perStep(await load('x0')),
    final: (await load('final')).data,
    noise: sampler === 'ddim' ? perStep(await load('noise')) : [],
  };
}

/**
 * Switches the enclosing describe to tfjs-webgpu in Node (test/setup-webgpu.ts gives it Dawn on
 * SwiftShader) and back to cpu after; the returned getter says whether a WebGPU backend came up.
 */
export function webgpuInNode(): () => boolean {
  let ok = false;
  beforeAll(async () => {
    try {
      await import('@tensorflow/tfjs-backend-webgpu');
      ok = await tf.setBackend('webgpu');
    } catch {
      ok = false;
    }
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });
  return () => ok;
}

/**
 * The golden low-level decoder tensors (`decoding_studio.lowlevel.*`, listed in extras.json, also in
 * extras.safetensors) as new tensors on the current backend; the caller disposes of them.
 */
export async function goldenExtras(dir: string): Promise<Record<string, tf.Tensor>> {
  const names = await readJson<string[]>(dir, 'extras.json');
  const arrays = await Promise.all(names.map((n) => goldenArray(dir, `tensors/${n}`)));
  return Object.fromEntries(names.map((n, i) => [n, tf.tensor(arrays[i].data, arrays[i].shape)]));
}
