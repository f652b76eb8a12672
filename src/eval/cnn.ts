// The small Fashion-MNIST CNN of the "CNN class" metric, run in tfjs on whatever backend is active
// (cpu, wasm or webgpu). Weights: public/data/god-synth/classifier_cnn.npz, trained by
// python/cad_ref/train/classifier.py (`npm run train:classifier`) on the pretraining pool only (never a test
// image); that module's docstring is the reference for the architecture and the layout, and its torch forward
// is the oracle of the parity test (src/eval/cnn.test.ts, 1e-4 relative on cpu and wasm).
import * as tf from '@tensorflow/tfjs-core';
import { readNpz } from '../io/npz';
import type { NpyArray } from '../io/npy';
import type { GreyImage } from './metrics';
import { errorClass } from '../errors';

export class CnnWeightsError extends errorClass('CnnWeightsError') {}

/** Fashion-MNIST class names in label order (class_index.json of the data set). */
export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

export interface CnnClassifier {
  /** Input side in pixels (32): images are grey side×side. */
  imageSize: number;
  numClasses: number;
  /**
   * images: n grey images [n, side, side] row-major, values in [0, 1] (images_32.npz / 255, or a reconstruction
   * as the metrics see it: channel mean resized to side×side). Returns logits [n, numClasses] row-major.
   * Throws RangeError when the length is not n·side², CnnWeightsError after dispose().
   */
  logits(images: Float32Array, n: number): Promise<Float32Array>;
  /** softmax(logits) [n, numClasses] row-major, computed in float64 from the fp32 logits. */
  probabilities(images: Float32Array, n: number): Promise<Float64Array>;
  /** argmax of the logits per image (first maximum on ties), [n]. */
  classify(images: Float32Array, n: number): Promise<Int32Array>;
  /** Frees the weight tensors; the object is unusable afterwards. */
  dispose(): void;
}

const CONVS = ['conv1', 'conv2', 'conv3'] as const;
/** Images per forward pass: bounds peak memory (conv1 output is n·32·32·16 floats). */
const CHUNK = 256;

function member(npz: Record<string, NpyArray>, key: string): NpyArray {
  const a = npz[key];
  if (!a) throw new CnnWeightsError(`classifier_cnn.npz: member '${key}' is missing (members: ${Object.keys(npz).join(', ')})`);
  if (a.dtype !== 'f4') throw new CnnWeightsError(`classifier_cnn.npz: '${key}' has dtype ${a.dtype}, expected float32`);
  return a;
}

/**
 * Parses classifier_cnn.npz (the bytes of the file) and uploads the weights to the active tfjs backend.
 * Layout (PyTorch): conv{1,2,3}.weight [out, in, 3, 3], conv{k}.bias [out]; fc.weight [C, F] over the NCHW
 * flatten of the last pooled map [c, h, w] (F = c·h·w), fc.bias [C]. Conv filters are transposed here to tfjs's
 * [kh, kw, in, out]; the network is conv(3×3, pad 1) → ReLU → max-pool 2×2, three times, then the linear layer.
 * Throws CnnWeightsError for a missing member, a wrong dtype or inconsistent shapes.
 */
export function loadCnnClassifier(bytes: Uint8Array): CnnClassifier {
  let npz: Record<string, NpyArray>;
  try {
    npz = readNpz(bytes);
  } catch (e) {
    throw new CnnWeightsError(`classifier_cnn.npz: ${(e as Error).message}`);
  }
  let channels = 1;
  const convShapes = CONVS.map((name) => {
    const w = member(npz, `${name}.weight`),
      b = member(npz, `${name}.bias`);
    const [out, inC, kh, kw] = w.shape;
    if (w.shape.length !== 4 || inC !== channels || kh !== 3 || kw !== 3 || b.shape.length !== 1 || b.shape[0] !== out) {
      throw new CnnWeightsError(
        `classifier_cnn.npz: ${name}.weight [${w.shape.join(', ')}] / bias [${b.shape.join(', ')}] are not a 3×3 conv from ${channels} channels`,
      );
    }
    channels = out;
    return { w, b };
  });
  const fcW = member(npz, 'fc.weight'),
    fcB = member(npz, 'fc.bias');
  const numClasses = fcW.shape[0],
    features = fcW.shape[1];
  // three 2× poolings: features = channels · (side / 8)²
  const side = 8 * Math.sqrt(features / channels);
  if (fcW.shape.length !== 2 || !Number.isInteger(side) || fcB.shape.length !== 1 || fcB.shape[0] !== numClasses) {
    throw new CnnWeightsError(
      `classifier_cnn.npz: fc.weight [${fcW.shape.join(', ')}] / fc.bias [${fcB.shape.join(', ')}] do not fit ${channels} channels after the last pooling`,
    );
  }
  const params = tf.tidy(() => ({
    convs: convShapes.map(({ w, b }) => ({
      filter: tf.transpose(tf.tensor4d(w.data as Float32Array, w.shape as [number, number, number, number]), [2, 3, 1, 0]) as tf.Tensor4D,
      bias: tf.tensor1d(b.data as Float32Array),
    })),
    fcWT: tf.transpose(tf.tensor2d(fcW.data as Float32Array, [numClasses, features])) as tf.Tensor2D,
    fcB: tf.tensor1d(fcB.data as Float32Array),
  }));
  for (const t of [...params.convs.flatMap((c) => [c.filter, c.bias]), params.fcWT, params.fcB]) tf.keep(t);
  let disposed = false;

  const forward = (x: tf.Tensor4D): tf.Tensor2D =>
    tf.tidy(() => {
      let h: tf.Tensor4D = x;
      for (const { filter, bias } of params.convs) {
        h = tf.maxPool(tf.relu(tf.add(tf.conv2d(h, filter, 1, 'same'), bias)), 2, 2, 'valid');
      }
      // NHWC → NCHW before flattening: fc.weight indexes the PyTorch (C, H, W) order
      const flat = tf.reshape(tf.transpose(h, [0, 3, 1, 2]), [x.shape[0], features]);
      return tf.add(tf.matMul(flat, params.fcWT), params.fcB);
    });

  const logits = async (images: Float32Array, n: number): Promise<Float32Array> => {
    if (disposed) throw new CnnWeightsError('the CNN classifier was disposed');
    const px = side * side;
    if (!(Number.isInteger(n) && n >= 0) || images.length !== n * px) {
      throw new RangeError(`CNN classifier: ${images.length} values are not ${n} grey ${side}×${side} images`);
    }
    const out = new Float32Array(n * numClasses);
    for (let start = 0; start < n; start += CHUNK) {
      const m = Math.min(CHUNK, n - start);
      const y = tf.tidy(() => forward(tf.tensor4d(images.subarray(start * px, (start + m) * px), [m, side, side, 1])));
      try {
        out.set((await y.data()) as Float32Array, start * numClasses);
      } finally {
        y.dispose();
      }
    }
    return out;
  };

  const probabilities = async (images: Float32Array, n: number): Promise<Float64Array> => {
    const z = await logits(images, n);
    const p = new Float64Array(z.length);
    for (let i = 0; i < n; i++) {
      let max = -Infinity,
        sum = 0;
      for (let c = 0; c < numClasses; c++) max = Math.max(max, z[i * numClasses + c]);
      for (let c = 0; c < numClasses; c++) sum += p[i * numClasses + c] = Math.exp(z[i * numClasses + c] - max);
      for (let c = 0; c < numClasses; c++) p[i * numClasses + c] /= sum;
    }
    return p;
  };

  return {
    imageSize: side,
    numClasses,
    logits,
    probabilities,
    async classify(images, n) {
      const z = await logits(images, n);
      const cls = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        let best = 0;
        for (let c = 1; c < numClasses; c++) if (z[i * numClasses + c] > z[i * numClasses + best]) best = c;
        cls[i] = best;
      }
      return cls;
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      tf.dispose([...params.convs.flatMap((c) => [c.filter, c.bias]), params.fcWT, params.fcB]);
    },
  };
}

/** Stacks grey images (all side×side) into the CNN's input layout [n, side, side] as float32. */
export function stackGrey(images: GreyImage[], side: number): Float32Array {
  const px = side * side,
    out = new Float32Array(images.length * px);
  images.forEach((g, i) => {
    if (g.height !== side || g.width !== side)
      throw new RangeError(`CNN classifier expects ${side}×${side} images, image ${i} is ${g.height}×${g.width}`);
    out.set(g.data, i * px);
  });
  return out;
}
