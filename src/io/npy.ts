// NumPy .npy format v1/v2/v3 (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html).
// Reading validates everything it trusts: magic, header length, dtype, shape against the byte count.
import { StudioError } from '../errors';
export type NpyDtype = 'f2' | 'f4' | 'f8' | 'i1' | 'u1' | 'i2' | 'u2' | 'i4' | 'u4' | 'i8' | 'u8' | 'b1';

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  /** Values in C order, widened to Float32Array for f2; BigInt64Array/BigUint64Array for 8-byte ints. */
  data:
    | Float32Array
    | Float64Array
    | Int8Array
    | Uint8Array
    | Int16Array
    | Uint16Array
    | Int32Array
    | Uint32Array
    | BigInt64Array
    | BigUint64Array;
}

export class NpyFormatError extends StudioError {
  /** Set when the array is well-formed but not numeric (object, string, structured dtype): its descr. */
  constructor(
    message: string,
    readonly nonNumericDtype?: string,
  ) {
    super('NpyFormatError', message);
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

type PyLiteral = string | number | boolean | null | PyLiteral[] | { [k: string]: PyLiteral };

/**
 * The header is a Python dict literal that numpy reads with `ast.literal_eval`: keys and strings in single
 * or double quotes, `True`/`False`, a shape tuple whose ints may carry Python 2's `L` suffix
 * (`(3L, 4511L)`, written by Python 2 on 64-bit Windows), trailing commas, any key order and spacing.
 * This parser accepts that subset and nothing that could run code.
 */
function parseLiteral(text: string): PyLiteral {
  let i = 0;
  const fail = (what: string): never => {
    throw new NpyFormatError(`malformed .npy header (${what} at character ${i}): ${JSON.stringify(text.slice(0, 120))}`);
  };
  const ws = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const value = (depth: number): PyLiteral => {
    if (depth > 8) fail('nesting too deep');
    ws();
    const c = text[i];
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) fail('unterminated string');
      const str = text.slice(i + 1, end);
      if (str.includes('\\')) fail('escape in string');
      i = end + 1;
      return str;
    }
    if (c === '{' || c === '(' || c === '[') {
      const close = c === '{' ? '}' : c === '(' ? ')' : ']';
      i++;
      const items: PyLiteral[] = [];
      const dict: Record<string, PyLiteral> = {};
      for (;;) {
        ws();
        if (text[i] === close) {
          i++;
          break;
        }
        const v = value(depth + 1);
        if (c === '{') {
          if (typeof v !== 'string') fail('non-string key');
          ws();
          if (text[i++] !== ':') fail("expected ':'");
          dict[v as string] = value(depth + 1);
        } else items.push(v);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === close) {
          i++;
          break;
        }
        fail(`expected ',' or '${close}'`);
      }
      return c === '{' ? dict : items;
    }
    const m = /^(True|False|None|[+-]?\d+[lL]?)/.exec(text.slice(i, i + 40));
    if (!m) fail('unexpected token');
    i += m![1].length;
    if (m![1] === 'True') return true;
    if (m![1] === 'False') return false;
    if (m![1] === 'None') return null;
    return Number(m![1].replace(/[lL]$/, ''));
  };
  const v = value(0);
  ws();
  if (i !== text.length) fail('trailing characters');
  return v;
}

function parseHeader(text: string): { descr: string; fortran: boolean; shape: number[] } {
  const d = parseLiteral(text);
  if (d === null || typeof d !== 'object' || Array.isArray(d))
    throw new NpyFormatError(`malformed .npy header: not a dict: ${JSON.stringify(text.slice(0, 120))}`);
  const { descr, fortran_order: fortran, shape } = d;
  if (descr === undefined || fortran === undefined || shape === undefined) {
    throw new NpyFormatError(`malformed .npy header: needs descr, fortran_order and shape: ${JSON.stringify(text.slice(0, 120))}`);
  }
  if (typeof descr !== 'string')
    throw new NpyFormatError(
      `unsupported .npy dtype ${JSON.stringify(descr).slice(0, 80)} (a structured dtype; numeric arrays only)`,
      'structured',
    );
  if (typeof fortran !== 'boolean') throw new NpyFormatError('malformed .npy header: fortran_order is not True/False');
  if (!Array.isArray(shape) || shape.some((n) => typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0)) {
    throw new NpyFormatError(`malformed .npy shape (${JSON.stringify(shape).slice(0, 80)})`);
  }
  return { descr, fortran, shape: shape as number[] };
}

function normaliseDtype(descr: string): { dtype: NpyDtype; bigEndian: boolean } {
  if (descr === '?' || descr === '|?') descr = '|b1';
  const m = /^([<>|=]?)([fiub])(\d+)$/.exec(descr);
  if (!m) throw new NpyFormatError(`unsupported .npy dtype '${descr}' (numeric arrays only)`, descr);
  const dtype = `${m[2]}${m[3]}` as NpyDtype;
  if (!(dtype in ITEM)) throw new NpyFormatError(`unsupported .npy dtype '${descr}'`, descr);
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
  for (let d = 0; d < nd; d++) {
    fStride[d] = s;
    s *= shape[d];
  }
  for (let c = 0; c < n; c++) {
    let f = 0;
    for (let d = 0; d < nd; d++) f += idx[d] * fStride[d];
    (out as unknown as number[])[c] = (src as unknown as number[])[f];
    for (let d = nd - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
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
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new NpyFormatError('truncated .npy header');
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else throw new NpyFormatError(`unsupported .npy version ${major}`);
  if (headerStart + headerLen > bytes.length) throw new NpyFormatError('truncated .npy header');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, headerStart + headerLen));
  const { descr, fortran, shape } = parseHeader(header);
  const { dtype, bigEndian } = normaliseDtype(descr);
  return { dtype, bigEndian, fortran, shape, dataOffset: headerStart + headerLen };
}

/**
 * A numpy .npy array (format versions 1–3; every header form numpy's own loader accepts, including Python 2's
 * `L` suffixes): its dtype, shape and values in C order (Fortran-order data is reordered; big-endian data is
 * byte-swapped). Numeric dtypes only (bool, integers, float16/32/64); object arrays are refused, never unpickled.
 * @throws NpyFormatError a bad magic or header, an unsupported dtype, a shape whose size disagrees with the bytes
 * Source: numpy's NEP 1 / `numpy.lib.format`.
 */
export function readNpy(bytes: Uint8Array): NpyArray {
  const { dtype, bigEndian, fortran, shape, dataOffset: start } = readNpyHeader(bytes);
  const count = shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(count) || count > MAX_ELEMENTS) throw new NpyFormatError(`absurd .npy shape (${shape.join('×')})`);
  const item = ITEM[dtype];
  const need = count * item;
  if (bytes.length - start < need) {
    throw new NpyFormatError(
      `truncated .npy data: shape ${shape.join('×')} ${dtype} needs ${need} bytes, file has ${bytes.length - start}`,
    );
  }
  // Copy into an aligned buffer (and swap bytes for big-endian data).
  // Uint8Array's slice copies; a Node Buffer's own slice() is a view into a shared pool, whose .buffer is the pool.
  const raw = Uint8Array.prototype.slice.call(bytes, start, start + need);
  if (bigEndian) for (let i = 0; i < need; i += item) raw.subarray(i, i + item).reverse();
  const buf = raw.buffer;
  let data: NpyArray['data'];
  switch (dtype) {
    case 'f2': {
      const u = new Uint16Array(buf);
      data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = float16ToFloat32(u[i]);
      break;
    }
    case 'f4':
      data = new Float32Array(buf);
      break;
    case 'f8':
      data = new Float64Array(buf);
      break;
    case 'i1':
      data = new Int8Array(buf);
      break;
    case 'u1':
    case 'b1':
      data = new Uint8Array(buf);
      break;
    case 'i2':
      data = new Int16Array(buf);
      break;
    case 'u2':
      data = new Uint16Array(buf);
      break;
    case 'i4':
      data = new Int32Array(buf);
      break;
    case 'u4':
      data = new Uint32Array(buf);
      break;
    case 'i8':
      data = new BigInt64Array(buf);
      break;
    case 'u8':
      data = new BigUint64Array(buf);
      break;
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
export function writeNpy(
  data: Float32Array | Int32Array | Uint8Array | Int8Array | Int16Array | Float64Array,
  shape: readonly number[],
): Uint8Array {
  const descr =
    data instanceof Float32Array
      ? '<f4'
      : data instanceof Int32Array
        ? '<i4'
        : data instanceof Uint8Array
          ? '|u1'
          : data instanceof Int8Array
            ? '|i1'
            : data instanceof Int16Array
              ? '<i2'
              : '<f8';
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`writeNpy: shape ${shape.join('×')} does not match ${data.length} values`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}
