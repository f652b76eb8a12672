// Minimal zip reader over RandomAccess: central directory (with zip64), stored and deflated entries.
// torch.save writes stored (uncompressed) entries, so tensor data is read in place, never inflated.
import { inflateSync } from 'fflate';
import type { RandomAccess } from './access';
import { errorClass } from '../../errors';

export class ZipFormatError extends errorClass('ZipFormatError') {}

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

function le(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function u64(v: DataView, o: number): number {
  const n = v.getBigUint64(o, true);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipFormatError('zip64 field beyond 2^53');
  return Number(n);
}

function readChecked(src: RandomAccess, offset: number, length: number, what: string): Uint8Array {
  if (offset < 0 || length < 0 || offset + length > src.size) {
    throw new ZipFormatError(`truncated zip: ${what} at ${offset}+${length} lies beyond the end (${src.size} bytes)`);
  }
  const b = src.read(offset, length);
  if (b.length !== length) throw new ZipFormatError(`short read of ${what}`);
  return b;
}

export function isZip(src: RandomAccess): boolean {
  if (src.size < 4) return false;
  const b = src.read(0, 4);
  return b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04;
}

export function readZipDirectory(src: RandomAccess): Map<string, ZipEntry> {
  const tailLen = Math.min(src.size, 22 + 65535);
  const tail = readChecked(src, src.size - tailLen, tailLen, 'end of central directory');
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail[i] === 0x50 && tail[i + 1] === 0x4b && tail[i + 2] === 0x05 && tail[i + 3] === 0x06) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new ZipFormatError('truncated zip: no end-of-central-directory record');
  const ev = le(tail.subarray(eocd));
  let count = ev.getUint16(10, true);
  let cdSize = ev.getUint32(12, true);
  let cdOffset = ev.getUint32(16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const locAt = src.size - tailLen + eocd - 20;
    const loc = le(readChecked(src, locAt, 20, 'zip64 locator'));
    if (loc.getUint32(0, true) !== 0x07064b50) throw new ZipFormatError('zip64 locator missing');
    const z = le(readChecked(src, u64(loc, 8), 56, 'zip64 end record'));
    if (z.getUint32(0, true) !== 0x06064b50) throw new ZipFormatError('zip64 end record missing');
    count = u64(z, 32);
    cdSize = u64(z, 40);
    cdOffset = u64(z, 48);
  }
  const cd = readChecked(src, cdOffset, cdSize, 'central directory');
  const v = le(cd);
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || v.getUint32(p, true) !== 0x02014b50) throw new ZipFormatError(`corrupt central directory entry ${i}`);
    const method = v.getUint16(p + 10, true);
    let compressedSize = v.getUint32(p + 20, true);
    let size = v.getUint32(p + 24, true);
    const nameLen = v.getUint16(p + 28, true);
    const extraLen = v.getUint16(p + 30, true);
    const commentLen = v.getUint16(p + 32, true);
    let localOffset = v.getUint32(p + 42, true);
    if (p + 46 + nameLen + extraLen > cd.length) throw new ZipFormatError(`corrupt central directory entry ${i}`);
    const name = new TextDecoder().decode(cd.subarray(p + 46, p + 46 + nameLen));
    // zip64 extra field: the 64-bit values of exactly those fields stored as 0xffffffff, in this order.
    let e = p + 46 + nameLen;
    const end = e + extraLen;
    while (e + 4 <= end) {
      const id = v.getUint16(e, true);
      const len = v.getUint16(e + 2, true);
      if (id === 1) {
        let q = e + 4;
        if (size === 0xffffffff && q + 8 <= e + 4 + len) {
          size = u64(v, q);
          q += 8;
        }
        if (compressedSize === 0xffffffff && q + 8 <= e + 4 + len) {
          compressedSize = u64(v, q);
          q += 8;
        }
        if (localOffset === 0xffffffff && q + 8 <= e + 4 + len) {
          localOffset = u64(v, q);
        }
      }
      e += 4 + len;
    }
    entries.set(name, { name, method, compressedSize, size, localOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

export function readZipEntry(src: RandomAccess, entry: ZipEntry): Uint8Array {
  const h = le(readChecked(src, entry.localOffset, 30, `local header of ${entry.name}`));
  if (h.getUint32(0, true) !== 0x04034b50) throw new ZipFormatError(`corrupt local header of ${entry.name}`);
  const start = entry.localOffset + 30 + h.getUint16(26, true) + h.getUint16(28, true);
  const raw = readChecked(src, start, entry.compressedSize, entry.name);
  if (entry.method === 0) return raw;
  if (entry.method === 8) {
    try {
      const out = inflateSync(raw, { out: new Uint8Array(entry.size) });
      if (out.length !== entry.size) throw new Error(`inflated ${out.length} bytes, expected ${entry.size}`);
      return out;
    } catch (err) {
      throw new ZipFormatError(`corrupt deflate data in ${entry.name}: ${(err as Error).message}`);
    }
  }
  throw new ZipFormatError(`${entry.name}: unsupported zip compression method ${entry.method}`);
}
