// NumPy .npz: a zip of .npy members (stored or deflated). fflate does the unzipping.
import { unzipSync } from 'fflate';
import { NpyFormatError, readNpy, type NpyArray } from './npy';

export type Npz = Record<string, NpyArray>;

/** Every member of an .npz, keyed by name without the `.npy` suffix. */
export function readNpz(bytes: Uint8Array, only?: (name: string) => boolean): Npz {
  if (bytes.length < 4 || bytes[0] !== 0x50 || bytes[1] !== 0x4b) {
    throw new NpyFormatError('not an .npz file (no zip signature)');
  }
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, { filter: (f) => f.name.endsWith('.npy') && (!only || only(f.name.slice(0, -4))) });
  } catch (e) {
    throw new NpyFormatError(`corrupt or truncated .npz: ${(e as Error).message}`);
  }
  const out: Npz = {};
  for (const [name, data] of Object.entries(files)) {
    try {
      out[name.slice(0, -4)] = readNpy(data);
    } catch (e) {
      throw new NpyFormatError(`member ${name}: ${(e as Error).message}`);
    }
  }
  return out;
}
