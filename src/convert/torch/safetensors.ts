// .safetensors: u64 LE header length, JSON header {name: {dtype, shape, data_offsets}}, raw LE data.
import { CheckpointError } from '../errors';
import type { RandomAccess } from './access';
import { widen, type Checkpoint, type LazyTensor, type TensorDtype } from './types';

const DTYPES: Record<string, [TensorDtype, number]> = {
  F32: ['float32', 4],
  F16: ['float16', 2],
  BF16: ['bfloat16', 2],
  F64: ['float64', 8],
  I64: ['int64', 8],
  I32: ['int32', 4],
  I16: ['int16', 2],
  I8: ['int8', 1],
  U8: ['uint8', 1],
  BOOL: ['bool', 1],
};
const MAX_HEADER = 100 * 2 ** 20;

export function isSafetensors(src: RandomAccess): boolean {
  if (src.size < 10) return false;
  const b = src.read(0, 9);
  const n = Number(new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true));
  return n > 1 && n <= MAX_HEADER && n + 8 <= src.size && b[8] === 0x7b; // '{'
}

export function readSafetensors(file: string, src: RandomAccess): Checkpoint {
  const fail = (d: string) => new CheckpointError(file, d);
  if (src.size < 8) throw fail('truncated .safetensors (no header length)');
  const lenBytes = src.read(0, 8);
  const headerLen = Number(new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLen > MAX_HEADER || headerLen + 8 > src.size)
    throw fail(`header length ${headerLen} is impossible for a ${src.size}-byte file`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(src.read(8, headerLen))) as Record<string, unknown>;
  } catch (e) {
    throw fail(`unreadable JSON header: ${(e as Error).message}`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw fail('header is not a JSON object');
  const dataStart = 8 + headerLen;
  const tensors: Record<string, LazyTensor> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const spec = DTYPES[String(info?.dtype)];
    if (!spec) throw fail(`tensor ${name}: unsupported dtype ${String(info?.dtype)}`);
    const shape = info.shape;
    const offs = info.data_offsets;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      throw fail(`tensor ${name}: bad shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && d >= 0))
      throw fail(`tensor ${name}: bad data_offsets`);
    const [dtype, item] = spec;
    const [begin, end] = offs as number[];
    const numel = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== numel * item)
      throw fail(`tensor ${name}: ${end - begin} bytes for ${shape.join('×')} ${dtype} (expected ${numel * item})`);
    if (dataStart + end > src.size) throw fail(`tensor ${name} lies beyond the end of the file (truncated?)`);
    tensors[name] = { shape: shape as number[], dtype, read: () => widen(src.read(dataStart + begin, end - begin), dtype) };
  }
  const objects: Record<string, unknown> = {};
  if (header.__metadata__) objects.__metadata__ = header.__metadata__;
  return { file, format: 'safetensors', keys: Object.keys(tensors), stateDictKey: '', tensors, objects };
}
