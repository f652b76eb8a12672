// A file read on demand, synchronously, at any offset: what HDF5 (h5wasm, h5.ts) needs to read a file lazily
// instead of from a whole in-memory copy. The CLI gives one over a file descriptor (node:fs readSync), the
// studio's worker one over the user's File (FileReaderSync, which only workers have). Reads go through a small
// cache of aligned blocks: HDF5 asks for many small pieces (object headers, B-tree nodes, one 1.5 KB chunk per
// voxel in NSD's .hdf5), and each read of a Blob or a file descriptor has a fixed cost.

export interface RandomAccessFile {
  /** Size in bytes. */
  readonly size: number;
  /**
   * Fills `into` with the bytes from `position`.
   * @returns the number of bytes read: fewer than `into.length` only at the end of the file
   */
  readInto(position: number, into: Uint8Array): number;
}

/** Bytes [position, position + length) of `file`, fewer at its end. */
export function readAt(file: RandomAccessFile, position: number, length: number): Uint8Array {
  const n = Math.max(0, Math.min(length, file.size - position));
  const out = new Uint8Array(n);
  if (n > 0) file.readInto(position, out);
  return out;
}

const BLOCK = 1 << 18; // 256 KiB
const BLOCKS = 16; // 4 MiB in all

/**
 * `read` (a raw positional read: fills `into` from `position`, returns the count) behind a cache of the last 16
 * aligned 256 KiB blocks; reads of a block or more go straight through.
 */
export function cachedFile(size: number, read: (position: number, into: Uint8Array) => number): RandomAccessFile {
  const blocks = new Map<number, Uint8Array>(); // block index → bytes; Map order = least recently used first
  const block = (b: number): Uint8Array => {
    let bytes = blocks.get(b);
    if (bytes) {
      blocks.delete(b);
    } else {
      bytes = new Uint8Array(Math.min(BLOCK, size - b * BLOCK));
      const n = read(b * BLOCK, bytes);
      if (n < bytes.length) bytes = bytes.subarray(0, n);
      if (blocks.size >= BLOCKS) blocks.delete(blocks.keys().next().value!);
    }
    blocks.set(b, bytes);
    return bytes;
  };
  return {
    size,
    readInto(position, into) {
      const want = Math.max(0, Math.min(into.length, size - position));
      if (want >= BLOCK) return read(position, into.subarray(0, want));
      let done = 0;
      while (done < want) {
        const at = position + done;
        const bytes = block(Math.floor(at / BLOCK));
        const from = at % BLOCK;
        const n = Math.min(want - done, bytes.length - from);
        if (n <= 0) break; // the file is shorter than it said
        into.set(bytes.subarray(from, from + n), done);
        done += n;
      }
      return done;
    },
  };
}

/**
 * A File/Blob read synchronously in a web worker (FileReaderSync), or undefined where there is no
 * FileReaderSync (a page's main thread, Node): the caller then reads the bytes whole.
 */
export function blobFile(blob: Blob): RandomAccessFile | undefined {
  const Reader = (globalThis as { FileReaderSync?: new () => { readAsArrayBuffer(b: Blob): ArrayBuffer } }).FileReaderSync;
  if (typeof Reader !== 'function') return undefined;
  const reader = new Reader();
  return cachedFile(blob.size, (position, into) => {
    const bytes = new Uint8Array(reader.readAsArrayBuffer(blob.slice(position, position + into.length)));
    into.set(bytes);
    return bytes.length;
  });
}
