// Random access to checkpoint bytes. Phase-3 checkpoints are ~2.4 GB, beyond what Node's readFile
// returns in one buffer, so readers ask for byte ranges instead of holding the whole file.

export interface RandomAccess {
  readonly size: number;
  /** Exactly `length` bytes from `offset` (callers check bounds against `size`). */
  read(offset: number, length: number): Uint8Array;
}

export function memoryAccess(bytes: Uint8Array): RandomAccess {
  return { size: bytes.length, read: (offset, length) => bytes.subarray(offset, offset + length) };
}
