// Voxel masks: 0/1 flags, a .npy, a MATLAB .mat or HDF5 file, or a NIfTI volume, with the data sets' value conventions recognised.
// NSD's ROI files (nsdgeneral.nii.gz, prf-visualrois, …) mark outside the brain −1, in the brain but outside
// the ROI 0 and inside the ROI ≥ 1: when a mask holds negative values, only positive values are inside
// (counting every non-zero value would take the whole brain: 501,295 voxels instead of ~15,000). MATLAB
// masks (.mat v5/v7 or v7.3) are logical arrays, X×Y×Z in column-major order.
import type { GridAffine } from './coords';
import { FmriFormatError } from './errors';
import { readH5Mask, superblockOffset } from './h5';
import { maskVariable, matlabVersion, readMatV5, type SkippedVariable } from './mat';
import { readNifti } from './nifti';
import { npyToFloat32, readNpy } from './npy';

export interface Mask {
  /** 1 = keep, over the mask's own voxel order (NIfTI: C order over x, y, z). */
  flags: Uint8Array;
  /** Spatial dims [X, Y, Z] for a NIfTI mask. */
  dims?: [number, number, number];
  /** A NIfTI mask's voxel-to-mm affine, when its header gives one. */
  affine?: GridAffine;
  /** Voxels kept. */
  count: number;
  /** How the values were read (shown to the user). */
  note: string;
}

/** Flags from mask values: non-zero is inside, unless negative values exist (NSD: only > 0 is inside). */
export function flagsFromValues(values: ArrayLike<number>): { flags: Uint8Array; note: string } {
  let negative = 0,
    zero = 0,
    positive = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < 0) negative++;
    else if (v > 0) positive++;
    else zero++;
  }
  const flags = new Uint8Array(values.length);
  if (negative > 0) {
    for (let i = 0; i < values.length; i++) flags[i] = values[i] > 0 ? 1 : 0;
    return {
      flags,
      note: `NSD mask values recognised (${positive} voxels > 0 inside the ROI, ${zero} = 0 in the brain outside it, ${negative} < 0 outside the brain): ${positive} kept`,
    };
  }
  for (let i = 0; i < values.length; i++) flags[i] = values[i] !== 0 ? 1 : 0;
  return { flags, note: `${positive} non-zero voxels kept` };
}

/**
 * A mask from its bytes, told apart by content: 0/1 flags as given; a .npy array; a MATLAB .mat (v5/v7, or
 * v7.3 = HDF5) or HDF5 file holding one logical variable (MATLAB logical, h5py bool) or one numeric one; or a
 * NIfTI volume. A vector gives flags over the data's voxels; a 3-D array gives flags over its grid in C order
 * over (x, y, z) with `dims` [X, Y, Z] (MATLAB's column-major X×Y×Z arrays are reordered to it). Values as in
 * `flagsFromValues` (a logical mask holds only 0/1).
 * @throws FmriFormatError naming the mask file when it cannot be read, holds no or several candidate
 *   variables, is not a vector or a 3-D volume, or selects nothing
 */
export async function readMask(name: string, bytes: Uint8Array): Promise<Mask> {
  let mask: Mask;
  if (bytes.every((v) => v === 0 || v === 1)) {
    const count = bytes.reduce((a, v) => a + v, 0);
    mask = { flags: bytes, count, note: `${count} flagged voxels kept` };
  } else if (bytes[0] === 0x93 && bytes[1] === 0x4e) {
    let values: Float32Array, shape: number[];
    try {
      const a = readNpy(bytes);
      values = npyToFloat32(a);
      shape = a.shape;
    } catch (e) {
      throw new FmriFormatError(name, (e as Error).message);
    }
    const { flags, note } = flagsFromValues(values);
    mask = { flags, count: count(flags), note };
    if (shape.length === 3) mask.dims = [shape[0], shape[1], shape[2]];
  } else if (matlabVersion(bytes) === 'v5') {
    const skipped: SkippedVariable[] = [];
    const vars = readMatV5(name, bytes, skipped);
    const v = maskVariable(
      name,
      vars,
      vars.filter((x) => x.class === 'logical'),
      (x) => `${x.name} ${x.dims.join('×')}`,
      `no numeric or logical variable to use as a mask${skipped.length ? ` (found: ${skipped.map((x) => `${x.name} (${x.class})`).join(', ')})` : ''}`,
    );
    mask = arrayMask(name, `MATLAB v5 ${v.class} '${v.name}'`, v.class === 'logical', v.dims, v.data, true);
  } else if (superblockOffset(bytes) >= 0) {
    const a = await readH5Mask(name, bytes);
    const what = a.matlab ? `MATLAB v7.3 ${a.kind} '${a.dataset.replace(/^\//, '')}'` : `HDF5 ${a.kind} ${a.dataset}`;
    mask = arrayMask(name, what, a.logical, a.dims, a.data, a.matlab);
  } else {
    const vol = readNifti(name, bytes);
    if (vol.volumes !== 1) throw new FmriFormatError(name, `a mask must be one 3-D volume; this NIfTI has ${vol.volumes} volumes`);
    const { flags, note } = flagsFromValues(vol.data);
    mask = { flags, dims: vol.dims, count: count(flags), note, ...(vol.affine ? { affine: vol.affine } : {}) };
  }
  if (mask.count === 0) throw new FmriFormatError(name, 'the mask selects no voxel');
  return mask;
}

/**
 * A mask from an array of `dims` (MATLAB's, column-major values, or C order): a vector (one dimension
 * above 1) gives flags in its order; a 3-D array (or 2-D, one slice: Z = 1) gives flags in C order over
 * (x, y, z) with its dims.
 */
function arrayMask(name: string, what: string, logical: boolean, dims: number[], data: Float32Array, columnMajor: boolean): Mask {
  const shape = dims.join('×');
  const big = dims.filter((d) => d > 1).length;
  const { flags: raw, note } = flagsFromValues(data);
  const said = `${what} ${shape}: ${logical ? `${count(raw)} of ${raw.length} voxels true` : note}`;
  if (big <= 1) return { flags: raw, count: count(raw), note: said };
  const trimmed = [...dims];
  while (trimmed.length > 3 && trimmed[trimmed.length - 1] === 1) trimmed.pop();
  if (trimmed.length > 3) throw new FmriFormatError(name, `${what} is ${shape}: a mask is a vector or one 3-D volume`);
  const [X, Y, Z] = [trimmed[0], trimmed[1], trimmed[2] ?? 1];
  if (!columnMajor) return { flags: raw, dims: [X, Y, Z], count: count(raw), note: said };
  // Column-major: (x, y, z) at x + X·(y + Y·z); C order puts it at (x·Y + y)·Z + z.
  const flags = new Uint8Array(raw.length);
  for (let z = 0; z < Z; z++) for (let y = 0; y < Y; y++) for (let x = 0; x < X; x++) flags[(x * Y + y) * Z + z] = raw[x + X * (y + Y * z)];
  return { flags, dims: [X, Y, Z], count: count(flags), note: said };
}

function count(flags: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < flags.length; i++) n += flags[i];
  return n;
}
