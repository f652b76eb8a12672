// MATLAB .mat files: the 128-byte header that tells v5/v7 (a stream of tagged data elements) from v7.3
// (HDF5 behind a user block, read by h5.ts), and a reader of v5/v7 files' numeric and logical arrays.
// Format: MathWorks, "MAT-File Format" (matfile_format.pdf, Version 5 MAT-Files): after the header, data
// elements of an 8-byte tag (type, byte count; or a 4-byte "small element" tag, count in the upper half)
// and their data padded to 8 bytes; a miCOMPRESSED element is one zlib stream holding another element
// (v7, `save -v7`, scipy.io.savemat(do_compression=True)). A variable is a miMATRIX: array flags (class,
// complex/global/logical bits), dimensions, name, real part (stored in any numeric type, e.g. doubles as
// miUINT8 when they fit), and an imaginary part when complex. Arrays are column-major.
import { Unzlib } from 'fflate';
import { FmriFormatError } from './errors';

/** MATLAB's 128-byte header: text, then version 0x0100 (v5/v7) or 0x0200 (v7.3 = HDF5) at bytes 124–125. */
export function matlabVersion(bytes: Uint8Array): 'v4-or-unknown' | 'v5' | 'v7.3' | undefined {
  const text = new TextDecoder('latin1').decode(bytes.subarray(0, Math.min(116, bytes.length)));
  if (!text.startsWith('MATLAB')) return undefined;
  if (bytes.length < 128) return 'v4-or-unknown';
  const le = bytes[126] === 0x49 && bytes[127] === 0x4d; // 'IM': little-endian
  const version = le ? bytes[124] | (bytes[125] << 8) : (bytes[124] << 8) | bytes[125];
  return version === 0x0200 ? 'v7.3' : version === 0x0100 ? 'v5' : 'v4-or-unknown';
}

/**
 * The variable a mask file means: its one logical variable, else its one numeric variable.
 * @param label a variable as the message names it ('roi 5×3×2')
 * @param nothing what the message says when there is no candidate at all
 * @throws FmriFormatError naming every candidate when there are several logical ones, or no logical one and
 *   several numeric ones; `nothing` when there is none
 */
export function maskVariable<T>(name: string, numeric: T[], logical: T[], label: (v: T) => string, nothing: string): T {
  const list = (vs: T[]) => vs.map(label).join(', ');
  if (logical.length > 1)
    throw new FmriFormatError(name, `several logical variables (${list(logical)}): keep the one mask in its own file`);
  if (logical.length) return logical[0];
  if (numeric.length === 1) return numeric[0];
  throw new FmriFormatError(
    name,
    numeric.length ? `no logical variable and several numeric ones (${list(numeric)}): keep the one mask in its own file` : nothing,
  );
}

/** One top-level variable of a v5 .mat file. */
export interface MatVariable {
  name: string;
  /** MATLAB class: 'double', 'single', 'int8' … 'uint64', or 'logical' (mxUINT8 with the logical flag). */
  class: string;
  /** MATLAB dimensions (at least 2), e.g. [samples, voxels] or [X, Y, Z]. */
  dims: number[];
  /** Values in MATLAB's column-major order (element (i, j) of an M×N matrix at i + M·j), as float32. */
  data: Float32Array;
}

/** A variable that is not a real numeric or logical array (cell, struct, char, sparse, complex, object). */
export interface SkippedVariable {
  name: string;
  class: string;
}

const CLASSES: Record<number, string> = {
  1: 'cell',
  2: 'struct',
  3: 'object',
  4: 'char',
  5: 'sparse',
  6: 'double',
  7: 'single',
  8: 'int8',
  9: 'uint8',
  10: 'int16',
  11: 'uint16',
  12: 'int32',
  13: 'uint32',
  14: 'int64',
  15: 'uint64',
  16: 'function handle',
  17: 'opaque',
};
const NUMERIC_CLASSES = new Set([6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
/** Bytes per element of the mi* data types that can hold array values. */
const TYPE_SIZES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8 };
const MI_MATRIX = 14;
const MI_COMPRESSED = 15;
/** Ceiling on the bytes one compressed variable may inflate to (the readers refuse more values anyway). */
const MAX_INFLATED = 2 ** 31 - 1;

/**
 * Every real numeric or logical top-level variable of a MATLAB v5/v7 .mat file, in file order.
 * @param skipped receives the variables of other classes (cell, struct, char, sparse, complex …), left out
 * @throws FmriFormatError naming the file, for a file that is not v5, a truncated or damaged element (its
 *   byte offset and what it declares), a compressed variable that fails its zlib or Adler-32 check or
 *   inflates beyond 2 GiB, or values that do not fill the declared dimensions
 */
export function readMatV5(name: string, bytes: Uint8Array, skipped: SkippedVariable[] = []): MatVariable[] {
  if (matlabVersion(bytes) !== 'v5') throw new FmriFormatError(name, 'not a MATLAB v5/v7 .mat file (no v5 header)');
  const le = bytes[126] === 0x49;
  const out: MatVariable[] = [];
  for (let at = 128; at < bytes.length; ) {
    if (bytes.length - at < 8) {
      if (bytes.subarray(at).every((b) => b === 0)) break; // padding after the last element
      throw new FmriFormatError(name, `truncated .mat file: ${bytes.length - at} bytes at byte ${at} are too few for an element tag`);
    }
    const tag = readTag(name, bytes, at, le);
    if (tag.type === MI_COMPRESSED) {
      const inner = inflate(name, bytes.subarray(tag.start, tag.end), at);
      const t = readTag(name, inner, 0, le);
      if (t.type === MI_MATRIX) variable(name, inner.subarray(t.start, t.end), le, t.start, out, skipped);
      at = tag.end; // compressed elements are not padded
    } else {
      if (tag.type === MI_MATRIX) variable(name, bytes.subarray(tag.start, tag.end), le, tag.start, out, skipped);
      at = tag.next;
    }
  }
  return out;
}

interface Tag {
  type: number;
  /** Data bytes [start, end) and where the next element starts (data padded to 8 bytes). */
  start: number;
  end: number;
  next: number;
}

function readTag(name: string, b: Uint8Array, at: number, le: boolean): Tag {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length - at < 8 && !(b.length - at >= 4 && view.getUint32(at, le) >>> 16 !== 0)) {
    throw new FmriFormatError(name, `truncated .mat file: element tag at byte ${at} is cut off`);
  }
  const first = view.getUint32(at, le);
  if (first >>> 16 !== 0) {
    // Small data element: type and byte count in one word, up to 4 bytes of data in the next.
    const count = first >>> 16;
    if (count > 4) throw new FmriFormatError(name, `damaged .mat file: small element at byte ${at} declares ${count} bytes (at most 4)`);
    if (b.length - at < 8) throw new FmriFormatError(name, `truncated .mat file: small element at byte ${at} is cut off`);
    return { type: first & 0xffff, start: at + 4, end: at + 4 + count, next: at + 8 };
  }
  const count = view.getUint32(at + 4, le);
  const start = at + 8;
  if (count > b.length - start) {
    throw new FmriFormatError(name, `truncated .mat file: element at byte ${at} declares ${count} bytes, ${b.length - start} follow`);
  }
  return { type: first, start, end: start + count, next: Math.min(b.length, start + Math.ceil(count / 8) * 8) };
}

/** A zlib stream (RFC 1950) inflated with a size ceiling, its Adler-32 checked. */
function inflate(name: string, data: Uint8Array, at: number): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  let ended = false;
  const z = new Unzlib((chunk, final) => {
    total += chunk.length;
    if (total > MAX_INFLATED) {
      throw new FmriFormatError(name, `compressed variable at byte ${at} inflates to more than ${MAX_INFLATED} bytes`);
    }
    chunks.push(chunk);
    if (final) ended = true;
  });
  try {
    z.push(data, true);
  } catch (e) {
    if (e instanceof FmriFormatError) throw e;
    throw new FmriFormatError(name, `damaged .mat file: compressed variable at byte ${at} does not inflate (${(e as Error).message})`);
  }
  if (!ended || data.length < 6) throw new FmriFormatError(name, `truncated .mat file: compressed variable at byte ${at} ends early`);
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  const stored =
    ((data[data.length - 4] << 24) | (data[data.length - 3] << 16) | (data[data.length - 2] << 8) | data[data.length - 1]) >>> 0;
  if (stored !== adler32(out)) {
    throw new FmriFormatError(name, `damaged .mat file: compressed variable at byte ${at} fails its Adler-32 check`);
  }
  return out;
}

function adler32(data: Uint8Array): number {
  let a = 1,
    b = 0;
  for (let i = 0; i < data.length; ) {
    const end = Math.min(data.length, i + 5552);
    for (; i < end; i++) {
      a += data[i];
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** A miMATRIX element's data: flags, dimensions, name, real part. */
function variable(name: string, b: Uint8Array, le: boolean, offset: number, out: MatVariable[], skipped: SkippedVariable[]): void {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const where = `variable at byte ${offset}`;
  const sub = (at: number, what: string) => {
    if (at >= b.length) throw new FmriFormatError(name, `damaged .mat file: ${where} ends before its ${what}`);
    return readTag(name, b, at, le);
  };
  const flagsTag = sub(0, 'array flags');
  if (flagsTag.end - flagsTag.start < 4) throw new FmriFormatError(name, `damaged .mat file: ${where} has no array flags`);
  const flags = view.getUint32(flagsTag.start, le);
  const classId = flags & 0xff;
  const complex = (flags & 0x800) !== 0;
  const logical = (flags & 0x200) !== 0;
  const dimsTag = sub(flagsTag.next, 'dimensions');
  if (dimsTag.type !== 5 || (dimsTag.end - dimsTag.start) % 4 !== 0 || dimsTag.end - dimsTag.start < 8) {
    throw new FmriFormatError(name, `damaged .mat file: ${where} has no valid dimensions (at least two int32)`);
  }
  const dims: number[] = [];
  for (let p = dimsTag.start; p < dimsTag.end; p += 4) {
    const d = view.getInt32(p, le);
    if (d < 0) throw new FmriFormatError(name, `damaged .mat file: ${where} has a negative dimension (${d})`);
    dims.push(d);
  }
  const nameTag = sub(dimsTag.next, 'name');
  const varName = new TextDecoder('latin1').decode(b.subarray(nameTag.start, nameTag.end));
  const cls = CLASSES[classId] ?? `class ${classId}`;
  if (!NUMERIC_CLASSES.has(classId) || complex) {
    skipped.push({ name: varName, class: complex ? `complex ${cls}` : cls });
    return;
  }
  const count = dims.reduce((a, d) => a * d, 1);
  if (!Number.isSafeInteger(count) || count * 4 > MAX_INFLATED) {
    throw new FmriFormatError(name, `variable '${varName}' ${dims.join('×')} is too large to read (${count} values)`);
  }
  const realTag = sub(nameTag.next, 'values');
  const size = TYPE_SIZES[realTag.type];
  if (!size) throw new FmriFormatError(name, `damaged .mat file: variable '${varName}' stores its values as data type ${realTag.type}`);
  const bytes = realTag.end - realTag.start;
  if (bytes !== count * size) {
    throw new FmriFormatError(
      name,
      `damaged .mat file: variable '${varName}' ${dims.join('×')} needs ${count} values, its data holds ${bytes / size}`,
    );
  }
  const data = new Float32Array(count);
  const p0 = realTag.start;
  const get: (p: number) => number = (() => {
    switch (realTag.type) {
      case 1:
        return (p) => view.getInt8(p);
      case 2:
        return (p) => view.getUint8(p);
      case 3:
        return (p) => view.getInt16(p, le);
      case 4:
        return (p) => view.getUint16(p, le);
      case 5:
        return (p) => view.getInt32(p, le);
      case 6:
        return (p) => view.getUint32(p, le);
      case 7:
        return (p) => view.getFloat32(p, le);
      case 9:
        return (p) => view.getFloat64(p, le);
      case 12:
        return (p) => Number(view.getBigInt64(p, le));
      default:
        return (p) => Number(view.getBigUint64(p, le));
    }
  })();
  for (let i = 0; i < count; i++) data[i] = get(p0 + i * size);
  out.push({ name: varName, class: logical && classId === 9 ? 'logical' : cls, dims, data });
}
