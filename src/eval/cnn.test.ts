// The CNN of the "CNN class" metric (src/eval/cnn.ts) against its PyTorch reference (test/oracles/cnn.ts:
// python/cad_ref/train/classifier.py, fp32, from the same shipped npz): logits within 1e-4 relative on cpu and
// wasm, on the true test images and on noisy ones; and its accuracy on the true test images (the ceiling printed
// by `npm run eval`) is at least 0.88. WebGPU in Chromium: cnn.browser.test.ts.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { zipSync } from 'fflate';
import { writeNpy } from '../io/npy';
import { maxRel } from '../../test/compare';
import { cnnOracle, CNN_DATA, type CnnOracle } from '../../test/oracles/cnn';
import { loadSynthDataset, readCnnWeights } from './data';
import { CnnWeightsError, loadCnnClassifier } from './cnn';

let o: CnnOracle;
let bytes: Uint8Array;
let images: Float32Array;
let n: number;
let torchLogits: Float32Array;
let ds: { numTest: number; testLabels: ArrayLike<number> };

beforeAll(async () => {
  const synth = await loadSynthDataset(CNN_DATA);
  bytes = await readCnnWeights(CNN_DATA, synth.meta);
  o = await cnnOracle('.cache/eval-cnn');
  ({ images, n, logits: torchLogits } = o);
  ds = { numTest: o.numTest, testLabels: o.labels };
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
