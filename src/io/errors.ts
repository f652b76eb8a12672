// Typed errors of the io layer: each names the file and says what was expected and what was found.
import { StudioError, errorClass } from '../errors';

/** An fMRI data file that cannot be turned into voxel vectors. */
export class FmriFormatError extends StudioError {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super('FmriFormatError', `${file}: ${detail}`);
  }
}

/** A file's voxels that cannot be put into a model's voxel order (src/io/voxelOrder.ts): the message says which and why. */
export class VoxelOrderError extends errorClass('VoxelOrderError') {}

/** A weight bundle that is incomplete, corrupt or of an unknown version. */
export class BundleError extends errorClass('BundleError') {}

/** A PyTorch / safetensors checkpoint that cannot be read. */
