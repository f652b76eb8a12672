// Weight matrices kept on the GPU as packed f16 (issue 15): two halves per 32-bit word (pack2x16float, the layout
// the attention kernels read packed K/V in), half the bytes of float32. Each is widened back to a float32 tensor
// by shaders/unpack_f16.wgsl just before the op that reads it (linear, conv2d in src/model/layers.ts), inside that
// op's tidy, so one layer's float32 copy exists at a time; the math stays float32.
// Tolerance: a weight's value is rounded to f16 (11 significant bits: relative error ≤ 2^-11 ≈ 4.9e-4 in the normal range
// when rounded to nearest; WGSL's pack2x16float may take either neighbour, ≤ 2^-10), so a layer's output moves by about
// that relative to its scale: tested within 2e-3 (src/kernels/packedWeights.test.ts).
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { UnpackF16Program } from './attentionPrograms';
import { PACK_F16_KERNEL } from './fusedAttention';

export const UNPACK_F16_KERNEL = 'DSUnpackF16';

if (!tf.getKernel(UNPACK_F16_KERNEL, 'webgpu')) {
  tf.registerKernel({
    kernelName: UNPACK_F16_KERNEL,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const size = (attrs as unknown as { size: number }).size;
      const x = (inputs as { x: tf.TensorInfo }).x;
      return (backend as WebGPUBackend).runWebGPUProgram(new UnpackF16Program(size), [x], 'float32');
    },
  });
}

/** A float32 tensor of `shape` stored as packed f16 pairs (`packed`: int32 [ceil(size / 2)]). */
export class PackedF16 {
  constructor(
    readonly packed: tf.Tensor1D,
    readonly shape: number[],
  ) {}

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** Bytes on the device (4 per word). */
  get bytes(): number {
    return this.packed.size * 4;
  }

  dispose(): void {
    this.packed.dispose();
  }
}

/** A weight as a network keeps it: a float32 tensor, or (WebGPU, large matrices) packed f16. */
export type Weight<T extends tf.Tensor = tf.Tensor> = T | PackedF16;

/** Packs a float32 tensor on the WebGPU backend (the tensor itself is left to the caller). */
export function packF16(t: tf.Tensor): PackedF16 {
  if (tf.getBackend() !== 'webgpu') throw new Error(`packed f16 weights need the WebGPU backend (active: ${tf.getBackend()})`);
  const packed = tf.engine().runKernel(PACK_F16_KERNEL, { x: t }, {}) as tf.Tensor1D;
  return new PackedF16(packed, [...t.shape]);
}

/**
 * The weight as a float32 tensor: itself, or a new tensor widened from its packed halves (call it inside the
 * tidy of the op that reads it, so the copy is freed with the op's other intermediates).
 */
export function weightTensor<T extends tf.Tensor>(w: Weight<T>): T {
  if (!(w instanceof PackedF16)) return w;
  const flat = tf.engine().runKernel(UNPACK_F16_KERNEL, { x: w.packed }, { size: w.size }) as tf.Tensor;
  return tf.reshape(flat, w.shape) as T;
}

/**
 * What a network's prepare step keeps of a re-laid-out kernel (a new tensor it owns) made from the weight `source`:
 * by default the kernel itself; modelFromWeights (src/engine/pipeline.ts) may pack it and free `source` at once.
 */
export type KeepKernel = <T extends tf.Tensor>(kernel: T, source: string) => Weight<T>;

export const keepAsIs: KeepKernel = (kernel) => kernel;
