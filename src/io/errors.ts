// Typed errors of the io layer: each names the file and says what was expected and what was found.

/** An fMRI data file that cannot be turned into voxel vectors. */
export class FmriFormatError extends Error {
  constructor(readonly file: string, detail: string) {
    super(`${file}: ${detail}`);
    this.name = 'FmriFormatError';
  }
}

/** A weight bundle that is incomplete, corrupt or of an unknown version. */
export class BundleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BundleError';
  }
}

/** A PyTorch / safetensors checkpoint that cannot be read. */
