// The CNN of the "CNN class" metric (src/eval/cnn.ts) against its PyTorch reference
// (python/cad_ref/train/classifier.py via src/eval/reference_cnn.py, fp32, from the same shipped npz):
// logits within 1e-4 relative on cpu and wasm, on the true test images and on noisy ones; and its accuracy on
// the true test images (the ceiling printed by `npm run eval`) is at least 0.88.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNpy, writeNpy } from '../io/npy';
import { maxRel } from '../../test/compare';
import { loadSynthDataset, readCnnWeights, type SynthDataset } from './data';
import { CnnWeightsError, loadCnnClassifier } from './cnn';
import { zipSync } from 'fflate';

const DATA = 'public/data/god-synth';
const CACHE = '.cache/eval-cnn';
const NOISY = 6;
let ds: SynthDataset;
let bytes: Uint8Array;
let images: Float32Array;
let n: number;
let torchLogits: Float32Array;

/** Deterministic values in [0, 1) (no Math.random in tests). */
const wave = (len: number, seed: number): Float32Array => Float32Array.from({ length: len }, (_, i) => {
  const s = Math.sin(i * 12.9898 + seed * 78.233) * 43758.5453;
  return s - Math.floor(s);
});

beforeAll(async () => {
  ds = await loadSynthDataset(DATA);
  bytes = await readCnnWeights(DATA, ds.meta);
  const px = 32 * 32, nTest = ds.numTest;
  n = nTest + NOISY;
  images = new Float32Array(n * px);
  for (let i = 0; i < nTest * px; i++) images[i] = ds.testImages[i] / 255;
  // noisy inputs: test images with strong noise, and pure noise (logits far from the training distribution)
  for (let k = 0; k < NOISY; k++) {
    const noise = wave(px, k), off = (nTest + k) * px;
    for (let p = 0; p < px; p++) images[off + p] = k < NOISY / 2 ? Math.min(1, Math.max(0, images[k * px + p] + 0.6 * (noise[p] - 0.5))) : noise[p];
  }
  mkdirSync(CACHE, { recursive: true });
  writeFileSync(join(CACHE, 'images.npy'), writeNpy(images, [n, 32, 32]));
  const py = spawnSync('/usr/bin/python3', ['src/eval/reference_cnn.py', join(DATA, 'classifier_cnn.npz'), join(CACHE, 'images.npy'), join(CACHE, 'logits.npy')], { encoding: 'utf8' });
  if (py.status !== 0) throw new Error(`reference_cnn.py failed (needs Debian python3-torch): ${py.stderr}`);
  torchLogits = readNpy(readFileSync(join(CACHE, 'logits.npy'))).data as Float32Array;
}, 120_000);

describe.each(['cpu', 'wasm'])('CNN classifier on %s', (backend) => {
  beforeAll(async () => {
    expect(await tf.setBackend(backend)).toBe(true);
  });

  it('logits match PyTorch (≤ 1e-4 relative) and leave no tensors behind', async () => {
    const before = tf.memory().numTensors;
    const cnn = loadCnnClassifier(bytes);
    const z = await cnn.logits(images, n);
    expect(z.length).toBe(n * 10);
    expect(maxRel(z, torchLogits)).toBeLessThanOrEqual(1e-4);
    // the noisy rows on their own too: their logits are not dwarfed by the confident ones
    expect(maxRel(z.subarray(ds.numTest * 10), torchLogits.subarray(ds.numTest * 10))).toBeLessThanOrEqual(1e-4);
    cnn.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('labels at least 0.88 of the true test images correctly', async () => {
    const cnn = loadCnnClassifier(bytes);
    const cls = await cnn.classify(images.subarray(0, ds.numTest * 1024), ds.numTest);
    const acc = cls.reduce((s, c, i) => s + (c === ds.testLabels[i] ? 1 : 0), 0) / ds.numTest;
    expect(acc).toBeGreaterThanOrEqual(0.88);
    const p = await cnn.probabilities(images.subarray(0, 1024), 1);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    cnn.dispose();
  });
});

describe('CNN classifier input checks', () => {
  it('refuses a wrong image count and malformed weights with specific errors', async () => {
    await tf.setBackend('cpu');
    const cnn = loadCnnClassifier(bytes);
    await expect(cnn.logits(new Float32Array(1000), 1)).rejects.toThrow(/1000 values are not 1 grey 32×32 images/);
    cnn.dispose();
    await expect(cnn.logits(new Float32Array(1024), 1)).rejects.toThrow(CnnWeightsError);
    expect(() => loadCnnClassifier(new Uint8Array([1, 2, 3]))).toThrow(/classifier_cnn\.npz: not an \.npz/);
    const noFc = zipSync({ 'conv1.weight.npy': writeNpy(new Float32Array(16 * 9), [16, 1, 3, 3]) });
    expect(() => loadCnnClassifier(noFc)).toThrow(/member 'conv1\.bias' is missing/);
  });
});
