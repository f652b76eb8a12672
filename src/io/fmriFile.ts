// Any supported fMRI file → validated voxel vectors (one per sample), with the choices made reported.
// Formats: .npy, .npz (GOD/MinD-Vis layout or plain), .h5/.hdf5 (BData or a 2-D dataset), MATLAB .mat (v7.3:
// HDF5 behind a user block; v5/v7: mat.ts), .nii/.nii.gz, .csv/.tsv. Integer data is never scaled silently: a note says
// whether a scale was applied (`opts.scale`, or an .npz `scale` member) or the integers were used as stored.
import { readDelimited } from './csv';
import { FmriFormatError } from './errors';
import { readH5, type H5Input } from './h5';
import { matlabVersion, readMatV5, type MatVariable, type SkippedVariable } from './mat';
import { readMask, type Mask } from './mask';
import { averageByLabel, takeRows } from './average';
import { gridCoords, maskedGridAffine, mmCoords, selectCoords, type VoxelCoords } from './coords';
import { bold5000Part, defaultOrder } from './bold5000';
import { readNifti } from './nifti';
import { npyToFloat32, readNpy, readNpyHeader, type NpyArray } from './npy';
import { readNpz, type Npz, type SkippedMember } from './npz';
import { readAt, type RandomAccessFile } from './randomAccess';

/** 'hdf5' includes MATLAB v7.3 .mat files; 'matlab' is a v5/v7 .mat. */
export type FmriFormat = 'npy' | 'npz' | 'hdf5' | 'matlab' | 'nifti' | 'csv';

export interface ReadFmriOptions {
  /** Which split to expose (GOD npz: 'train' | 'test-single' | 'test-avg'; BData: 'train' | 'test' | …). */
  split?: string;
  /** ROI mask name (GOD npz / BData); default 'VC' when the file has it, else all voxels. */
  roi?: string;
  /**
   * Multiplier given by the user, applied to the values of every format (integer-coded data such as NSD's
   * int16 betas = percent signal change × 300 → scale 1/300; .npy int8 with a sibling scale). It takes
   * precedence over an .npz `scale` member. Must be finite and non-zero.
   */
  scale?: number;
  /**
   * Voxels to keep: 0/1 flags, or the bytes of a mask file (NIfTI, .npy, MATLAB .mat v5/v7.3 or HDF5 with one
   * logical or numeric variable; non-zero = keep), told apart by content (mask.ts). For NIfTI data it is a spatial mask (C order over x, y, z); for other formats a column mask,
   * offered as ROI 'mask' and selected by default.
   */
  mask?: Uint8Array;
  /** File name of the mask, for messages. */
  maskName?: string;
  /** HDF5: path of the dataset to read instead of the automatic choice. */
  dataset?: string;
  /**
   * The data set's conventions: 'auto' (default) recognises them from the file names (NSD's
   * `betas_session*` int16 × 300); 'nsd' applies NSD's whatever the names; 'none' recognises nothing.
   */
  convention?: Convention;
  /**
   * Called as the read progresses (PhaseProgress): readFmriFile itself reports only the 'volumes' phase of a
   * masked 4-D HDF5 / MATLAB v7.3 series; readFmriStream reports the 'bytes' phase of every format before it.
   */
  onProgress?: (p: PhaseProgress) => void;
  /**
   * Cancels the read with DOMException 'AbortError': readFmriFile checks it between the slabs of a masked 4-D HDF5
   * series, readFmriStream between the chunks of its stream too.
   */
  signal?: AbortSignal;
}

/**
 * How far one file's read has got, in up to two phases, each reported from 0 (or its first chunk) to `total`,
 * monotonic, about every 1 % in between:
 * - 'bytes': the raw (still compressed) bytes of the stream read, `done`/`total` in bytes (readFmriStream; a NIfTI's
 *   values are taken on the way; an HDF5 / MATLAB v7.3 file read on demand is read through for the digest);
 * - 'volumes': HDF5 reading a masked 4-D series slab by slab, `done`/`total` in masked values (volumes × masked
 *   voxels), after the 'bytes' phase when there is one.
 */
export interface PhaseProgress {
  phase: 'bytes' | 'volumes';
  done: number;
  total: number;
}

export type Convention = 'auto' | 'nsd' | 'none';

export interface FmriFile {
  name: string;
  format: FmriFormat;
  /** The split the samples come from, and every split with its sample count. */
  split: string;
  splits: Record<string, number>;
  /** ROI applied (undefined: all voxels) and every ROI mask the file offers (over the file's voxels). */
  roi?: string;
  masks?: Record<string, Uint8Array>;
  samples: number;
  voxels: number;
  /** Sample i of the current split (a fresh array). */
  getSample(i: number): Float32Array;
  /** Index of the stimulus image shown for sample i of a split, when the file says. */
  groundTruthIndex?(split: string, i: number): number | undefined;
  /** Per-sample labels of the current split. */
  labels?: string[];
  /** Human-readable account of the choices made (dataset picked, scale applied, …). */
  note?: string;
  /** Split → single trials or averaged over repetitions, where the reader knows. */
  splitKinds?: Record<string, SplitKind>;
  /** The files (or .npz members) concatenated along voxels into this one, in order. */
  parts?: string[];
  /**
   * Where each voxel of a sample sits (row v = voxel v of getSample, after the ROI selection): a NIfTI's grid
   * indices (i, j, k) — of the mask's grid when read through one, also for a 4-D HDF5 series — with the grid's
   * voxel-to-mm affine when a NIfTI header gives one (the mask's, else the data's), or a GOD .npz's voxel_xyz in mm.
   * Absent when the file says nothing about space (other formats, several files concatenated).
   */
  coords?: VoxelCoords;
  /** The same file with another split/ROI, without re-reading the bytes. */
  select(opts: { split?: string; roi?: string }): FmriFile;
}

/**
 * Sizes are judged by the memory the kept values need (float32), not by a voxel count: a 1 mm NSD session
 * is legitimate, it only needs a mask to be read volume by volume. 2 GiB is the most one typed array
 * holds in every engine this runs in.
 */
export const MAX_VALUE_BYTES = 2 ** 31 - 1;

/** '1.2 GB' for a byte count (messages). */
export const gigabytes = (bytes: number): string => `${(bytes / 1e9).toFixed(bytes < 1e8 ? 3 : 1)} GB`;

export interface Matrix {
  rows: number;
  cols: number;
  values: Float32Array;
}

/** Parsed file before a split/ROI is chosen (exported for readers that assemble files: subject.ts, stream.ts). */
export interface FmriSource {
  name: string;
  format: FmriFormat;
  splits: Record<string, Matrix>;
  defaultSplit: string;
  masks?: Record<string, Uint8Array>;
  labels?: Record<string, string[]>;
  groundTruth?: (split: string, i: number) => number | undefined;
  notes: string[];
  /** Integer type of the samples as stored ('int16', 'uint8', …), when they are integers. */
  integer?: string;
  /** A scale from the file itself (an .npz `scale` member) was already applied. */
  fileScaled?: boolean;
  /** The files or members concatenated along voxels, in order. */
  parts?: string[];
  /** A spatial mask was already applied by the reader (4-D HDF5 volumes): `mask` is not a column mask. */
  spatial?: boolean;
  /** How the samples of averaged splits were formed: split → 'averaged' | 'single' (shown by the studio). */
  kinds?: Record<string, SplitKind>;
  /** Position of each column (before any ROI selection): FmriFile.coords. */
  coords?: VoxelCoords;
}
type Source = FmriSource;

/** Whether a split's samples are single trials or averages over repetitions of a stimulus. */
export type SplitKind = 'single' | 'averaged';

export function detectFormat(name: string, bytes: Uint8Array): FmriFormat {
  const lower = name.toLowerCase();
  if (lower.endsWith('.npy')) return 'npy';
  if (lower.endsWith('.npz')) return 'npz';
  if (lower.endsWith('.h5') || lower.endsWith('.hdf5') || lower.endsWith('.he5') || lower.endsWith('.mat')) return 'hdf5';
  if (lower.endsWith('.nii') || lower.endsWith('.nii.gz')) return 'nifti';
  if (lower.endsWith('.csv') || lower.endsWith('.tsv') || lower.endsWith('.txt')) return 'csv';
  // Unknown extension: sniff the magic bytes.
  const starts = (sig: number[]) => sig.every((b, i) => bytes[i] === b);
  if (starts([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59])) return 'npy';
  if (starts([0x50, 0x4b])) return 'npz';
  if (starts([0x89, 0x48, 0x44, 0x46]) || isMatlabHeader(bytes)) return 'hdf5';
  if (starts([0x1f, 0x8b]) || (bytes.length >= 348 && [344, 345, 346].every((o, i) => bytes[o] === 'n+1'.charCodeAt(i)))) return 'nifti';
  return 'csv';
}

/**
 * Any supported fMRI file → samples × voxels: the format is told by the bytes (magic numbers), the name only breaks
 * ties. .npy, .npz (GOD / MinD-Vis layout with splits and ROI masks, or numeric members), HDF5 / MATLAB v7.3
 * (bdpy/BData with ROI columns, plain 2-D datasets, 4-D volumes through a mask), MATLAB v5/v7 (a numeric matrix,
 * logical ROI vectors), NIfTI 3-D/4-D (through a mask),
 * .csv/.tsv. The FmriFile exposes one split and ROI at a time (`select` for others), float32 samples in the file's
 * units times any scale, and a note of everything decided on the user's behalf (members skipped, transposition,
 * integer scaling, the data set's convention).
 * @param input the file's bytes, or the file read on demand: HDF5 and MATLAB v7.3 files are then read lazily
 *   (only the parts HDF5 needs: a masked 4-D series never in memory whole); other formats are read whole
 * @throws FmriFormatError naming the file and what is wrong (empty, unknown format, a split or ROI it lacks, a
 *   mask of the wrong size, non-numeric data); NpyFormatError for a malformed .npy; DOMException 'AbortError' when
 *   `opts.signal` aborts a masked 4-D HDF5 series' read
 */
export async function readFmriFile(name: string, input: Uint8Array | RandomAccessFile, opts: ReadFmriOptions = {}): Promise<FmriFile> {
  const size = input instanceof Uint8Array ? input.length : input.size;
  if (size === 0) throw new FmriFormatError(name, 'empty file (0 bytes)');
  checkScale(name, opts.scale);
  const head = input instanceof Uint8Array ? input : readAt(input, 0, 512);
  const format = detectFormat(name, head);
  // HDF5 (and MATLAB v7.3) is read on demand when it can be; every other format from its bytes.
  const lazyH5 = format === 'hdf5' && matlabVersion(head) !== 'v5' && !(input instanceof Uint8Array);
  const bytes = input instanceof Uint8Array ? input : lazyH5 ? head : readAt(input, 0, size);
  const maskName = opts.maskName ?? 'mask';
  const mask = opts.mask
    ? await readMask(maskName, opts.mask).catch((e: unknown) => {
        throw asFmriError(maskName, e);
      })
    : undefined;
  let source: Source;
  try {
    switch (format) {
      case 'npy':
        source = fromNpy(name, bytes);
        break;
      case 'npz':
        source = fromNpz(name, bytes, opts);
        break;
      case 'hdf5':
      case 'matlab':
        source = lazyH5
          ? await fromH5(name, input, opts, mask)
          : matlabVersion(bytes) === 'v5'
            ? fromMatV5(name, bytes)
            : await fromH5(name, bytes, opts, mask);
        break;
      case 'nifti':
        source = fromNifti(name, bytes, mask, opts.maskName);
        break;
      case 'csv':
        source = fromCsv(name, bytes);
        break;
    }
    if (mask && format !== 'nifti' && !source.spatial) {
      const cols = source.splits[source.defaultSplit].cols;
      source.masks = { ...source.masks, mask: maskFlags(mask, opts.maskName, cols, `one per voxel of ${name}`, source.notes) };
    }
    applyScale(source, opts.scale, opts.convention);
  } catch (e) {
    if ((e as Error | undefined)?.name === 'AbortError') throw e;
    throw asFmriError(name, e);
  }
  return fmriView(source, {
    split: opts.split,
    roi: opts.roi ?? (opts.mask && format !== 'nifti' && !source.spatial ? 'mask' : undefined),
  });
}

export function checkScale(name: string, scale: number | undefined): void {
  if (scale !== undefined && !(Number.isFinite(scale) && scale !== 0)) {
    throw new FmriFormatError(name, `scale ${scale} is not a finite, non-zero number`);
  }
}

/** NSD's beta files (betas_session01.nii.gz / .hdf5 / .mat): int16 = percent signal change × 300. */
export const NSD_BETAS = /betas_session\d+/i;
export const NSD_SCALE = 1 / 300;

/**
 * The user's scale multiplies every value of every split, whatever the format; without one, a recognised
 * convention (NSD int16 betas × 1/300) is applied and said; otherwise integer samples are used as stored,
 * and the note says so (and how to give a scale).
 */
export function applyScale(src: FmriSource, scale: number | undefined, convention: Convention = 'auto'): void {
  const nsd = convention === 'nsd' || (convention === 'auto' && NSD_BETAS.test(src.name));
  if (scale === undefined && src.integer && !src.fileScaled && nsd) {
    multiply(src, NSD_SCALE);
    src.notes.push(
      `NSD convention${convention === 'nsd' ? ' (asked for)' : ` recognised (${src.name})`}: ${src.integer} betas = % signal change × 300, ` +
        'values × 1/300 (give a scale, e.g. --scale 1, to override)',
    );
  } else if (scale !== undefined) {
    multiply(src, scale);
    src.notes.push(`${src.integer ? `${src.integer} ` : ''}values × scale ${scale} (given)`);
  } else if (src.integer && !src.fileScaled) {
    src.notes.push(
      `${src.integer} values used unscaled (no scale given; integer-coded data such as NSD betas, int16 × 300, ` +
        'needs one: --scale 1/300 in decode/eval or the Scale field of the studio)',
    );
  }
}

function multiply(src: FmriSource, scale: number): void {
  const done = new Set<Float32Array>();
  for (const m of Object.values(src.splits)) {
    if (done.has(m.values)) continue;
    done.add(m.values);
    for (let i = 0; i < m.values.length; i++) m.values[i] *= scale;
  }
}

/** Library errors (npy/zip/wasm) become FmriFormatError with the file name; ours pass through. */
function asFmriError(name: string, e: unknown): FmriFormatError {
  if (e instanceof FmriFormatError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new FmriFormatError(name, msg);
}

/** The file as seen through one split and ROI (FmriFile.select makes others). */
export function fmriView(src: FmriSource, opts: { split?: string; roi?: string }): FmriFile {
  const split = opts.split ?? src.defaultSplit;
  const m = src.splits[split];
  if (!m) throw new FmriFormatError(src.name, `no split '${split}'; the file has: ${Object.keys(src.splits).join(', ')}`);
  const notes = [...src.notes];
  let roi = opts.roi;
  if (roi === undefined && src.masks?.VC) roi = 'VC';
  let columns: Int32Array | undefined;
  if (roi !== undefined) {
    const mask = src.masks?.[roi];
    if (!mask)
      throw new FmriFormatError(src.name, `no ROI mask '${roi}'; masks in the file: ${Object.keys(src.masks ?? {}).join(', ') || 'none'}`);
    if (mask.length !== m.cols)
      throw new FmriFormatError(src.name, `ROI mask '${roi}' has ${mask.length} entries, the data has ${m.cols} voxels`);
    const idx: number[] = [];
    mask.forEach((v, i) => {
      if (v) idx.push(i);
    });
    if (idx.length === 0) throw new FmriFormatError(src.name, `ROI mask '${roi}' selects no voxel`);
    columns = Int32Array.from(idx);
    notes.push(`ROI ${roi}: ${idx.length} of ${m.cols} voxels`);
  }
  const voxels = columns ? columns.length : m.cols;
  if (m.rows === 0) throw new FmriFormatError(src.name, `split '${split}' has no samples`);
  const values = columns ? gather(m, columns) : m.values;
  checkFinite(src.name, split, values, voxels);
  const file: FmriFile = {
    name: src.name,
    format: src.format,
    split,
    splits: Object.fromEntries(Object.entries(src.splits).map(([k, v]) => [k, v.rows])),
    roi,
    samples: m.rows,
    voxels,
    getSample(i: number) {
      if (!Number.isInteger(i) || i < 0 || i >= m.rows) {
        throw new FmriFormatError(src.name, `sample ${i} out of range: split '${split}' has ${m.rows} samples`);
      }
      return values.slice(i * voxels, (i + 1) * voxels);
    },
    select: (o) => fmriView(src, { split: o.split ?? split, roi: o.roi ?? roi }),
  };
  if (src.masks) file.masks = src.masks;
  if (src.groundTruth) file.groundTruthIndex = src.groundTruth;
  if (src.labels?.[split]) file.labels = src.labels[split];
  if (src.kinds) file.splitKinds = src.kinds;
  if (src.parts) file.parts = src.parts;
  // A reader that gives coordinates gives one row per column; anything else is a bug in that reader.
  if (src.coords && src.coords.xyz.length !== 3 * m.cols)
    throw new Error(`${src.name}: ${src.coords.xyz.length / 3} voxel coordinates for ${m.cols} voxels`);
  if (src.coords) file.coords = columns ? selectCoords(src.coords, columns) : src.coords;
  if (notes.length) file.note = notes.join('; ');
  return file;
}

function gather(m: Matrix, columns: Int32Array): Float32Array {
  const out = new Float32Array(m.rows * columns.length);
  for (let r = 0; r < m.rows; r++) {
    const base = r * m.cols;
    for (let j = 0; j < columns.length; j++) out[r * columns.length + j] = m.values[base + columns[j]];
  }
  return out;
}

function checkFinite(name: string, split: string, values: Float32Array, voxels: number): void {
  let count = 0;
  let first = -1;
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      if (first < 0) first = i;
      count++;
    }
  }
  if (count > 0) {
    const r = Math.floor(first / voxels);
    throw new FmriFormatError(
      name,
      `${count} NaN/Inf value${count > 1 ? 's' : ''} in split '${split}', first at sample ${r}, voxel ${first - r * voxels} (${values[first]}); clean or impute the data first`,
    );
  }
}

/** Refuses a shape whose values would not fit in memory as float32, saying how much it needs. */
export function checkShape(name: string, what: string, shape: number[]): void {
  const total = shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(total) || total * 4 > MAX_VALUE_BYTES) {
    throw new FmriFormatError(
      name,
      `${what} ${shape.join('×')} needs ${gigabytes(total * 4)} as float32, more than the ${gigabytes(MAX_VALUE_BYTES)} ` +
        'one array can hold: give a mask (NIfTI/HDF5 volumes are then read volume by volume, keeping only the masked voxels) or a smaller file',
    );
  }
}

/** A numeric array as [samples, voxels]; 1-D is one sample, trailing dims are flattened into voxels. */
function toMatrix(name: string, what: string, a: NpyArray, scale: number | undefined, notes: string[]): Matrix {
  if (a.dtype === 'b1') throw new FmriFormatError(name, `${what} is boolean, expected numeric fMRI values`);
  if (a.shape.length === 0) throw new FmriFormatError(name, `${what} is a scalar, expected [samples, voxels] or [voxels]`);
  checkShape(name, what, a.shape);
  const rows = a.shape.length === 1 ? 1 : a.shape[0];
  const cols = a.shape.length === 1 ? a.shape[0] : a.shape.slice(1).reduce((x, y) => x * y, 1);
  if (a.shape.length > 2) notes.push(`${what} ${a.shape.join('×')} flattened to ${rows}×${cols}`);
  const values = Float32Array.from(npyToFloat32(a));
  if (scale !== undefined) {
    for (let i = 0; i < values.length; i++) values[i] *= scale;
  }
  return { rows, cols, values };
}

const isInteger = (a: NpyArray) => a.dtype[0] === 'i' || a.dtype[0] === 'u';
/** numpy's 'i2' → 'int16', 'u1' → 'uint8' (the notes name every format's integers alike). */
const integerName = (a: NpyArray) => `${a.dtype[0] === 'u' ? 'uint' : 'int'}${Number(a.dtype.slice(1)) * 8}`;

function fromNpy(name: string, bytes: Uint8Array): Source {
  const header = readNpyHeader(bytes);
  checkShape(name, 'array', header.shape);
  const a = readNpy(bytes);
  const notes: string[] = [];
  const src: Source = { name, format: 'npy', splits: { all: toMatrix(name, 'array', a, undefined, notes) }, defaultSplit: 'all', notes };
  if (isInteger(a)) src.integer = integerName(a);
  return src;
}

/** GOD/MinD-Vis split names of the arr_k members. */
const GOD_SPLITS: [string, string][] = [
  ['arr_0', 'train'],
  ['arr_1', 'test-single'],
  ['arr_2', 'test-avg'],
];
const PREFERRED_NPZ = ['fmri', 'data', 'x', 'betas'];

function fromNpz(name: string, bytes: Uint8Array, opts: ReadFmriOptions): Source {
  const skipped: SkippedMember[] = [];
  const npz: Npz = readNpz(bytes, undefined, skipped);
  const notes: string[] = [];
  if (skipped.length) {
    notes.push(
      `non-numeric member${skipped.length > 1 ? 's' : ''} ignored (not unpickled): ${skipped.map((m) => `${m.name} (${m.dtype})`).join(', ')}`,
    );
  }
  if (Object.keys(npz).length === 0) {
    throw new FmriFormatError(name, skipped.length ? `the .npz holds no numeric member (${notes[0]})` : 'the .npz holds no .npy member');
  }
  const scaleMember = npz.scale;
  // The user's scale (applied later to everything) wins over the file's own 'scale' member.
  let scale: number | undefined;
  if (scaleMember) {
    if (scaleMember.data.length !== 1)
      throw new FmriFormatError(name, `member 'scale' has ${scaleMember.data.length} values, expected a scalar`);
    if (opts.scale === undefined) scale = Number(scaleMember.data[0]);
    else notes.push(`member 'scale' (${Number(scaleMember.data[0])}) overridden by the scale given`);
  }
  let integer: string | undefined;
  const scaleFor = (_key: string, a: NpyArray) => {
    if (!isInteger(a)) return undefined;
    integer ??= integerName(a);
    return scale;
  };
  const splits: Record<string, Matrix> = {};
  const isGod = npz.arr_0 !== undefined && npz.arr_2 !== undefined;
  let defaultSplit: string;
  let groundTruth: Source['groundTruth'];
  let coords: VoxelCoords | undefined;
  if (isGod) {
    for (const [key, split] of GOD_SPLITS) {
      const a = npz[key];
      if (!a) continue;
      if (a.shape.length !== 2)
        throw new FmriFormatError(name, `GOD layout: ${key} has shape ${a.shape.join('×')}, expected [samples, voxels]`);
      splits[split] = toMatrix(name, key, a, scaleFor(key, a), notes);
    }
    const cols = splits.train.cols;
    for (const [split, m] of Object.entries(splits)) {
      if (m.cols !== cols) throw new FmriFormatError(name, `GOD layout: split '${split}' has ${m.cols} voxels, train has ${cols}`);
    }
    const index = npz.arr_3;
    if (index && (index.shape.length !== 1 || index.shape[0] !== splits.train.rows)) {
      throw new FmriFormatError(
        name,
        `GOD layout: arr_3 has shape ${index.shape.join('×')}, expected [${splits.train.rows}] (one image index per training sample)`,
      );
    }
    const trainIndex = index ? npyToFloat32(index) : undefined;
    groundTruth = (split, i) => {
      if (split === 'train') return trainIndex ? trainIndex[i] : undefined;
      if (split === 'test-avg') return i < (splits['test-avg']?.rows ?? 0) ? i : undefined;
      return undefined; // single test trials: the presentation order is not in the file
    };
    defaultSplit = 'test-avg';
    coords = godCoords(npz.voxel_xyz, cols, notes);
    notes.push(
      `GOD layout: splits ${Object.entries(splits)
        .map(([k, v]) => `${k} ${v.rows}`)
        .join(', ')}`,
    );
  } else {
    for (const [key, a] of Object.entries(npz)) {
      if (key === 'scale' || a.dtype === 'b1' || a.shape.length !== 2) continue;
      splits[key] = toMatrix(name, key, a, scaleFor(key, a), notes);
    }
    const keys = Object.keys(splits);
    if (keys.length === 0) {
      const oneD = Object.entries(npz).filter(([k, a]) => k !== 'scale' && a.dtype !== 'b1' && a.shape.length === 1);
      if (oneD.length !== 1)
        throw new FmriFormatError(
          name,
          `no 2-D numeric member; members: ${Object.entries(npz)
            .map(([k, a]) => `${k} ${a.dtype} ${a.shape.join('×')}`)
            .join(', ')}`,
        );
      splits[oneD[0][0]] = toMatrix(name, oneD[0][0], oneD[0][1], scaleFor(oneD[0][0], oneD[0][1]), notes);
    }
    const roiParts = bold5000Members(name, splits, notes);
    if (roiParts) {
      const src: Source = {
        name,
        format: 'npz',
        splits: { all: roiParts.matrix },
        defaultSplit: 'all',
        notes,
        masks: roiParts.masks,
        parts: roiParts.order,
      };
      if (integer) src.integer = integer;
      return src;
    }
    const all = Object.keys(splits);
    defaultSplit =
      all.find((k) => PREFERRED_NPZ.includes(k.toLowerCase())) ?? all.sort((a, b) => splits[b].values.length - splits[a].values.length)[0];
    if (all.length > 1) notes.push(`member '${defaultSplit}' chosen by default of ${all.join(', ')}`);
  }
  // ROI masks: boolean (or 0/1 integer) vectors as long as a sample.
  const cols = splits[defaultSplit].cols;
  const masks: Record<string, Uint8Array> = {};
  for (const [key, a] of Object.entries(npz)) {
    if (a.shape.length !== 1 || a.shape[0] !== cols || splits[key]) continue;
    if (
      a.dtype === 'b1' ||
      (isInteger(a) && Array.from(a.data as ArrayLike<number | bigint>).every((v) => v === 0 || v === 1 || v === 0n || v === 1n))
    ) {
      masks[key] = Uint8Array.from(a.data as ArrayLike<number | bigint>, (v) => (Number(v) ? 1 : 0));
    }
  }
  const src: Source = { name, format: 'npz', splits, defaultSplit, notes };
  if (integer) {
    src.integer = integer;
    if (scale !== undefined) {
      src.fileScaled = true;
      notes.push(`${integer} samples × scale ${scale} (the file's 'scale' member)`);
    }
  }
  if (Object.keys(masks).length) src.masks = masks;
  if (groundTruth) src.groundTruth = groundTruth;
  if (coords) src.coords = coords;
  return src;
}

/** A GOD file's voxel_xyz [voxels, 3] (mm) as coordinates; another shape is ignored, and the note says so. */
function godCoords(xyz: NpyArray | undefined, voxels: number, notes: string[]): VoxelCoords | undefined {
  if (!xyz) return undefined;
  if (xyz.shape.length === 2 && xyz.shape[0] === voxels && xyz.shape[1] === 3 && xyz.dtype !== 'b1')
    return mmCoords(xyz.data as ArrayLike<number | bigint>);
  notes.push(`voxel_xyz ${xyz.shape.join('×')} ignored (expected [${voxels}, 3]): no brain slice`);
  return undefined;
}

/**
 * An .npz whose members are BOLD5000 ROIs (LHEarlyVis, RHEarlyVis, … or CSI1_…_LHEarlyVis): one subject,
 * concatenated along voxels in the authors' order, each member offered as an ROI mask. Undefined otherwise.
 */
function bold5000Members(
  name: string,
  splits: Record<string, Matrix>,
  notes: string[],
): { matrix: Matrix; masks: Record<string, Uint8Array>; order: string[] } | undefined {
  const keys = Object.keys(splits);
  const { order, scheme } = defaultOrder(keys);
  if (scheme !== 'bold5000') return undefined;
  const rows = splits[keys[0]].rows;
  if (keys.some((k) => splits[k].rows !== rows)) {
    throw new FmriFormatError(
      name,
      `the ROI members do not have the same number of trials: ${keys.map((k) => `${k} ${splits[k].rows}`).join(', ')}`,
    );
  }
  const cols = keys.reduce((a, k) => a + splits[k].cols, 0);
  const values = new Float32Array(rows * cols);
  const masks: Record<string, Uint8Array> = {};
  let offset = 0;
  for (const k of order) {
    const m = splits[k];
    for (let r = 0; r < rows; r++) values.set(m.values.subarray(r * m.cols, (r + 1) * m.cols), r * cols + offset);
    const flags = new Uint8Array(cols);
    flags.fill(1, offset, offset + m.cols);
    masks[bold5000Part(k)!] = flags;
    offset += m.cols;
  }
  notes.push(
    `${keys.length} ROI members concatenated along voxels in the authors' BOLD5000 order (EarlyVis, LOC, OPA, PPA, RSC; LH before RH): ` +
      `${order.map((k) => `${bold5000Part(k)} ${splits[k].cols}`).join(', ')} = ${cols} voxels`,
  );
  return { matrix: { rows, cols, values }, masks, order };
}

async function fromH5(name: string, input: H5Input, opts: ReadFmriOptions, mask: Mask | undefined): Promise<Source> {
  const onProgress = opts.onProgress;
  const t = await readH5(name, input, {
    dataset: opts.dataset,
    ...(mask ? { mask, maskName: opts.maskName ?? 'mask' } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(onProgress ? { onProgress: (done: number, total: number) => onProgress({ phase: 'volumes', done, total }) } : {}),
  });
  checkShape(name, t.dataset, [t.rows, t.cols]);
  const all: Matrix = { rows: t.rows, cols: t.cols, values: t.data };
  const splits: Record<string, Matrix> = {};
  const labels: Record<string, string[]> = {};
  const kinds: Record<string, SplitKind> = {};
  const notes = t.notes;
  if (t.splits) {
    for (const [split, rows] of Object.entries(t.splits)) {
      splits[split] = takeRows(all, rows);
      kinds[split] = 'single';
      if (t.labels) labels[split] = Array.from(rows, (r) => t.labels![r]);
    }
    // bdpy: the test set is the mean over the trials of each stimulus (its Label), as in the GOD papers.
    if (splits.test && labels.test) {
      const avg = averageByLabel(splits.test, labels.test);
      splits['test-avg'] = avg.matrix;
      labels['test-avg'] = avg.labels;
      kinds['test-avg'] = 'averaged';
      const reps = [...new Set(avg.counts)].sort((a, b) => a - b);
      notes.push(
        `test-avg: ${splits.test.rows} test trials averaged by Label into ${avg.matrix.rows} stimuli (${reps.join('–')} trials each)`,
      );
    }
  }
  splits.all = all;
  if (t.labels) labels.all = t.labels;
  const defaultSplit = splits['test-avg'] ? 'test-avg' : splits.test ? 'test' : 'all';
  const src: Source = { name, format: 'hdf5', splits, defaultSplit, notes };
  if (t.spatial) src.spatial = true;
  if (t.coords) src.coords = t.coords;
  if (Object.keys(kinds).length) src.kinds = kinds;
  if (t.integer) src.integer = t.integer;
  if (t.masks) src.masks = t.masks;
  if (Object.keys(labels).length) src.labels = labels;
  return src;
}

/**
 * MATLAB v5/v7 .mat: the variable named fmri/data/x/betas/… (case-insensitive), else the largest real numeric
 * matrix (logical variables are masks, never the data). MATLAB's M×N matrix (samples × voxels) is column-major:
 * it is reordered to M samples × N voxels. Vectors (logical, or numeric holding only 0/1) as long as a sample are
 * ROI masks; cell, struct, char, sparse and complex variables are left out with a note.
 */
function fromMatV5(name: string, bytes: Uint8Array): Source {
  const skipped: SkippedVariable[] = [];
  const vars = readMatV5(name, bytes, skipped);
  const notes: string[] = [];
  if (skipped.length)
    notes.push(`variables that are not numeric arrays ignored: ${skipped.map((v) => `${v.name} (${v.class})`).join(', ')}`);
  const matrices = vars.filter((v) => v.class !== 'logical' && v.dims.length === 2 && v.data.length > 0);
  const numel = (v: MatVariable) => v.data.length;
  const chosen =
    PREFERRED_MAT.map((p) => matrices.find((v) => v.name.toLowerCase() === p)).find((v) => v) ??
    [...matrices].sort((a, b) => numel(b) - numel(a))[0];
  if (!chosen) {
    const shown = vars.map((v) => `${v.name} ${v.class} ${v.dims.join('×')}`).join(', ');
    throw new FmriFormatError(
      name,
      `no numeric matrix in the .mat file (variables: ${shown || 'none'}${skipped.length ? `; ${notes[0]}` : ''}); ` +
        'a volume series (X×Y×Z×T) is read from -v7.3 files (through a mask) or NIfTI',
    );
  }
  const [rows, cols] = chosen.dims;
  checkShape(name, `variable '${chosen.name}'`, [rows, cols]);
  const values = new Float32Array(rows * cols);
  for (let j = 0; j < cols; j++) for (let i = 0; i < rows; i++) values[i * cols + j] = chosen.data[i + rows * j];
  const others = matrices.filter((v) => v !== chosen).map((v) => v.name);
  notes.push(
    `MATLAB v5 ${chosen.class} matrix '${chosen.name}' chosen${others.length ? ` (other matrices: ${others.join(', ')})` : ''}, ` +
      `read as ${rows} samples × ${cols} voxels`,
  );
  const masks: Record<string, Uint8Array> = {};
  for (const v of vars) {
    if (v === chosen || v.data.length !== cols || v.dims.filter((d) => d > 1).length > 1) continue;
    if (v.class === 'logical' || v.data.every((x) => x === 0 || x === 1)) masks[v.name] = Uint8Array.from(v.data, (x) => (x ? 1 : 0));
  }
  const src: Source = { name, format: 'matlab', splits: { all: { rows, cols, values } }, defaultSplit: 'all', notes };
  if (/int/.test(chosen.class)) src.integer = chosen.class;
  if (Object.keys(masks).length) src.masks = masks;
  return src;
}
const PREFERRED_MAT = ['fmri', 'data', 'x', 'betas', 'dataset', 'voxels', 'responses'];

/** The mask's flags (NSD's −1/0/1 values recognised), checked against the voxel count; its note is kept. */
function maskFlags(m: Mask, maskName: string | undefined, expected: number, what: string, notes?: string[]): Uint8Array {
  const name = maskName ?? 'mask';
  if (m.flags.length !== expected) throw new FmriFormatError(name, `mask has ${m.flags.length} entries, expected ${expected} (${what})`);
  notes?.push(`mask ${name}: ${m.note}`);
  return m.flags;
}

function fromNifti(name: string, bytes: Uint8Array, m: Mask | undefined, maskName: string | undefined): Source {
  const vol = readNifti(name, bytes);
  const spatial = vol.dims[0] * vol.dims[1] * vol.dims[2];
  const notes = [...vol.notes];
  if (!m && vol.volumes === 1) {
    throw new FmriFormatError(name, `3-D volume (${vol.dims.join('×')}): give a mask (NIfTI of the same grid) to pick the voxels`);
  }
  let values = vol.data;
  let cols = spatial;
  let mask: Uint8Array | undefined;
  if (m) {
    mask = maskFlags(m, maskName, spatial, `the ${vol.dims.join('×')} grid of ${name}`, notes);
    const idx: number[] = [];
    mask.forEach((v, i) => {
      if (v) idx.push(i);
    });
    if (idx.length === 0) throw new FmriFormatError(name, 'the mask selects no voxel');
    cols = idx.length;
    values = new Float32Array(vol.volumes * cols);
    for (let t = 0; t < vol.volumes; t++) for (let j = 0; j < cols; j++) values[t * cols + j] = vol.data[t * spatial + idx[j]];
    notes.push(`mask: ${cols} of ${spatial} voxels (C order over x, y, z)`);
  } else {
    notes.push(`no mask: all ${spatial} voxels of each volume (C order over x, y, z)`);
  }
  notes.push(`${vol.volumes} volume${vol.volumes > 1 ? 's' : ''} → ${vol.volumes} sample${vol.volumes > 1 ? 's' : ''}`);
  const src: Source = {
    name,
    format: 'nifti',
    splits: { all: { rows: vol.volumes, cols, values } },
    defaultSplit: 'all',
    notes,
    // The same C order as the selection above: row j is the grid index of column j.
    coords: gridCoords(vol.dims, mask, maskedGridAffine(vol.affine, m?.affine)),
  };
  if (vol.integer) src.integer = vol.integer;
  return src;
}

/** The 128-byte text header of a MATLAB .mat file ('MATLAB 5.0 MAT-file', also before v7.3's HDF5). */
function isMatlabHeader(bytes: Uint8Array): boolean {
  const sig = 'MATLAB ';
  for (let i = 0; i < sig.length; i++) if (bytes[i] !== sig.charCodeAt(i)) return false;
  return true;
}

function fromCsv(name: string, bytes: Uint8Array): Source {
  const t = readDelimited(name, bytes);
  checkShape(name, 'table', [t.rows, t.cols]);
  const notes = [t.header ? `header row skipped (${t.cols} columns)` : 'no header row'];
  return { name, format: 'csv', splits: { all: { rows: t.rows, cols: t.cols, values: t.data } }, defaultSplit: 'all', notes };
}
