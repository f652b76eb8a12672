// tfjs WebGPUProgram wrappers for shaders/cross_attention.wgsl, shaders/flash_attention.wgsl and
// shaders/pack_f16.wgsl / unpack_f16.wgsl. tfjs generates the bindings (result, then Q, K, V), the uniform struct and _start;
// the WGSL files supply main() and the wrapper prepends the load functions of the storage precision.
import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { shaderSource, type ShaderName } from './shaderSource';

/** How Q/K/V are stored: float32, or f16 pairs packed in int32 words (read with or without shader-f16). */
export type AttentionStorage = 'f32' | 'f16-packed' | 'f16-native';

export interface AttentionGeometry {
  batch: number;
  queries: number; // N
  keys: number; // M
  width: number; // C = heads · headDim
  numHeads: number;
}

/** An `const NAME : i32 = <integer>;` of a WGSL file: the tile sizes live in the shaders only. */
function wgslConst(shader: ShaderName, name: string): number {
  const match = new RegExp(`const ${name} : i32 = (\\d+);`).exec(shaderSource(shader));
  if (!match) throw new Error(`shaders/${shader}.wgsl has no integer constant ${name}`);
  return Number(match[1]);
}

export const CROSS_MAX_KEYS = wgslConst('cross_attention', 'MAX_KEYS');
export const FLASH_MAX_HEAD_DIM = wgslConst('flash_attention', 'MAX_D');
export const MAX_WORKGROUPS_PER_DIM = 65535;

const loadShader: Record<AttentionStorage, ShaderName> = {
  f32: 'attention_load_f32',
  'f16-packed': 'attention_load_f16packed',
  'f16-native': 'attention_load_f16',
};

/** Uniform values in the order of the programs' `uniforms` string. */
export function attentionUniforms(g: AttentionGeometry, scale: number): Array<{ type: string; data: number[] }> {
  return [
    { type: 'int32', data: [g.numHeads] },
    { type: 'int32', data: [g.width / g.numHeads] },
    { type: 'int32', data: [g.queries] },
    { type: 'int32', data: [g.keys] },
    { type: 'int32', data: [g.width] },
    { type: 'float32', data: [scale] },
  ];
}

abstract class AttentionProgram implements WebGPUProgram {
  variableNames = ['Q', 'K', 'V'];
  outputShape: number[];
  abstract shaderKey: string;
  // Rank 2 ≠ output rank 3 and a y entry: tfjs then calls main() with no index and adds no coordinate helpers.
  dispatchLayout = { x: [1], y: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  uniforms = 'numHeads : i32, headDim : i32, queries : i32, keys : i32, width : i32, scale : f32,';

  constructor(
    g: AttentionGeometry,
    readonly storage: AttentionStorage,
    private readonly kernel: ShaderName,
  ) {
    this.outputShape = [g.batch, g.queries, g.width];
    this.workgroupSize = [wgslConst(kernel, 'WORKGROUP'), 1, 1];
    this.dispatch = [Math.ceil(g.queries / wgslConst(kernel, 'BR')), g.batch * g.numHeads, 1];
  }

  getUserCode(): string {
    return `${shaderSource(loadShader[this.storage])}\n${shaderSource(this.kernel)}`;
  }
}

/** Exact-softmax attention for M ≤ CROSS_MAX_KEYS keys, any head width. */
export class CrossAttentionProgram extends AttentionProgram {
  shaderKey: string;
  constructor(g: AttentionGeometry, storage: AttentionStorage) {
    super(g, storage, 'cross_attention');
    this.shaderKey = `ds_cross_attention_${storage}`;
  }
}

/**
 * cross_attention_weights.wgsl (issue 14): the cross kernel that also writes its softmax weights. Output
 * [B, N, C + numHeads·M]: per query row the C output values, then the weights head by head.
 */
export class CrossAttentionWeightsProgram extends AttentionProgram {
  shaderKey: string;
  constructor(g: AttentionGeometry, storage: AttentionStorage) {
    super(g, storage, 'cross_attention_weights');
    this.outputShape = [g.batch, g.queries, g.width + g.numHeads * g.keys];
    this.shaderKey = `ds_cross_attention_weights_${storage}`;
  }
}

/** Online-softmax attention for any M, head width ≤ FLASH_MAX_HEAD_DIM. */
export class FlashAttentionProgram extends AttentionProgram {
  shaderKey: string;
  constructor(g: AttentionGeometry, storage: AttentionStorage) {
    super(g, storage, 'flash_attention');
    this.shaderKey = `ds_flash_attention_${storage}`;
  }
}

/** float32 tensor (any shape, read flat) → int32 [ceil(size / 2)] of packed f16 pairs. */
export class PackF16Program implements WebGPUProgram {
  variableNames = ['X'];
  outputShape: number[];
  shaderKey = 'ds_pack_f16';
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;
  uniforms = 'xSize : i32,';

  constructor(size: number) {
    const words = Math.ceil(size / 2);
    this.outputShape = [words];
    this.dispatchLayout = { x: [0] };
    // tfjs folds a flat dispatch past the per-dimension limit into y (and z) itself.
    this.dispatch = [Math.ceil(words / this.workgroupSize[0]), 1, 1];
  }

  getUserCode(): string {
    return shaderSource('pack_f16');
  }
}

/** int32 [ceil(size / 2)] of packed f16 pairs (PackF16Program's layout) → float32 of `shape` (size elements). */
export class UnpackF16Program implements WebGPUProgram {
  variableNames = ['X'];
  outputShape: number[];
  shaderKey = 'ds_unpack_f16';
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;

  constructor(size: number) {
    this.outputShape = [size];
    this.dispatchLayout = { x: [0] };
    this.dispatch = [Math.ceil(size / this.workgroupSize[0]), 1, 1];
  }

  getUserCode(): string {
    return shaderSource('unpack_f16');
  }
}
