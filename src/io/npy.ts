// NumPy .npy format v1/v2/v3 (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html).
// Reading validates everything it trusts: magic, header length, dtype, shape against the byte count.
export type NpyDtype = 'f2' | 'f4' | 'f8' | 'i1' | 'u1' | 'i2' | 'u2' | 'i4' | 'u4' | 'i8' | 'u8' | 'b1';

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  /** Values in C order, widened to Float32Array for f2; BigInt64Array/BigUint64Array for 8-byte ints. */
  data: Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;
}

export class NpyFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NpyFormatError';
  }
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ITEM: Record<NpyDtype, number> = { f2: 2, f4: 4, f8: 8, i1: 1, u1: 1, i2: 2, u2: 2, i4: 4, u4: 4, i8: 8, u8: 8, b1: 1 };
/** Refuse arrays larger than this many elements (a malicious header can claim anything). */
const MAX_ELEMENTS = 2 ** 31 - 1;

export function float16ToFloat32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

function parseHeader(text: string): { descr: string; fortran: boolean; shape: number[] } {
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new NpyFormatError(`malformed .npy header: ${JSON.stringify(text.slice(0, 120))}`);
  }
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map((s) => {
    if (!/^\d+$/.test(s)) throw new NpyFormatError(`malformed .npy shape (${shapeText})`);
    return Number(s);
  });
  return { descr, fortran: fortran === 'True', shape };
}

function normaliseDtype(descr: string): { dtype: NpyDtype; bigEndian: boolean } {
  const m = /^([<>|=]?)([fiub])(\d+)$/.exec(descr);
  if (!m) throw new NpyFormatError(`unsupported .npy dtype '${descr}' (numeric arrays only)`);
  const dtype = `${m[2]}${m[3]}` as NpyDtype;
  if (!(dtype in ITEM)) throw new NpyFormatError(`unsupported .npy dtype '${descr}'`);
  return { dtype, bigEndian: m[1] === '>' && ITEM[dtype] > 1 };
}

/** Fortran-order [d0..dn] data → C order, element-wise. */
function toCOrder<T extends NpyArray['data']>(src: T, shape: number[]): T {
  const n = src.length;
  const out = new (src.constructor as new (n: number) => T)(n);
  const nd = shape.length;
  const idx = new Array<number>(nd).fill(0);
  const fStride = new Array<number>(nd);
  let s = 1;
  for (let d = 0; d < nd; d++) { fStride[d] = s; s *= shape[d]; }
  for (let c = 0; c < n; c++) {
    let f = 0;
    for (let d = 0; d < nd; d++) f += idx[d] * fStride[d];
    (out as unknown as number[])[c] = (src as unknown as number[])[f];
    for (let d = nd - 1; d >= 0; d--) { if (++idx[d] < shape[d]) break; idx[d] = 0; }
  }
  return out;
}

export interface NpyHeader {
  dtype: NpyDtype;
  bigEndian: boolean;
  fortran: boolean;
  shape: number[];
  /** Byte offset of the data. */
  dataOffset: number;
}

/** Parse and validate the header only (cheap: lets callers refuse absurd shapes before reading data). */
export function readNpyHeader(bytes: Uint8Array): NpyHeader {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new NpyFormatError('not a .npy file (the \\x93NUMPY magic is missing)');
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number, headerStart: number;
  if (major === 1) { headerLen = view.getUint16(8, true); headerStart = 10; }
  else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new NpyFormatError('truncated .npy header');
    headerLen = view.getUint32(8, true); headerStart = 12;
  } else throw new NpyFormatError(`unsupported .npy version ${major}`);
  if (headerStart + headerLen > bytes.length) throw new NpyFormatError('truncated .npy header');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, headerStart + headerLen));
  const { descr, fortran, shape } = parseHeader(header);
  const { dtype, bigEndian } = normaliseDtype(descr);
  return { dtype, bigEndian, fortran, shape, dataOffset: headerStart + headerLen };
}

export function readNpy(bytes: Uint8Array): NpyArray {
  const { dtype, bigEndian, fortran, shape, dataOffset: start } = readNpyHeader(bytes);
  const count = shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(count) || count > MAX_ELEMENTS) throw new NpyFormatError(`absurd .npy shape (${shape.join('×')})`);
  const item = ITEM[dtype];
  const need = count * item;
  if (bytes.length - start < need) {
    throw new NpyFormatError(`truncated .npy data: shape ${shape.join('×')} ${dtype} needs ${need} bytes, file has ${bytes.length - start}`);
  }
  // Copy into an aligned buffer (and swap bytes for big-endian data).
  const raw = bytes.slice(start, start + need);
  if (bigEndian) for (let i = 0; i < need; i += item) raw.subarray(i, i + item).reverse();
  const buf = raw.buffer;
  let data: NpyArray['data'];
  switch (dtype) {
    case 'f2': { const u = new Uint16Array(buf); data = new Float32Array(count); for (let i = 0; i < count; i++) data[i] = float16ToFloat32(u[i]); break; }
    case 'f4': data = new Float32Array(buf); break;
    case 'f8': data = new Float64Array(buf); break;
    case 'i1': data = new Int8Array(buf); break;
    case 'u1': case 'b1': data = new Uint8Array(buf); break;
    case 'i2': data = new Int16Array(buf); break;
    case 'u2': data = new Uint16Array(buf); break;
    case 'i4': data = new Int32Array(buf); break;
    case 'u4': data = new Uint32Array(buf); break;
    case 'i8': data = new BigInt64Array(buf); break;
    case 'u8': data = new BigUint64Array(buf); break;
  }
  if (fortran && shape.length > 1) data = toCOrder(data, shape);
  return { dtype, shape, data };
}

/** Values as float32 (bigints and float64 narrowed). */
export function npyToFloat32(a: NpyArray): Float32Array {
  if (a.data instanceof Float32Array) return a.data;
  const out = new Float32Array(a.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Number(a.data[i]);
  return out;
}

/** Serialise a C-order array as .npy v1 (float32 by default). */
export function writeNpy(data: Float32Array | Int32Array | Uint8Array | Int8Array | Int16Array | Float64Array, shape: readonly number[]): Uint8Array {
  const descr = data instanceof Float32Array ? '<f4' : data instanceof Int32Array ? '<i4' : data instanceof Uint8Array ? '|u1'
    : data instanceof Int8Array ? '|i1' : data instanceof Int16Array ? '<i2' : '<f8';
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`writeNpy: shape ${shape.join('×')} does not match ${data.length} values`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1; out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}
