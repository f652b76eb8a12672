// NumPy .npz: a zip of .npy members (stored or deflated). fflate does the unzipping.
// Like `np.load` (lazy: a member is only parsed when asked for), members that are not numeric arrays —
// dtype object (pickled Python objects), strings, structured records — are skipped and reported, never
// unpickled and never fatal. A damaged numeric member still fails the whole file.
import { unzipSync } from 'fflate';
import { NpyFormatError, readNpy, type NpyArray } from './npy';

export type Npz = Record<string, NpyArray>;

/** A member left out, with its dtype as the header declares it. */
export interface SkippedMember {
  name: string;
  dtype: string;
}

/**
 * Every numeric member of an .npz, keyed by name without the `.npy` suffix.
 * @param only keep only the members whose name (without `.npy`) passes
 * @param skipped receives the non-numeric members that were left out
 * @throws NpyFormatError for a corrupt zip or a corrupt numeric member
 */
export function readNpz(bytes: Uint8Array, only?: (name: string) => boolean, skipped?: SkippedMember[]): Npz {
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
      if (e instanceof NpyFormatError && e.nonNumericDtype !== undefined) {
        skipped?.push({ name: name.slice(0, -4), dtype: e.nonNumericDtype });
        continue;
      }
      throw new NpyFormatError(`member ${name}: ${(e as Error).message}`);
    }
  }
  return out;
}
