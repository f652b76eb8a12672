// torch.save (>= 1.6) zip checkpoints: <archive>/data.pkl (pickle) + <archive>/data/<key> (raw LE storages).
// Tensors unpickle as torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …); storages are
// persistent ids ('storage', <StorageClass>, key, location, numel). Any other class becomes a plain object.
import { NameRegistry, Parser } from 'pickleparser';
import { CheckpointError } from '../errors';
import type { RandomAccess } from './access';
import { widen, type Checkpoint, type LazyTensor, type TensorDtype } from './types';
import { isZip, readZipDirectory, readZipEntry, ZipFormatError, type ZipEntry } from './zip';

const STORAGES: Record<string, [TensorDtype, number]> = {
  FloatStorage: ['float32', 4], HalfStorage: ['float16', 2], BFloat16Storage: ['bfloat16', 2], DoubleStorage: ['float64', 8],
  LongStorage: ['int64', 8], IntStorage: ['int32', 4], ShortStorage: ['int16', 2], CharStorage: ['int8', 1],
  ByteStorage: ['uint8', 1], BoolStorage: ['bool', 1],
};

/** Marker the storage class names resolve to. */
class StorageType {
  constructor(readonly dtype: TensorDtype, readonly itemSize: number) {}
}

class StorageRef {
  constructor(readonly type: StorageType, readonly key: string, readonly numel: number) {}
}

class TensorRef {
  constructor(readonly storage: StorageRef, readonly offset: number, readonly shape: number[], readonly stride: number[]) {}
}

/** Pickle integers may come back as bigint; tuples as arrays. */
const toInt = (x: unknown): number => (typeof x === 'bigint' ? Number(x) : Number(x));
const toInts = (x: unknown): number[] => (Array.isArray(x) ? x.map(toInt) : []);

function numpyScalar(dtype: unknown, bytes: unknown): unknown {
  const code = (dtype as { code?: string } | undefined)?.code;
  if (!(bytes instanceof Uint8Array) || !code) return { numpyScalar: code, bytes };
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const readers: Partial<Record<string, () => number | boolean>> = {
    f8: () => v.getFloat64(0, true), f4: () => v.getFloat32(0, true), i8: () => Number(v.getBigInt64(0, true)),
    u8: () => Number(v.getBigUint64(0, true)), i4: () => v.getInt32(0, true), u4: () => v.getUint32(0, true),
    i2: () => v.getInt16(0, true), u2: () => v.getUint16(0, true), i1: () => v.getInt8(0), u1: () => v.getUint8(0),
    b1: () => v.getUint8(0) !== 0,
  };
  const r = readers[code];
  return r && bytes.length >= Number(code.slice(1)) ? r() : { numpyScalar: code, bytes };
}

function registry(): NameRegistry {
  const r = new NameRegistry();
  for (const [name, [dtype, size]] of Object.entries(STORAGES)) {
    // GLOBAL pushes the registered function itself into the persistent id: it carries the dtype.
    r.register('torch', name, Object.assign(() => undefined, { storageType: new StorageType(dtype, size) }));
  }
  r.register('torch._utils', '_rebuild_tensor_v2', (storage: unknown, offset: unknown, size: unknown, stride: unknown) => {
    if (!(storage instanceof StorageRef)) throw new Error('tensor without a storage');
    return new TensorRef(storage, toInt(offset), toInts(size), toInts(stride));
  });
  r.register('torch._utils', '_rebuild_parameter', (data: unknown) => data);
  r.register('torch._utils', '_rebuild_parameter_with_state', (data: unknown) => data);
  r.register('torch._tensor', '_rebuild_from_type_v2', (func: unknown, _type: unknown, args: unknown) =>
    typeof func === 'function' && Array.isArray(args) ? func(...args) : args);
  r.register('collections', 'OrderedDict', () => new Map());
  // NumPy scalars (e.g. an epoch counter saved as np.int64): dtype(...) then scalar(dtype, bytes).
  const dtype = (code: unknown) => ({ code: String(code).replace(/^[<>|=]/, ''), __setstate__: () => undefined });
  r.register('numpy', 'dtype', dtype);
  // Pickle protocol 2 (torch.save's) writes bytes objects as _codecs.encode(latin-1 text, 'latin1').
  r.register('_codecs', 'encode', (text: unknown) => Uint8Array.from(String(text), (c) => c.charCodeAt(0) & 0xff));
  r.register('numpy.core.multiarray', 'scalar', numpyScalar);
  r.register('numpy._core.multiarray', 'scalar', numpyScalar);
  return r;
}

/** Unpickled values → plain JS: Maps become objects (string keys), class instances keep their fields. */
function plain(x: unknown, seen = new Set<unknown>()): unknown {
  if (x instanceof TensorRef || x === null || typeof x !== 'object') return x;
  if (seen.has(x)) return undefined;
  seen.add(x);
  if (x instanceof Map) return Object.fromEntries([...x].map(([k, v]) => [String(k), plain(v, seen)]));
  if (Array.isArray(x)) return x.map((v) => plain(v, seen));
  if (ArrayBuffer.isView(x)) return x;
  const out: Record<string, unknown> = {};
  const proto = Object.getPrototypeOf(x) as { __module__?: string; __name__?: string } | null;
  if (proto?.__module__ && proto.__name__) out.__class__ = `${proto.__module__}.${proto.__name__}`;
  for (const [k, v] of Object.entries(x)) out[k] = plain(v, seen);
  return out;
}

function isTensorDict(x: unknown): x is Map<unknown, unknown> {
  if (!(x instanceof Map) || x.size === 0) return false;
  let tensors = 0;
  for (const v of x.values()) if (v instanceof TensorRef) tensors++;
  return tensors > 0 && tensors >= x.size / 2;
}

/** Order in which the state dict is looked for: phase-3, CompVis/Lightning, phase-1/2. */
export const STATE_DICT_KEYS = ['model_state_dict', 'state_dict', 'model'];

export function readTorchZip(file: string, src: RandomAccess): Checkpoint {
  const fail = (detail: string) => new CheckpointError(file, detail);
  if (!isZip(src)) {
    const head = src.read(0, Math.min(16, src.size));
    if (head[0] === 0x80 && head[1] >= 2 && head[1] <= 5) {
      throw fail('unsupported legacy (non-zip) torch.save format: re-save it with torch>=1.6 (torch.save(torch.load(f), f))');
    }
    throw fail('not a PyTorch checkpoint (expected a zip archive written by torch.save)');
  }
  let entries: Map<string, ZipEntry>;
  let pickleBytes: Uint8Array;
  let prefix: string;
  try {
    entries = readZipDirectory(src);
    const pkl = [...entries.keys()].find((n) => n === 'data.pkl' || n.endsWith('/data.pkl'));
    if (!pkl) throw fail(`no data.pkl in the archive (entries: ${[...entries.keys()].slice(0, 5).join(', ')})`);
    prefix = pkl.slice(0, -'data.pkl'.length);
    pickleBytes = readZipEntry(src, entries.get(pkl)!);
  } catch (e) {
    if (e instanceof ZipFormatError) throw fail(e.message);
    throw e;
  }
  let root: unknown;
  try {
    const parser = new Parser({
      nameResolver: registry(),
      unpicklingTypeOfDictionary: 'Map',
      persistentResolver: {
        resolve: (pid: unknown) => {
          const t = pid as unknown[];
          if (!Array.isArray(t) || t[0] !== 'storage') throw new Error(`unknown persistent id ${JSON.stringify(t)}`);
          const type = (t[1] as { storageType?: unknown } | undefined)?.storageType;
          if (!(type instanceof StorageType)) {
            const cls = t[1] as { prototype?: { __module__?: string; __name__?: string } } | undefined;
            throw new Error(`unsupported storage class ${cls?.prototype?.__module__ ?? '?'}.${cls?.prototype?.__name__ ?? '?'} for storage ${String(t[2])}`);
          }
          return new StorageRef(type, String(t[2]), toInt(t[4]));
        },
      },
    });
    root = parser.parse(pickleBytes);
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw fail(`cannot unpickle data.pkl: ${(e as Error).message}`);
  }
  const lazy = (ref: TensorRef): LazyTensor => ({
    shape: ref.shape,
    dtype: ref.storage.type.dtype,
    read: () => materialise(file, src, entries, prefix, ref),
  });
  const top = root instanceof Map ? root : new Map<unknown, unknown>([['', root]]);
  const keys = [...top.keys()].map(String);
  let stateDictKey = '';
  let dict: Map<unknown, unknown> | undefined;
  if (isTensorDict(root)) dict = root as Map<unknown, unknown>;
  else {
    for (const k of STATE_DICT_KEYS) {
      if (isTensorDict(top.get(k))) { stateDictKey = k; dict = top.get(k) as Map<unknown, unknown>; break; }
    }
  }
  if (!dict) throw fail(`no state dict found (looked for a dict of tensors at the top level or under ${STATE_DICT_KEYS.join(', ')}; keys: ${keys.join(', ')})`);
  const tensors: Record<string, LazyTensor> = {};
  for (const [k, v] of dict) if (v instanceof TensorRef) tensors[String(k)] = lazy(v);
  const objects: Record<string, unknown> = {};
  if (dict !== root) {
    for (const [k, v] of top) {
      if (String(k) === stateDictKey) continue;
      objects[String(k)] = replaceTensors(plain(v), lazy);
    }
  }
  return { file, format: 'torch-zip', keys, stateDictKey, tensors, objects };
}

function replaceTensors(x: unknown, lazy: (r: TensorRef) => LazyTensor): unknown {
  if (x instanceof TensorRef) return lazy(x);
  if (Array.isArray(x)) return x.map((v) => replaceTensors(v, lazy));
  if (x && typeof x === 'object' && !ArrayBuffer.isView(x)) {
    for (const [k, v] of Object.entries(x)) (x as Record<string, unknown>)[k] = replaceTensors(v, lazy);
  }
  return x;
}

function materialise(file: string, src: RandomAccess, entries: Map<string, ZipEntry>, prefix: string, t: TensorRef): Float32Array {
  const { storage, offset, shape, stride } = t;
  const entry = entries.get(`${prefix}data/${storage.key}`);
  if (!entry) throw new CheckpointError(file, `storage data/${storage.key} is missing from the archive`);
  const item = storage.type.itemSize;
  if (entry.size < storage.numel * item) {
    throw new CheckpointError(file, `storage data/${storage.key} has ${entry.size} bytes, expected ${storage.numel} × ${item}`);
  }
  const numel = shape.reduce((a, b) => a * b, 1);
  if (shape.length !== stride.length) throw new CheckpointError(file, `tensor on storage ${storage.key}: ${shape.length} sizes but ${stride.length} strides`);
  if (numel === 0) return new Float32Array(0);
  let last = offset;
  for (let d = 0; d < shape.length; d++) last += (shape[d] - 1) * stride[d];
  if (offset < 0 || last >= storage.numel) {
    throw new CheckpointError(file, `tensor ${shape.join('×')} (offset ${offset}, strides ${stride.join(',')}) lies outside its storage of ${storage.numel} elements`);
  }
  let bytes: Uint8Array;
  try {
    bytes = readZipEntry(src, entry);
  } catch (e) {
    throw new CheckpointError(file, (e as Error).message);
  }
  // Contiguous: one slice. Otherwise widen the storage once and gather by strides.
  let contiguous = true;
  for (let d = shape.length - 1, s = 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== s) contiguous = false;
    s *= shape[d];
  }
  if (contiguous) return widen(bytes.subarray(offset * item, (offset + numel) * item), storage.type.dtype);
  const all = widen(bytes.subarray(0, storage.numel * item), storage.type.dtype);
  const out = new Float32Array(numel);
  const idx = new Array<number>(shape.length).fill(0);
  let at = offset;
  for (let i = 0; i < numel; i++) {
    out[i] = all[at];
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) { at += stride[d]; break; }
      at -= (shape[d] - 1) * stride[d];
      idx[d] = 0;
    }
  }
  return out;
}
