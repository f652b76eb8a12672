// gzip → bytes, every member: `cat a.gz b.gz`, pigz and some scanner exporters write streams of several
// concatenated gzip members, which gzip, zlib and nibabel read whole (RFC 1952 §2.2). fflate's streaming
// Gunzip follows the members; the size cap turns a decompression bomb into a typed error.
import { Gunzip } from 'fflate';
import { errorClass } from '../errors';

/** Default ceiling on inflated bytes (the fMRI readers refuse more than 1e9 values anyway). */
export const MAX_INFLATED_BYTES = 2 ** 31 - 1;

export class GzipError extends errorClass('GzipError') {}

export const isGzip = (b: Uint8Array): boolean => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/**
 * Inflate every member of a gzip stream and concatenate them.
 * @throws GzipError on a corrupt or truncated stream, or when the output would exceed `maxBytes`.
 */
export function gunzipAll(bytes: Uint8Array, maxBytes = MAX_INFLATED_BYTES): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  let ended = false;
  // Where each member starts in the input and in the output, to check every member's trailer.
  const starts: [number, number][] = [[0, 0]];
  const g = new Gunzip((chunk, final) => {
    total += chunk.length;
    if (total > maxBytes)
      throw new GzipError(`gzip stream inflates to more than ${maxBytes} bytes (a decompression bomb or a damaged file)`);
    chunks.push(chunk);
    if (final) ended = true;
  });
  g.onmember = (offset) => {
    starts.push([offset, total]);
  };
  try {
    g.push(bytes, true);
  } catch (e) {
    if (e instanceof GzipError) throw e;
    throw new GzipError(`corrupt or truncated gzip stream: ${(e as Error).message}`);
  }
  if (!ended || bytes.length < 18) throw new GzipError('truncated gzip stream (it ends inside a member)');
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  // fflate checks neither CRC-32 nor ISIZE: a stream cut inside a trailer, or a flipped bit, would pass.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  starts.push([bytes.length, total]);
  for (let k = 0; k + 1 < starts.length; k++) {
    const end = starts[k + 1][0];
    const data = out.subarray(starts[k][1], starts[k + 1][1]);
    if (
      end - starts[k][0] < 18 ||
      view.getUint32(end - 4, true) !== data.length % 2 ** 32 ||
      view.getUint32(end - 8, true) !== crc32(data)
    ) {
      throw new GzipError(`corrupt or truncated gzip stream: member ${k + 1} fails its CRC-32/length check`);
    }
  }
  return out;
}

/**
 * The first `n` inflated bytes of a gzip stream (fewer when it holds fewer, or when it is corrupt before
 * that), inflating no more than needed: a reader checks a header before inflating a whole file.
 */
export function gunzipHead(bytes: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let got = 0;
  const g = new Gunzip((chunk) => {
    const take = Math.min(chunk.length, n - got);
    out.set(chunk.subarray(0, take), got);
    got += take;
  });
  try {
    for (let at = 0; at < bytes.length && got < n; at += 256) g.push(bytes.subarray(at, Math.min(bytes.length, at + 256)), false);
  } catch {
    /* corrupt: what was inflated so far */
  }
  return out.subarray(0, got);
}

let table: Uint32Array | undefined;

/** CRC-32 of RFC 1952 (polynomial 0xEDB88320). */
export function crc32(data: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
