// Any fMRI file read from a byte stream with progress and cancel. NIfTI (.nii, .nii.gz) is read volume by
// volume, keeping only the masked voxels (niftiStream.ts); HDF5 and MATLAB v7.3, given the file for reads at any
// offset too (a path in the CLI, the user's File in the studio's worker), are read lazily by HDF5 after the stream
// has been counted and digested (a masked 4-D series slab by slab, its progress a second phase, 'volumes', and
// cancelled between slabs); other formats are collected and parsed whole (their readers need random access).
// The same function serves the CLI (node:fs streams, node:zlib) and the studio's worker (File.stream(), fflate).
import { FmriFormatError } from './errors';
import {
  applyScale,
  checkScale,
  detectFormat,
  fmriView,
  readFmriFile,
  type FmriFile,
  type FmriSource,
  type ReadFmriOptions,
} from './fmriFile';
import { gridCoords, maskedGridAffine } from './coords';
import { readMask } from './mask';
import { matlabVersion } from './mat';
import { readAt, type RandomAccessFile } from './randomAccess';
import { gunzipStream, readNiftiStream } from './niftiStream';

/**
 * readFmriFile's options, whose `onProgress` here reports the 'bytes' phase too (raw, compressed bytes, at most
 * about every 1 % of the file) and whose `signal` is checked between the stream's chunks too.
 */
export interface StreamReadOptions extends ReadFmriOptions {
  /** Inflate a gzip stream; default fflate's streaming Gunzip (the CLI passes node:zlib's, which is faster). */
  inflate?: (raw: AsyncIterable<Uint8Array>) => AsyncIterable<Uint8Array>;
  /**
   * The same file, readable at any offset: an HDF5 / MATLAB v7.3 file is then read by HDF5 on demand instead of
   * from a whole copy (the stream is still read through, for progress and the caller's digest).
   */
  file?: RandomAccessFile;
}

/** Raw chunks counted for progress and checked for cancel. */
async function* counted(
  chunks: AsyncIterable<Uint8Array>,
  total: number,
  opts: StreamReadOptions,
  name: string,
): AsyncGenerator<Uint8Array> {
  let read = 0,
    reported = -1;
  const step = Math.max(1, Math.floor(total / 100));
  for await (const c of chunks) {
    if (opts.signal?.aborted) throw new DOMException(`reading ${name} was cancelled`, 'AbortError');
    read += c.length;
    if (opts.onProgress && (read - reported >= step || read === total)) {
      reported = read;
      opts.onProgress({ phase: 'bytes', done: read, total });
    }
    yield c;
  }
}

/**
 * Reads `name` from `open()`'s chunks (a fresh iterable of the raw file bytes) of `size` bytes.
 * @throws FmriFormatError as readFmriFile; DOMException 'AbortError' on cancel
 */
export async function readFmriStream(
  name: string,
  size: number,
  open: () => AsyncIterable<Uint8Array>,
  opts: StreamReadOptions = {},
): Promise<FmriFile> {
  if (size === 0) throw new FmriFormatError(name, 'empty file (0 bytes)');
  checkScale(name, opts.scale);
  const lower = name.toLowerCase();
  const raw = counted(open(), size, opts, name);
  if (lower.endsWith('.nii') || lower.endsWith('.nii.gz')) {
    const mask = opts.mask ? await readMask(opts.maskName ?? 'mask', opts.mask) : undefined;
    const gz = lower.endsWith('.gz');
    let s;
    try {
      s = await readNiftiStream(name, gz ? (opts.inflate ?? gunzipStream)(raw) : raw, {
        ...(mask ? { mask } : {}),
        ...(opts.maskName ? { maskName: opts.maskName } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } catch (e) {
      if (e instanceof FmriFormatError || (e as Error).name === 'AbortError') throw e;
      throw new FmriFormatError(name, (e as Error).message);
    }
    const src: FmriSource = {
      name,
      format: 'nifti',
      splits: { all: { rows: s.volumes, cols: s.cols, values: s.values } },
      defaultSplit: 'all',
      notes: s.notes,
      // readNiftiStream keeps the grid's voxels in this C order (k fastest) too: row j is column j's (i, j, k).
      coords: gridCoords(s.dims, mask?.flags, maskedGridAffine(s.affine, mask?.affine)),
    };
    if (s.integer) src.integer = s.integer;
    applyScale(src, opts.scale, opts.convention);
    return fmriView(src, { split: opts.split, roi: opts.roi });
  }
  if (opts.file) {
    const head = readAt(opts.file, 0, 512);
    if (detectFormat(name, head) === 'hdf5' && matlabVersion(head) !== 'v5') {
      for await (const _ of raw); // progress, cancel and the caller's digest
      if (opts.signal?.aborted) throw new DOMException(`reading ${name} was cancelled`, 'AbortError');
      return readFmriFile(name, opts.file, opts);
    }
  }
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const c of raw) {
    parts.push(c);
    total += c.length;
  }
  const bytes = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    bytes.set(p, o);
    o += p.length;
  }
  parts.length = 0;
  return readFmriFile(name, bytes, opts);
}
