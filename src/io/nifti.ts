// NIfTI-1/2 (.nii, .nii.gz) volumes → voxel vectors, via nifti-reader-js.
// Voxel order is NumPy's C order over (x, y, z), i.e. what nibabel's `img.get_fdata()[mask]` gives,
// so vectors built in Python and here line up.
import * as nifti from 'nifti-reader-js';
import type { GridAffine } from './coords';
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
  /** The grid's voxel-to-mm affine (niftiAffine), when the header gives one. */
  affine?: GridAffine;
}

/**
 * A NIfTI header's version and byte order, read from sizeof_hdr (348: NIfTI-1, 540: NIfTI-2, stored in either byte
 * order); undefined when `head` starts with neither.
 */
export function niftiHeaderLayout(head: Uint8Array): { view: DataView; two: boolean; le: boolean } | undefined {
  if (head.length < 4) return undefined;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const sizeLe = view.getInt32(0, true),
    sizeBe = view.getInt32(0, false);
  if (sizeLe === 540 || sizeBe === 540) return { view, two: true, le: sizeLe === 540 };
  if (sizeLe === 348 || sizeBe === 348) return { view, two: false, le: sizeLe === 348 };
  return undefined;
}

/**
 * The voxel-to-mm affine of a NIfTI-1 or NIfTI-2 header (`head`: at least its 348 / 540 bytes, either byte order),
 * chosen as nibabel chooses `img.affine`: the sform (srow_x/y/z) when sform_code > 0, else the qform (quaternion,
 * pixdim and qoffset, computed as nifti1_io's quatern_to_mat44) when qform_code > 0, else none. Read here rather
 * than taken from nifti-reader-js, whose `affine` prefers the qform when its code is higher and ignores the qform
 * of NIfTI-2.
 * @param file the file's name, recorded in the affine for messages
 * @returns undefined when both codes are 0 (or `head` is not a NIfTI header)
 */
export function niftiAffine(file: string, head: Uint8Array): GridAffine | undefined {
  const layout = niftiHeaderLayout(head);
  if (!layout || head.length < (layout.two ? 540 : 348)) return undefined;
  const { view: v, two, le } = layout;
  const float = (o: number) => (two ? v.getFloat64(o, le) : v.getFloat32(o, le));
  const [qformCode, sformCode] = two ? [v.getInt32(344, le), v.getInt32(348, le)] : [v.getInt16(252, le), v.getInt16(254, le)];
  if (sformCode > 0) {
    const srow = two ? 400 : 280;
    const step = two ? 8 : 4;
    return { rows: Array.from({ length: 12 }, (_, n) => float(srow + n * step)), from: 'sform', file };
  }
  if (qformCode <= 0) return undefined;
  const [qb, qc, qd, qx, qy, qz] = (two ? [352, 360, 368, 376, 384, 392] : [256, 260, 264, 268, 272, 276]).map(float);
  const pixdim = (n: number) => (two ? v.getFloat64(104 + 8 * n, le) : v.getFloat32(76 + 4 * n, le));
  let [a, b, c, d] = [1 - (qb * qb + qc * qc + qd * qd), qb, qc, qd];
  if (a < 1e-7) {
    // A 180° rotation: (b, c, d) is renormalised and a = 0 (nifti1_io).
    const n = 1 / Math.sqrt(b * b + c * c + d * d);
    [a, b, c, d] = [0, b * n, c * n, d * n];
  } else a = Math.sqrt(a);
  const size = (n: number) => (pixdim(n) > 0 ? pixdim(n) : 1);
  const [dx, dy, dz] = [size(1), size(2), pixdim(0) < 0 ? -size(3) : size(3)];
  return {
    rows: [
      [(a * a + b * b - c * c - d * d) * dx, 2 * (b * c - a * d) * dy, 2 * (b * d + a * c) * dz, qx],
      [2 * (b * c + a * d) * dx, (a * a + c * c - b * b - d * d) * dy, 2 * (c * d - a * b) * dz, qy],
      [2 * (b * d - a * c) * dx, 2 * (c * d + a * b) * dy, (a * a + d * d - c * c - b * b) * dz, qz],
    ].flat(),
    from: 'qform',
    file,
  };
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
  const affine = niftiAffine(name, new Uint8Array(buf, 0, Math.min(buf.byteLength, 540)));
  if (affine) vol.affine = affine;
  return vol;
}
