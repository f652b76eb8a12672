// A 4-D NIfTI (.nii or .nii.gz) read volume by volume from a byte stream, keeping only the masked voxels:
// memory is one volume plus the kept values (T × masked voxels), never the whole series. The caller brings
// the bytes already inflated (node:zlib in the CLI, `gunzipStream` — fflate — in the browser) and reports
// progress on the compressed bytes it reads. Values and voxel order equal `readNifti` + mask, i.e.
// nibabel's `img.get_fdata()[mask]` (C order over x, y, z), with scl_slope/scl_inter applied.
import { Gunzip } from 'fflate';
import type { GridAffine } from './coords';
import { FmriFormatError } from './errors';
import { GzipError } from './gzip';
import type { Mask } from './mask';
import { niftiAffine, niftiHeaderLayout } from './nifti';

export interface MaskedSeries {
  dims: [number, number, number];
  volumes: number;
  /** Kept voxels per volume (the mask's count, or every voxel without a mask). */
  cols: number;
  /** volumes × cols values, volume-major. */
  values: Float32Array;
  notes: string[];
  /** Stored integer type when the values are integers not rescaled by scl_slope. */
  integer?: string;
  /** The grid's voxel-to-mm affine (nifti.ts niftiAffine), when the header gives one. */
  affine?: GridAffine;
}

interface Header {
  dims: [number, number, number];
  volumes: number;
  datatype: number;
  voxOffset: number;
  slope: number;
  inter: number;
  le: boolean;
  affine?: GridAffine;
}

const TYPES: Record<number, [number, string]> = {
  2: [1, 'uint8'],
  4: [2, 'int16'],
  8: [4, 'int32'],
  16: [4, 'float32'],
  64: [8, 'float64'],
  256: [1, 'int8'],
  512: [2, 'uint16'],
  768: [4, 'uint32'],
};

function parseHeader(name: string, b: Uint8Array): Header {
  const layout = niftiHeaderLayout(b);
  if (!layout) throw new FmriFormatError(name, 'not a NIfTI file (sizeof_hdr is neither 348 nor 540)');
  const { view: v, two, le } = layout;
  const dim = (i: number) => (two ? Number(v.getBigInt64(16 + 8 * i, le)) : v.getInt16(40 + 2 * i, le));
  const nd = dim(0);
  if (!(nd >= 1 && nd <= 7)) throw new FmriFormatError(name, `NIfTI dim[0] = ${nd}, expected 1..7`);
  const d = Array.from({ length: nd }, (_, i) => Math.max(1, dim(i + 1)));
  if (d.slice(4).some((x) => x > 1))
    throw new FmriFormatError(name, `NIfTI with ${nd} dims (${d.join('×')}): only 3-D and 4-D are supported`);
  const datatype = two ? v.getInt16(12, le) : v.getInt16(70, le);
  const voxOffset = two ? Number(v.getBigInt64(168, le)) : v.getFloat32(108, le);
  const slope = two ? v.getFloat64(176, le) : v.getFloat32(112, le);
  const inter = two ? v.getFloat64(184, le) : v.getFloat32(116, le);
  if (!(voxOffset >= (two ? 540 : 348)) || !Number.isInteger(voxOffset))
    throw new FmriFormatError(name, `NIfTI vox_offset ${voxOffset} is invalid`);
  const affine = niftiAffine(name, b);
  return {
    dims: [d[0] ?? 1, d[1] ?? 1, d[2] ?? 1],
    volumes: d[3] ?? 1,
    datatype,
    voxOffset,
    slope,
    inter,
    le,
    ...(affine ? { affine } : {}),
  };
}

export interface StreamOptions {
  /** Voxels to keep, over the grid in C order (x, y, z); its dims must match the data's. */
  mask?: Mask;
  maskName?: string;
  signal?: AbortSignal;
  /** Most bytes the kept values may take (float32). */
  maxValueBytes?: number;
}

/**
 * Reads the series from its (inflated) bytes.
 * @throws FmriFormatError for a bad header, a grid that does not match the mask, a truncated image, or
 *   kept values beyond `maxValueBytes`; DOMException 'AbortError' when `signal` aborts
 */
export async function readNiftiStream(name: string, chunks: AsyncIterable<Uint8Array>, opts: StreamOptions = {}): Promise<MaskedSeries> {
  const maxValueBytes = opts.maxValueBytes ?? 2 ** 31 - 1;
  let head = new Uint8Array(0);
  let h: Header | undefined;
  let skip = 0;
  // Per volume: the bytes of one volume, and the file-order index of each kept voxel.
  let vol = new Uint8Array(0),
    filled = 0,
    t = 0,
    size = 0,
    cols = 0;
  let fileIdx: Int32Array = new Int32Array(0);
  let values = new Float32Array(0);
  let gather: (() => void) | undefined;
  const notes: string[] = [];
  let integer: string | undefined;

  const start = () => {
    const hh = h!;
    const spec = TYPES[hh.datatype];
    if (!spec) throw new FmriFormatError(name, `unsupported NIfTI datatype code ${hh.datatype} (expected an integer or float type)`);
    size = spec[0];
    const [X, Y, Z] = hh.dims;
    const spatial = X * Y * Z;
    const mask = opts.mask;
    if (mask) {
      if (mask.dims && mask.dims.join() !== hh.dims.join()) {
        throw new FmriFormatError(
          name,
          `grid ${hh.dims.join('×')} differs from the ${mask.dims.join('×')} grid of ${opts.maskName ?? 'the mask'}`,
        );
      }
      if (mask.flags.length !== spatial)
        throw new FmriFormatError(
          opts.maskName ?? 'mask',
          `mask has ${mask.flags.length} entries, expected ${spatial} (the ${hh.dims.join('×')} grid of ${name})`,
        );
    } else if (hh.volumes === 1) {
      throw new FmriFormatError(name, `3-D volume (${hh.dims.join('×')}): give a mask (NIfTI of the same grid) to pick the voxels`);
    }
    // Kept voxels in C order over (x, y, z); their index in the file's x-fastest order.
    const idx: number[] = [];
    for (let x = 0; x < X; x++)
      for (let y = 0; y < Y; y++)
        for (let z = 0; z < Z; z++) {
          if (!mask || mask.flags[(x * Y + y) * Z + z]) idx.push(x + X * (y + Y * z));
        }
    fileIdx = Int32Array.from(idx);
    cols = fileIdx.length;
    const need = hh.volumes * cols * 4;
    if (need > maxValueBytes) {
      throw new FmriFormatError(
        name,
        `${hh.volumes} volumes × ${cols} voxels need ${(need / 1e9).toFixed(1)} GB as float32, more than ${(maxValueBytes / 1e9).toFixed(1)} GB: ` +
          (mask ? 'use a smaller mask' : 'give a mask (e.g. nsdgeneral.nii.gz) to keep only its voxels'),
      );
    }
    values = new Float32Array(hh.volumes * cols);
    vol = new Uint8Array(spatial * size);
    const scaled = Number.isFinite(hh.slope) && hh.slope !== 0 && !(hh.slope === 1 && hh.inter === 0);
    const slope = scaled ? hh.slope : 1,
      inter = scaled && Number.isFinite(hh.inter) ? hh.inter : 0;
    if (scaled) notes.push(`scl_slope ${hh.slope}, scl_inter ${inter} applied`);
    else if (!spec[1].startsWith('float')) integer = spec[1];
    const native = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? hh.le : !hh.le;
    const view = new DataView(vol.buffer);
    // Typed views when the byte order is the platform's (the common case), DataView otherwise. Only the
    // datatype's own view is made: another type's constructor throws on a volume that is not a whole number of
    // its elements (30 int16 voxels are 60 bytes, not a whole number of float64s).
    const views: Record<number, () => ArrayLike<number>> = {
      2: () => new Uint8Array(vol.buffer),
      4: () => new Int16Array(vol.buffer),
      8: () => new Int32Array(vol.buffer),
      16: () => new Float32Array(vol.buffer),
      64: () => new Float64Array(vol.buffer),
      256: () => new Int8Array(vol.buffer),
      512: () => new Uint16Array(vol.buffer),
      768: () => new Uint32Array(vol.buffer),
    };
    const typed = native ? views[hh.datatype]?.() : undefined;
    const getters: Record<number, (o: number) => number> = {
      2: (o) => view.getUint8(o),
      4: (o) => view.getInt16(o, hh.le),
      8: (o) => view.getInt32(o, hh.le),
      16: (o) => view.getFloat32(o, hh.le),
      64: (o) => view.getFloat64(o, hh.le),
      256: (o) => view.getInt8(o),
      512: (o) => view.getUint16(o, hh.le),
      768: (o) => view.getUint32(o, hh.le),
    };
    const get = getters[hh.datatype];
    gather = () => {
      const base = t * cols;
      if (typed) for (let j = 0; j < cols; j++) values[base + j] = typed[fileIdx[j]] * slope + inter;
      else for (let j = 0; j < cols; j++) values[base + j] = get(fileIdx[j] * size) * slope + inter;
    };
    skip = hh.voxOffset;
  };

  for await (const chunk of chunks) {
    if (opts.signal?.aborted) throw new DOMException(`reading ${name} was cancelled`, 'AbortError');
    let c = chunk;
    if (!h) {
      const joined = new Uint8Array(head.length + c.length);
      joined.set(head);
      joined.set(c, head.length);
      if (joined.length < 544) {
        head = joined;
        continue;
      }
      h = parseHeader(name, joined);
      start();
      c = joined;
    }
    if (skip > 0) {
      const n = Math.min(skip, c.length);
      skip -= n;
      c = c.subarray(n);
    }
    while (c.length > 0 && t < h.volumes) {
      const n = Math.min(vol.length - filled, c.length);
      vol.set(c.subarray(0, n), filled);
      filled += n;
      c = c.subarray(n);
      if (filled === vol.length) {
        gather!();
        t++;
        filled = 0;
      }
    }
  }
  if (!h) {
    if (head.length >= 348) {
      h = parseHeader(name, head);
      start();
    } else throw new FmriFormatError(name, `truncated NIfTI file (${head.length} bytes, shorter than a header)`);
  }
  if (t < h.volumes) {
    throw new FmriFormatError(
      name,
      `truncated NIfTI image: ${h.volumes} volumes of ${h.dims.join('×')} expected, the file ends in volume ${t + 1}`,
    );
  }
  notes.push(
    opts.mask
      ? `mask ${opts.maskName ?? ''}: ${opts.mask.note}`.replace('mask : ', 'mask: ')
      : `no mask: all ${cols} voxels of each volume (C order over x, y, z)`,
  );
  notes.push(`${h.volumes} volume${h.volumes > 1 ? 's' : ''} → ${h.volumes} sample${h.volumes > 1 ? 's' : ''}, read volume by volume`);
  const out: MaskedSeries = { dims: h.dims, volumes: h.volumes, cols, values, notes };
  if (integer) out.integer = integer;
  if (h.affine) out.affine = h.affine;
  return out;
}

/**
 * gzip → inflated chunks, streaming (fflate), every member. Memory: the chunks in flight, not the file.
 * @throws GzipError on a corrupt or truncated stream
 */
export async function* gunzipStream(raw: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let out: Uint8Array[] = [];
  let ended = false;
  const g = new Gunzip((chunk, final) => {
    out.push(chunk);
    if (final) ended = true;
  });
  try {
    for await (const c of raw) {
      g.push(c, false);
      if (out.length) {
        const o = out;
        out = [];
        yield* o;
      }
    }
    g.push(new Uint8Array(0), true);
  } catch (e) {
    if (e instanceof GzipError || e instanceof FmriFormatError || (e as Error).name === 'AbortError') throw e;
    throw new GzipError(`corrupt or truncated gzip stream: ${(e as Error).message}`);
  }
  yield* out;
  if (!ended) throw new GzipError('truncated gzip stream (it ends inside a member)');
}
