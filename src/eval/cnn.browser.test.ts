// The CNN of the "CNN class" metric on tfjs WebGPU in headless Chromium (SwiftShader) against PyTorch's logits
// (test/oracles/cnn.ts, made in Node by the browser project's global set-up): fp32 within 1e-4 relative on the
// true test images and on noisy ones, and the same ≥ 0.88 accuracy on the true test images as on cpu and wasm.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgpu';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { commands } from 'vitest/browser';
import { readNpy } from '../io/npy';
import { maxRel } from '../../test/compare';
import { loadCnnClassifier } from './cnn';

const dir = inject('cnnOracleDir');

async function readBytes(path: string): Promise<Uint8Array> {
  const b64 = await commands.readFile(path, 'base64');
  return Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
}

let bytes: Uint8Array;
let images: Float32Array;
let torchLogits: Float32Array;
let labels: Int32Array;
let n: number;

beforeAll(async () => {
  if (!(await tf.setBackend('webgpu'))) throw new Error('no WebGPU in chromium: launch it with --enable-unsafe-webgpu');
  bytes = await readBytes('public/data/god-synth/classifier_cnn.npz');
  const img = readNpy(await readBytes(`${dir}/images.npy`));
  images = img.data as Float32Array;
  n = img.shape[0];
  torchLogits = readNpy(await readBytes(`${dir}/logits.npy`)).data as Float32Array;
  labels = readNpy(await readBytes(`${dir}/labels.npy`)).data as Int32Array;
}, 120_000);

describe('CNN classifier on WebGPU (chromium, SwiftShader)', () => {
  it('logits match PyTorch (≤ 1e-4 relative), the noisy rows on their own too, and leave no tensors behind', async () => {
    expect(tf.getBackend()).toBe('webgpu');
    const before = tf.memory().numTensors;
    const cnn = loadCnnClassifier(bytes);
    const z = await cnn.logits(images, n);
    expect(z.length).toBe(n * 10);
    expect(maxRel(z, torchLogits)).toBeLessThanOrEqual(1e-4);
    const t = labels.length * 10;
    expect(maxRel(z.subarray(t), torchLogits.subarray(t))).toBeLessThanOrEqual(1e-4);
    cnn.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('labels at least 0.88 of the true test images correctly', async () => {
    const cnn = loadCnnClassifier(bytes);
    const cls = await cnn.classify(images.subarray(0, labels.length * 1024), labels.length);
    const acc = cls.reduce((s, c, i) => s + (c === labels[i] ? 1 : 0), 0) / labels.length;
    expect(acc).toBeGreaterThanOrEqual(0.88);
    cnn.dispose();
  });
});
