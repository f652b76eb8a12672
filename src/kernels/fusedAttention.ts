// Fused attention kernels registered as tfjs kernels of the 'webgpu' backend (so they show up in tf.profile
// and run in tfjs's command stream), plus the choice of kernel and storage precision for a call.
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import {
  attentionUniforms,
  CROSS_MAX_KEYS,
  CrossAttentionProgram,
  CrossAttentionWeightsProgram,
  FLASH_MAX_HEAD_DIM,
  FlashAttentionProgram,
  MAX_WORKGROUPS_PER_DIM,
  PackF16Program,
  type AttentionGeometry,
  type AttentionStorage,
} from './attentionPrograms';

export const CROSS_ATTENTION_KERNEL = 'DSCrossAttention';
export const FLASH_ATTENTION_KERNEL = 'DSFlashAttention';
export const PACK_F16_KERNEL = 'DSPackF16';
export const CROSS_ATTENTION_WEIGHTS_KERNEL = 'DSCrossAttentionWeights';

/** Precision of the fused path: 'f16' stores Q/K/V as f16 (math stays f32); see docs/kernels.md for tolerances. */
export type AttentionPrecision = 'f32' | 'f16';

/** f16 storage variant for a device: native f16 loads only where the device enabled shader-f16. */
export function f16StorageFor(features: { has(name: string): boolean }): AttentionStorage {
  return features.has('shader-f16') ? 'f16-native' : 'f16-packed';
}

type AttentionAttrs = AttentionGeometry & { scale: number; storage: AttentionStorage };

// `enable f16;` must precede every declaration, but tfjs puts its own declarations before getUserCode().
// Shaders that need it carry the marker line `//!enable f16`; this hook moves the directive to the top.
const hookedDevices = new WeakSet<GPUDevice>();
export function hookEnableF16(device: GPUDevice): void {
  if (hookedDevices.has(device)) return;
  hookedDevices.add(device);
  const create = device.createShaderModule.bind(device);
  device.createShaderModule = (desc: GPUShaderModuleDescriptor) =>
    create(desc.code.includes('//!enable f16') ? { ...desc, code: `enable f16;\n${desc.code}` } : desc);
}

function attentionKernel(
  Program: typeof CrossAttentionProgram | typeof FlashAttentionProgram | typeof CrossAttentionWeightsProgram,
): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { q, k, v } = inputs as { q: tf.TensorInfo; k: tf.TensorInfo; v: tf.TensorInfo };
    const a = attrs as unknown as AttentionAttrs;
    const gpu = backend as WebGPUBackend;
    if (a.storage === 'f16-native') hookEnableF16(gpu.device);
    return gpu.runWebGPUProgram(new Program(a, a.storage), [q, k, v], 'float32', attentionUniforms(a, a.scale));
  };
}

function registerOnce(kernelName: string, kernelFunc: tf.KernelFunc): void {
  if (!tf.getKernel(kernelName, 'webgpu')) tf.registerKernel({ kernelName, backendName: 'webgpu', kernelFunc });
}
registerOnce(CROSS_ATTENTION_KERNEL, attentionKernel(CrossAttentionProgram));
registerOnce(FLASH_ATTENTION_KERNEL, attentionKernel(FlashAttentionProgram));
registerOnce(CROSS_ATTENTION_WEIGHTS_KERNEL, attentionKernel(CrossAttentionWeightsProgram));
registerOnce(PACK_F16_KERNEL, ({ inputs, backend }) => {
  const x = (inputs as { x: tf.TensorInfo }).x;
  const size = tf.util.sizeFromShape(x.shape);
  return (backend as WebGPUBackend).runWebGPUProgram(new PackF16Program(size), [x], 'int32', [{ type: 'int32', data: [size] }]);
});

/** Which fused kernel handles this geometry, or null when only the composed path can (see docs/kernels.md). */
export function fusedKernelFor(g: AttentionGeometry): string | null {
  // Workgroup grid: (row tiles, batch·heads); queries ≤ the limit keeps the row tiles well inside it too.
  if (g.batch * g.numHeads > MAX_WORKGROUPS_PER_DIM || g.queries > MAX_WORKGROUPS_PER_DIM) return null;
  if (g.keys <= CROSS_MAX_KEYS) return CROSS_ATTENTION_KERNEL;
  if (g.width / g.numHeads <= FLASH_MAX_HEAD_DIM) return FLASH_ATTENTION_KERNEL;
  return null;
}

/**
 * The fused WebGPU path for already validated [B, N, C] / [B, M, C] inputs, or null when the active backend
 * is not WebGPU or the shapes exceed what the kernels support.
 */
export function fusedAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  numHeads: number,
  scale: number,
  precision: AttentionPrecision = 'f32',
): tf.Tensor3D | null {
  if (tf.getBackend() !== 'webgpu' || [q, k, v].some((t) => t.dtype !== 'float32')) return null;
  const [batch, queries, width] = q.shape as [number, number, number];
  const geometry: AttentionGeometry = { batch, queries, keys: k.shape[1] as number, width, numHeads };
  const kernel = fusedKernelFor(geometry);
  if (!kernel) return null;
  if (precision === 'f32') {
    return tf.engine().runKernel(kernel, { q, k, v }, { ...geometry, scale, storage: 'f32' }) as tf.Tensor3D;
  }
  const storage = f16StorageFor((tf.backend() as WebGPUBackend).device.features);
  return tf.tidy(() => {
    const [qh, kh, vh] = [q, k, v].map((t) => tf.engine().runKernel(PACK_F16_KERNEL, { x: t }, {}) as tf.Tensor);
    return tf.engine().runKernel(kernel, { q: qh, k: kh, v: vh }, { ...geometry, scale, storage }) as tf.Tensor3D;
  });
}

/**
 * Issue 14: the fused cross kernel's variant that also writes its softmax weights, for validated f32 inputs
 * on WebGPU with M ≤ CROSS_MAX_KEYS (the 77 context tokens): out [B, N, C] and weights [B, heads, N, M]; null
 * elsewhere (the caller falls back to the composed ops). Only called when maps are asked for; its pipeline is
 * compiled on first use, so the normal path neither compiles nor runs it.
 */
export function fusedAttentionWithWeights(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  numHeads: number,
  scale: number,
): { out: tf.Tensor3D; weights: tf.Tensor4D } | null {
  if (tf.getBackend() !== 'webgpu' || [q, k, v].some((t) => t.dtype !== 'float32')) return null;
  const [batch, queries, width] = q.shape as [number, number, number];
  const keys = k.shape[1] as number;
  const geometry: AttentionGeometry = { batch, queries, keys, width, numHeads };
  if (fusedKernelFor(geometry) !== CROSS_ATTENTION_KERNEL) return null;
  return tf.tidy(() => {
    const both = tf.engine().runKernel(CROSS_ATTENTION_WEIGHTS_KERNEL, { q, k, v }, { ...geometry, scale, storage: 'f32' }) as tf.Tensor3D;
    const out = tf.slice(both, [0, 0, 0], [batch, queries, width]) as tf.Tensor3D;
    const w = tf.reshape(tf.slice(both, [0, 0, width], [batch, queries, numHeads * keys]), [batch, queries, numHeads, keys]);
    return { out, weights: tf.transpose(w, [0, 2, 1, 3]) as tf.Tensor4D };
  });
}

/**
 * Compiles the fused attention pipelines for the given precisions without running them (tfjs's
 * WEBGPU_ENGINE_COMPILE_ONLY mode), so that the first denoising step does not pay for shader compilation.
 * Pipelines are cached per kernel, storage and ranks, not per size, so one tiny call per kernel covers all shapes.
 */
export async function precompileAttentionKernels(precisions: AttentionPrecision[] = ['f32']): Promise<void> {
  if (tf.getBackend() !== 'webgpu') return;
  const backend = tf.backend() as WebGPUBackend;
  const compileOnly = tf.env().getBool('WEBGPU_ENGINE_COMPILE_ONLY');
  tf.env().set('WEBGPU_ENGINE_COMPILE_ONLY', true);
  try {
    tf.tidy(() => {
      for (const p of precisions) {
        for (const keys of [1, CROSS_MAX_KEYS + 1]) {
          // the cross kernel, then flash
          const q = tf.zeros([1, 1, 4]),
            kv = tf.zeros([1, keys, 4]);
          fusedAttention(q, kv, kv, 1, 1, p);
        }
      }
    });
  } finally {
    tf.env().set('WEBGPU_ENGINE_COMPILE_ONLY', compileOnly);
  }
  await backend.checkCompileCompletionAsync();
}
