// Checkpoint reader entry: picks torch zip or safetensors by content.
import { CheckpointError } from '../errors';
import type { RandomAccess } from './access';
import { readTorchZip } from './pth';
import { isSafetensors, readSafetensors } from './safetensors';
import type { Checkpoint } from './types';

export { memoryAccess, type RandomAccess } from './access';
export { loadAll, type Checkpoint } from './types';

export function readCheckpoint(file: string, src: RandomAccess): Checkpoint {
  if (src.size === 0) throw new CheckpointError(file, 'empty file');
  if (file.toLowerCase().endsWith('.safetensors') || isSafetensors(src)) return readSafetensors(file, src);
  return readTorchZip(file, src);
}
