// Node-only RandomAccess over a file descriptor (kept apart so browser bundles never import node:fs).
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { RandomAccess } from './access';

export function fileAccess(path: string): RandomAccess & { close(): void } {
  const fd = openSync(path, 'r');
  const size = fstatSync(fd).size;
  return {
    size,
    read(offset, length) {
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const n = readSync(fd, out, done, length - done, offset + done);
        if (n === 0) break;
        done += n;
      }
      return done === length ? out : out.subarray(0, done);
    },
    close: () => closeSync(fd),
  };
}
