// A file on disk read on demand (Node: the CLI, the tests): HDF5 and MATLAB v7.3 files given by path are
// read lazily through it (io/randomAccess.ts), never copied whole into memory.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { cachedFile, type RandomAccessFile } from './randomAccess';

/**
 * Opens `path` read-only; `close` releases the descriptor (reads after it fail).
 * @throws the error of node:fs for a file that cannot be opened
 */
export function openNodeFile(path: string): RandomAccessFile & { close(): void } {
  const fd = openSync(path, 'r');
  let open = true;
  const file = cachedFile(fstatSync(fd).size, (position, into) => {
    if (!open) throw new Error('the file was closed');
    let done = 0;
    while (done < into.length) {
      const n = readSync(fd, into, done, into.length - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return done;
  });
  return Object.assign(file, {
    close() {
      if (open) closeSync(fd);
      open = false;
    },
  });
}
