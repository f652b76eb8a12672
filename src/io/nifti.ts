// NIfTI-1/2 (.nii, .nii.gz) volumes → voxel vectors, via nifti-reader-js.
// Voxel order is NumPy's C order over (x, y, z), i.e. what nibabel's `img.get_fdata()[mask]` gives,
// so vectors built in Python and here line up.
import * as nifti from 'nifti-reader-js';
import { FmriFormatError } from './errors';
import { gunzipAll, gunzipHead, isGzip } from './gzip';

export interface NiftiVolume {
  /** Spatial dims [X, Y, Z] and the number of volumes T (1 for 3-D). */
  dims: [number, number, number];
  volumes: number;
  /** T × (X·Y·Z) values with scl_slope/scl_inter applied, each volume in C order over (x, y, z). */
  data: Float32Array;
  notes: string[];
  /** The stored integer type when the values are integers not rescaled by scl_slope (e.g. 'int16'). */
  integer?: string;
}

const MAX_ELEMENTS = 1e9;

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

type Reader = (v: DataView, offset: number, le: boolean) => number;
const READERS: Record<number, [number, Reader, string]> = {
  2: [1, (v, o) => v.getUint8(o), 'uint8'],
  4: [2, (v, o, le) => v.getInt16(o, le), 'int16'],
  8: [4, (v, o, le) => v.getInt32(o, le), 'int32'],
  16: [4, (v, o, le) => v.getFloat32(o, le), 'float32'],
  64: [8, (v, o, le) => v.getFloat64(o, le), 'float64'],
  256: [1, (v, o) => v.getInt8(o), 'int8'],
  512: [2, (v, o, le) => v.getUint16(o, le), 'uint16'],
  768: [4, (v, o, le) => v.getUint32(o, le), 'uint32'],
  1024: [8, (v, o, le) => Number(v.getBigInt64(o, le)), 'int64'],
  1280: [8, (v, o, le) => Number(v.getBigUint64(o, le)), 'uint64'],
};

/**
 * A NIfTI-1 or NIfTI-2 volume (`.nii`, or gzip of one or several members), 3-D or 4-D, any byte order and
 * integer/float datatype, read with nifti-reader-js: values as float32 with scl_slope / scl_inter applied, each
 * volume in C order over (x, y, z); notes say what was applied.
 * @throws FmriFormatError naming the file: not NIfTI, an unreadable header, more than 4 dims, an unsupported
 *   datatype, data shorter than the header says, or more values than fit in memory
 */
export function readNifti(name: string, bytes: Uint8Array): NiftiVolume {
  const notNifti = () => new FmriFormatError(name, 'not a NIfTI file (no n+1/ni1/n+2 magic in the header)');
  // The header first: a gzip that is not NIfTI (or a decompression bomb) is refused without inflating it all.
  if (isGzip(bytes)) {
    const head = gunzipHead(bytes, 540);
    if (head.length >= 348 && !nifti.isNIFTI(toArrayBuffer(head))) throw notNifti();
  }
  let buf: ArrayBuffer;
  try {
    // Every gzip member, not only the first (nifti-reader-js's decompress stops after one).
    buf = toArrayBuffer(isGzip(bytes) ? gunzipAll(bytes) : bytes);
  } catch (e) {
    throw new FmriFormatError(name, (e as Error).message);
  }
  if (!nifti.isNIFTI(buf)) throw notNifti();
  let header: nifti.NIFTI1 | nifti.NIFTI2;
  let image: ArrayBuffer;
  try {
    header = nifti.readHeader(buf);
    image = nifti.readImage(header, buf);
  } catch (e) {
    throw new FmriFormatError(name, `unreadable NIfTI header: ${(e as Error).message}`);
  }
  const nd = header.dims[0];
  if (!(nd >= 1 && nd <= 7)) throw new FmriFormatError(name, `NIfTI dim[0] = ${nd}, expected 1..7`);
  const dims = header.dims.slice(1, nd + 1).map((d) => Math.max(1, d));
  if (dims.slice(4).some((d) => d > 1))
    throw new FmriFormatError(name, `NIfTI with ${nd} dims (${dims.join('×')}): only 3-D and 4-D are supported`);
  const [X, Y, Z, T] = [dims[0] ?? 1, dims[1] ?? 1, dims[2] ?? 1, dims[3] ?? 1];
  const perVolume = X * Y * Z;
  const total = perVolume * T;
  if (!Number.isSafeInteger(total) || total > MAX_ELEMENTS) {
    // Judged by memory, not called absurd: a 1 mm NSD session (145×186×145×750) is real, it needs streaming.
    throw new FmriFormatError(
      name,
      `NIfTI ${dims.join('×')} needs ${((total * 4) / 1e9).toFixed(1)} GB as float32 when read whole: ` +
        'give a mask, and read it with the CLI or the studio, which stream it volume by volume keeping only the masked voxels',
    );
  }
  const spec = READERS[header.datatypeCode];
  if (!spec) throw new FmriFormatError(name, `unsupported NIfTI datatype code ${header.datatypeCode} (expected an integer or float type)`);
  const [size, read, typeName] = spec;
  if (image.byteLength < total * size) {
    throw new FmriFormatError(
      name,
      `truncated NIfTI image: ${dims.join('×')} ${typeName} needs ${total * size} bytes, found ${image.byteLength}`,
    );
  }
  const view = new DataView(image);
  const notes: string[] = [];
  const slope = header.scl_slope;
  // NIfTI: slope 0 (or non-finite) means "no scaling".
  const scaled = Number.isFinite(slope) && slope !== 0 && !(slope === 1 && header.scl_inter === 0);
  const inter = scaled && Number.isFinite(header.scl_inter) ? header.scl_inter : 0;
  if (scaled) notes.push(`scl_slope ${slope}, scl_inter ${inter} applied`);
  const data = new Float32Array(total);
  const le = header.littleEndian;
  // File order is x fastest; output C order over (x, y, z) has z fastest.
  for (let t = 0; t < T; t++) {
    const base = t * perVolume;
    for (let x = 0; x < X; x++)
      for (let y = 0; y < Y; y++)
        for (let z = 0; z < Z; z++) {
          const fileIndex = base + x + X * (y + Y * z);
          const raw = read(view, fileIndex * size, le);
          data[base + (x * Y + y) * Z + z] = scaled ? raw * slope + inter : raw;
        }
  }
  const vol: NiftiVolume = { dims: [X, Y, Z], volumes: T, data, notes };
  if (!scaled && !typeName.startsWith('float')) vol.integer = typeName;
  return vol;
}
