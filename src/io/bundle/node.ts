// Node-only bundle helpers: a directory as BundleSink / BundleSource (kept apart from browser code).
import { mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelConfig } from '../../model/config';
import { BundleError } from '../errors';
import type { BundleManifest } from './manifest';
import type { BundleSource } from './loader';
import { writeBundle, type BundleSink, type BundleTensor, type WriteBundleOptions } from './writer';

const CHUNK = 8 * 2 ** 20;

export function dirSink(dir: string): BundleSink {
  return {
    async write(file, bytes) {
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, file), bytes);
    },
  };
}

export function dirSource(dir: string): BundleSource {
  return {
    label: dir,
    async read(file, opts = {}) {
      let handle;
      try {
        handle = await open(join(dir, file), 'r');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new BundleError(`${file} is missing from ${dir}`);
        throw new BundleError(`cannot read ${file} in ${dir}: ${(e as Error).message}`);
      }
      try {
        const { size } = await handle.stat();
        const out = new Uint8Array(size);
        // Chunked so progress moves during big shards and a cancel takes effect between chunks.
        for (let o = 0; o < size; ) {
          if (opts.signal?.aborted) throw new DOMException('bundle loading was cancelled', 'AbortError');
          const { bytesRead } = await handle.read(out, o, Math.min(CHUNK, size - o), o);
          if (bytesRead === 0) break;
          o += bytesRead;
          opts.onBytes?.(bytesRead);
        }
        return out;
      } finally {
        await handle.close();
      }
    },
  };
}

export function writeBundleToDir(
  dir: string,
  config: ModelConfig,
  tensors: Record<string, BundleTensor>,
  opts?: WriteBundleOptions,
): Promise<BundleManifest> {
  return writeBundle(dirSink(dir), config, tensors, opts);
}
