// torch.save (>= 1.6) zip checkpoints: <archive>/data.pkl (pickle) + <archive>/data/<key> (raw LE storages).
// Tensors unpickle as torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …); storages are
// persistent ids ('storage', <StorageClass>, key, location, numel). Any other class becomes a plain object.
// The legacy format (torch < 1.6, or _use_new_zipfile_serialization=False; MinD-Vis-era checkpoints) is
// read too: five pickles back to back — magic number 0x1950a86a20f9469cfc6c, protocol 1001, sys_info,
// the object (same persistent ids, plus a view_metadata field), the sorted storage keys — then, per key
// in that order, an int64 LE element count and the raw LE bytes (torch/serialization.py `_legacy_save`).
import { BufferReader, NameRegistry, Parser } from 'pickleparser';
import { CheckpointError } from '../errors';
import type { RandomAccess } from './access';
import { widen, type Checkpoint, type LazyTensor, type TensorDtype } from './types';
import { isZip, readZipDirectory, readZipEntry, ZipFormatError, type ZipEntry } from './zip';

const STORAGES: Record<string, [TensorDtype, number]> = {
  FloatStorage: ['float32', 4],
  HalfStorage: ['float16', 2],
  BFloat16Storage: ['bfloat16', 2],
  DoubleStorage: ['float64', 8],
  LongStorage: ['int64', 8],
  IntStorage: ['int32', 4],
  ShortStorage: ['int16', 2],
  CharStorage: ['int8', 1],
  ByteStorage: ['uint8', 1],
  BoolStorage: ['bool', 1],
};

/** Marker the storage class names resolve to. */
class StorageType {
  constructor(
    readonly dtype: TensorDtype,
    readonly itemSize: number,
  ) {}
}

class StorageRef {
  constructor(
    readonly type: StorageType,
    readonly key: string,
    readonly numel: number,
  ) {}
}

class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

/** Pickle integers may come back as bigint; tuples as arrays. */
const toInt = (x: unknown): number => (typeof x === 'bigint' ? Number(x) : Number(x));
const toInts = (x: unknown): number[] => (Array.isArray(x) ? x.map(toInt) : []);

function numpyScalar(dtype: unknown, bytes: unknown): unknown {
  const code = (dtype as { code?: string } | undefined)?.code;
  if (!(bytes instanceof Uint8Array) || !code) return { numpyScalar: code, bytes };
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const readers: Partial<Record<string, () => number | boolean>> = {
    f8: () => v.getFloat64(0, true),
    f4: () => v.getFloat32(0, true),
    i8: () => Number(v.getBigInt64(0, true)),
    u8: () => Number(v.getBigUint64(0, true)),
    i4: () => v.getInt32(0, true),
    u4: () => v.getUint32(0, true),
    i2: () => v.getInt16(0, true),
    u2: () => v.getUint16(0, true),
    i1: () => v.getInt8(0),
    u1: () => v.getUint8(0),
    b1: () => v.getUint8(0) !== 0,
  };
  const r = readers[code];
  return r && bytes.length >= Number(code.slice(1)) ? r() : { numpyScalar: code, bytes };
}

function registry(): NameRegistry {
  const r = new NameRegistry();
  for (const [name, [dtype, size]] of Object.entries(STORAGES)) {
    // GLOBAL pushes the registered function itself into the persistent id: it carries the dtype.
    r.register(
      'torch',
      name,
      Object.assign(() => undefined, { storageType: new StorageType(dtype, size) }),
    );
  }
  r.register('torch._utils', '_rebuild_tensor_v2', (storage: unknown, offset: unknown, size: unknown, stride: unknown) => {
    if (!(storage instanceof StorageRef)) throw new Error('tensor without a storage');
    return new TensorRef(storage, toInt(offset), toInts(size), toInts(stride));
  });
  // torch < 1.0 legacy files: the same arguments without the trailing requires_grad/hooks.
  r.register('torch._utils', '_rebuild_tensor', (storage: unknown, offset: unknown, size: unknown, stride: unknown) => {
    if (!(storage instanceof StorageRef)) throw new Error('tensor without a storage');
    return new TensorRef(storage, toInt(offset), toInts(size), toInts(stride));
  });
  r.register('torch._utils', '_rebuild_parameter', (data: unknown) => data);
  r.register('torch._utils', '_rebuild_parameter_with_state', (data: unknown) => data);
  r.register('torch._tensor', '_rebuild_from_type_v2', (func: unknown, _type: unknown, args: unknown) =>
    typeof func === 'function' && Array.isArray(args) ? func(...args) : args,
  );
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
    if (head[0] === 0x80 && head[1] >= 2 && head[1] <= 5) return readTorchLegacy(file, src);
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
    root = tensorParser().parse(pickleBytes);
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw fail(`cannot unpickle data.pkl: ${(e as Error).message}`);
  }
  const storageBytes = (key: string, need: number): Uint8Array => {
    const entry = entries.get(`${prefix}data/${key}`);
    if (!entry) throw new CheckpointError(file, `storage data/${key} is missing from the archive`);
    if (entry.size < need) throw new CheckpointError(file, `storage data/${key} has ${entry.size} bytes, expected ${need}`);
    try {
      return readZipEntry(src, entry);
    } catch (e) {
      throw new CheckpointError(file, (e as Error).message);
    }
  };
  return fromRoot(file, 'torch-zip', root, storageBytes);
}

/** A pickle parser that turns torch storages and tensors into StorageRef / TensorRef. */
function tensorParser(onStorage?: (ref: StorageRef) => void): Parser {
  return new Parser({
    nameResolver: registry(),
    unpicklingTypeOfDictionary: 'Map',
    persistentResolver: {
      resolve: (pid: unknown) => {
        const t = pid as unknown[];
        if (!Array.isArray(t) || t[0] !== 'storage') throw new Error(`unknown persistent id ${JSON.stringify(t)}`);
        const type = (t[1] as { storageType?: unknown } | undefined)?.storageType;
        if (!(type instanceof StorageType)) {
          const cls = t[1] as { prototype?: { __module__?: string; __name__?: string } } | undefined;
          throw new Error(
            `unsupported storage class ${cls?.prototype?.__module__ ?? '?'}.${cls?.prototype?.__name__ ?? '?'} for storage ${String(t[2])}`,
          );
        }
        // Legacy files add view_metadata (t[5]): set only for storage views of torch < 0.4.
        if (t.length > 5 && t[5] !== null && t[5] !== undefined)
          throw new Error(`storage ${String(t[2])} is a view of another storage (torch < 0.4): re-save the checkpoint with torch>=1.6`);
        const ref = new StorageRef(type, String(t[2]), toInt(t[4]));
        onStorage?.(ref);
        return ref;
      },
    },
  });
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

/** The legacy (non-zip) torch.save format; see the file header. */
function readTorchLegacy(file: string, src: RandomAccess): Checkpoint {
  const fail = (detail: string) => new CheckpointError(file, `legacy (non-zip) torch.save file: ${detail}`);
  const bytes = src.read(0, src.size);
  const reader = new BufferReader(bytes);
  const plainParser = () => new Parser({ nameResolver: registry(), unpicklingTypeOfDictionary: 'Map' });
  const storages = new Map<string, StorageRef>();
  let root: unknown;
  let keys: unknown;
  try {
    // The magic number is an 80-bit LONG1 (\x8a\x0a + 10 bytes LE), too long for the pickle parser: compare the bytes.
    const at = bytes[0] === 0x80 ? 2 : 0;
    let magic = 0n;
    for (let i = 9; i >= 0; i--) magic = (magic << 8n) | BigInt(bytes[at + 2 + i] ?? 0);
    if (bytes[at] !== 0x8a || bytes[at + 1] !== 10 || magic !== LEGACY_MAGIC || bytes[at + 12] !== 0x2e) {
      throw fail('no torch.save magic number (a pickle, but not a checkpoint written by torch.save)');
    }
    reader.skip(at + 13);
    const protocol = plainParser().read(reader);
    if (Number(protocol) !== 1001) throw fail(`unsupported protocol ${String(protocol)} (expected 1001)`);
    plainParser().read(reader); // sys_info: byte order, type sizes
    root = tensorParser((ref) => storages.set(ref.key, ref)).read(reader);
    keys = plainParser().read(reader);
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw fail(`cannot unpickle: ${(e as Error).message}`);
  }
  if (!Array.isArray(keys)) throw fail('the storage key list is missing');
  // Each storage in the key list's order: int64 LE element count, then numel × item size raw bytes.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const data = new Map<string, Uint8Array>();
  let offset = reader.position;
  for (const k of keys.map(String)) {
    const ref = storages.get(k);
    if (!ref) throw fail(`storage ${k} is listed but used by no tensor`);
    if (offset + 8 > bytes.length) throw fail(`truncated before storage ${k}`);
    const numel = Number(view.getBigInt64(offset, true));
    if (numel !== ref.numel) throw fail(`storage ${k} holds ${numel} elements, the pickle says ${ref.numel}`);
    const end = offset + 8 + numel * ref.type.itemSize;
    if (!Number.isSafeInteger(end) || end > bytes.length) throw fail(`truncated inside storage ${k}`);
    data.set(k, bytes.subarray(offset + 8, end));
    offset = end;
  }
  return fromRoot(file, 'torch-legacy', root, (key, need) => {
    const d = data.get(key);
    if (!d) throw fail(`storage ${key} is not in the file`);
    if (d.byteLength < need) throw fail(`storage ${key} has ${d.byteLength} bytes, expected ${need}`);
    return d;
  });
}

/** The state dict and the other top-level objects of an unpickled checkpoint, with lazy tensors. */
function fromRoot(
  file: string,
  format: Checkpoint['format'],
  root: unknown,
  storageBytes: (key: string, need: number) => Uint8Array,
): Checkpoint {
  const lazy = (ref: TensorRef): LazyTensor => ({
    shape: ref.shape,
    dtype: ref.storage.type.dtype,
    read: () => materialise(file, storageBytes, ref),
  });
  const top = root instanceof Map ? root : new Map<unknown, unknown>([['', root]]);
  const keys = [...top.keys()].map(String);
  let stateDictKey = '';
  let dict: Map<unknown, unknown> | undefined;
  if (isTensorDict(root)) dict = root as Map<unknown, unknown>;
  else {
    for (const k of STATE_DICT_KEYS) {
      if (isTensorDict(top.get(k))) {
        stateDictKey = k;
        dict = top.get(k) as Map<unknown, unknown>;
        break;
      }
    }
  }
  if (!dict)
    throw new CheckpointError(
      file,
      `no state dict found (looked for a dict of tensors at the top level or under ${STATE_DICT_KEYS.join(', ')}; keys: ${keys.join(', ')})`,
    );
  const tensors: Record<string, LazyTensor> = {};
  for (const [k, v] of dict) if (v instanceof TensorRef) tensors[String(k)] = lazy(v);
  const objects: Record<string, unknown> = {};
  if (dict !== root) {
    for (const [k, v] of top) {
      if (String(k) === stateDictKey) continue;
      objects[String(k)] = replaceTensors(plain(v), lazy);
    }
  }
  return { file, format, keys, stateDictKey, tensors, objects };
}

function replaceTensors(x: unknown, lazy: (r: TensorRef) => LazyTensor): unknown {
  if (x instanceof TensorRef) return lazy(x);
  if (Array.isArray(x)) return x.map((v) => replaceTensors(v, lazy));
  if (x && typeof x === 'object' && !ArrayBuffer.isView(x)) {
    for (const [k, v] of Object.entries(x)) (x as Record<string, unknown>)[k] = replaceTensors(v, lazy);
  }
  return x;
}

function materialise(file: string, storageBytes: (key: string, need: number) => Uint8Array, t: TensorRef): Float32Array {
  const { storage, offset, shape, stride } = t;
  const item = storage.type.itemSize;
  const numel = shape.reduce((a, b) => a * b, 1);
  if (shape.length !== stride.length)
    throw new CheckpointError(file, `tensor on storage ${storage.key}: ${shape.length} sizes but ${stride.length} strides`);
  if (numel === 0) return new Float32Array(0);
  let last = offset;
  for (let d = 0; d < shape.length; d++) last += (shape[d] - 1) * stride[d];
  if (offset < 0 || last >= storage.numel) {
    throw new CheckpointError(
      file,
      `tensor ${shape.join('×')} (offset ${offset}, strides ${stride.join(',')}) lies outside its storage of ${storage.numel} elements`,
    );
  }
  const bytes = storageBytes(storage.key, storage.numel * item);
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
      if (++idx[d] < shape[d]) {
        at += stride[d];
        break;
      }
      at -= (shape[d] - 1) * stride[d];
      idx[d] = 0;
    }
  }
  return out;
}
