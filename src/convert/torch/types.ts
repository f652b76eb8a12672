// What the checkpoint readers return: tensors by name, read on demand, values widened to float32.
import { unpackBFloat16, unpackFloat16 } from '../../io/fp16';

export type TensorDtype = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

export interface LazyTensor {
  shape: number[];
  /** Dtype in the file. */
  dtype: TensorDtype;
  /** Values in C order (strides and storage offset applied), as float32. */
  read(): Float32Array;
}

export interface LoadedTensor {
  shape: number[];
  dtype: TensorDtype;
  data: Float32Array;
}

export interface Checkpoint {
  file: string;
  format: 'torch-zip' | 'torch-legacy' | 'safetensors';
  /** Keys of the top-level dict (torch) or of the header (safetensors, without __metadata__). */
  keys: string[];
  /** Which top-level key held the state dict ('' when the top level is the state dict itself). */
  stateDictKey: string;
  /** The state dict's tensors. */
  tensors: Record<string, LazyTensor>;
  /** Top-level entries other than the state dict (configs, epoch, …) as plain JS values; tensors inside are LazyTensor. */
  objects: Record<string, unknown>;
}

export function loadAll(tensors: Record<string, LazyTensor>): Record<string, LoadedTensor> {
  const out: Record<string, LoadedTensor> = {};
  for (const [name, t] of Object.entries(tensors)) out[name] = { shape: t.shape, dtype: t.dtype, data: t.read() };
  return out;
}

/** Little-endian raw values of a dtype → float32 (int64 beyond 2^24 loses precision, as any float32 would). */
export function widen(bytes: Uint8Array, dtype: TensorDtype): Float32Array {
  const buf = bytes.slice().buffer;
  switch (dtype) {
    case 'float32':
      return new Float32Array(buf);
    case 'float16':
      return unpackFloat16(new Uint16Array(buf));
    case 'bfloat16':
      return unpackBFloat16(new Uint16Array(buf));
    case 'float64':
      return Float32Array.from(new Float64Array(buf));
    case 'int64':
      return Float32Array.from(new BigInt64Array(buf), (v) => Number(v));
    case 'int32':
      return Float32Array.from(new Int32Array(buf));
    case 'int16':
      return Float32Array.from(new Int16Array(buf));
    case 'int8':
      return Float32Array.from(new Int8Array(buf));
    case 'uint8':
    case 'bool':
      return Float32Array.from(bytes);
  }
}
