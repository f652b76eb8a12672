// Where each voxel of an fMRI vector sits (issue 14: the Explain panel draws voxel importance on a brain slice).
// Two sources: a GOD-layout .npz's `voxel_xyz` (millimetres, MNI), and the grid a NIfTI volume (or a 4-D HDF5
// series read through a NIfTI / 3-D .npy mask) was read on, where a voxel's place is its index (i, j, k).
// The readers keep voxels in C order over (x, y, z) (nifti.ts, niftiStream.ts, h5.ts): flat index
// (i·Y + j)·Z + k, k fastest, i.e. numpy's `np.argwhere(nib.load(mask).get_fdata() > 0)` row order, NOT the
// file's own x-fastest (Fortran) order; gridCoords follows the same rule, so coordinate row v is voxel v.
import { FmriFormatError } from './errors';

/**
 * A NIfTI grid's voxel-to-millimetre transform: (x, y, z) mm = A · (i, j, k, 1), from the header's sform when
 * sform_code > 0, else its qform when qform_code > 0 (nibabel's `img.affine` for such files).
 */
export interface GridAffine {
  /** A's first three rows, [3 × 4] row-major. */
  rows: number[];
  from: 'sform' | 'qform';
  /** The file whose header it comes from (messages). */
  file: string;
}

/** Positions of the voxels of a vector, one (x, y, z) row per voxel in the vector's order. */
export interface VoxelCoords {
  /** [voxels × 3] row-major. */
  xyz: Int32Array;
  /**
   * 'grid': 0-based voxel indices (i, j, k) on the NIfTI grid of `dims`, i along the header's first axis;
   * 'mm': millimetres (a GOD .npz's voxel_xyz, MNI space).
   */
  space: 'grid' | 'mm';
  /** Distance between neighbouring voxels in these units: 1 on a grid; the voxel size in mm (3 for GOD's data). */
  step: number;
  /** The grid [X, Y, Z] for 'grid'. */
  dims?: [number, number, number];
  /** 'grid' only: the grid's voxel-to-mm affine, when the header gives one (absent: sform and qform codes 0, or no NIfTI). */
  affine?: GridAffine;
}

/**
 * The (i, j, k) of every kept voxel of an X×Y×Z grid, in the readers' C order (k fastest): all voxels when
 * `flags` is undefined, else those with a non-zero flag (flags indexed (i·Y + j)·Z + k, as readMask gives them).
 * @throws FmriFormatError when `flags` is not one entry per grid voxel
 */
export function gridCoords(dims: [number, number, number], flags?: ArrayLike<number>, affine?: GridAffine): VoxelCoords {
  const [X, Y, Z] = dims;
  if (flags && flags.length !== X * Y * Z)
    throw new FmriFormatError('mask', `${flags.length} flags for the ${X}×${Y}×${Z} grid (${X * Y * Z} voxels)`);
  const out: number[] = [];
  for (let i = 0; i < X; i++)
    for (let j = 0; j < Y; j++) for (let k = 0; k < Z; k++) if (!flags || flags[(i * Y + j) * Z + k]) out.push(i, j, k);
  return { xyz: Int32Array.from(out), space: 'grid', step: 1, dims: [X, Y, Z], ...(affine ? { affine } : {}) };
}

/** Largest difference (mm, or unitless for the rotation-zoom part) two affines of one grid may have: float32 header noise. */
const AFFINE_TOLERANCE = 1e-3;

/**
 * The affine of a grid read through a mask from another file: the mask's, else the data's (either may have none).
 * @throws FmriFormatError naming the mask when both have one and they differ: the mask's voxels are then not
 *   where the data's are (another space or resampling), and which positions are right cannot be known
 */
export function maskedGridAffine(data: GridAffine | undefined, mask: GridAffine | undefined): GridAffine | undefined {
  if (!data || !mask) return mask ?? data;
  if (data.rows.every((v, n) => Math.abs(v - mask.rows[n]) <= AFFINE_TOLERANCE)) return mask;
  const text = (a: GridAffine) => `${a.from} [${a.rows.map((v) => +v.toFixed(4)).join(', ')}]`;
  throw new FmriFormatError(
    mask.file,
    `the mask's voxel-to-mm affine (${text(mask)}) differs from that of ${data.file} (${text(data)}): the mask is on another ` +
      "grid (another space or resampling) than the data, so its voxels are not the data's; resample the mask onto the data's grid",
  );
}

/**
 * Millimetre coordinates from a [voxels, 3] array (a GOD .npz's voxel_xyz); `step` is the smallest non-zero
 * distance between two voxels along an axis (their voxel size; 1 when all share every coordinate).
 */
export function mmCoords(values: ArrayLike<number | bigint>): VoxelCoords {
  const xyz = Int32Array.from(values, (v) => Math.round(Number(v)));
  let step = Infinity;
  for (let axis = 0; axis < 3; axis++) {
    const sorted = [...new Set(Array.from({ length: xyz.length / 3 }, (_, v) => xyz[v * 3 + axis]))].sort((a, b) => a - b);
    for (let n = 1; n < sorted.length; n++) step = Math.min(step, sorted[n] - sorted[n - 1]);
  }
  return { xyz, space: 'mm', step: Number.isFinite(step) ? step : 1 };
}

/** The rows `columns` (voxel indices, in order) of `c`: the coordinates of a selection (an ROI) of the voxels. */
export function selectCoords(c: VoxelCoords, columns: ArrayLike<number>): VoxelCoords {
  const xyz = new Int32Array(columns.length * 3);
  for (let j = 0; j < columns.length; j++) xyz.set(c.xyz.subarray(columns[j] * 3, columns[j] * 3 + 3), j * 3);
  return { ...c, xyz };
}
