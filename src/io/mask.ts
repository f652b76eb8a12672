// Voxel masks: 0/1 flags, a .npy, or a NIfTI volume, with the data sets' value conventions recognised.
// NSD's ROI files (nsdgeneral.nii.gz, prf-visualrois, …) mark outside the brain −1, in the brain but outside
// the ROI 0 and inside the ROI ≥ 1: when a mask holds negative values, only positive values are inside
// (counting every non-zero value would take the whole brain: 501,295 voxels instead of ~15,000).
import { FmriFormatError } from './errors';
import { readNifti } from './nifti';
import { npyToFloat32, readNpy } from './npy';

export interface Mask {
  /** 1 = keep, over the mask's own voxel order (NIfTI: C order over x, y, z). */
  flags: Uint8Array;
  /** Spatial dims [X, Y, Z] for a NIfTI mask. */
  dims?: [number, number, number];
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
 * A mask from its bytes: 0/1 flags as given, a .npy array, or a NIfTI volume (told apart by content).
 * @throws FmriFormatError naming the mask file when it cannot be read or selects nothing
 */
export function readMask(name: string, bytes: Uint8Array): Mask {
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
  } else {
    const vol = readNifti(name, bytes);
    if (vol.volumes !== 1) throw new FmriFormatError(name, `a mask must be one 3-D volume; this NIfTI has ${vol.volumes} volumes`);
    const { flags, note } = flagsFromValues(vol.data);
    mask = { flags, dims: vol.dims, count: count(flags), note };
  }
  if (mask.count === 0) throw new FmriFormatError(name, 'the mask selects no voxel');
  return mask;
}

function count(flags: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < flags.length; i++) n += flags[i];
  return n;
}
