// BundleSource implementations usable in browsers and Node: URL base (fetch, streamed), in-memory files
// (a dropped folder), and a .zip of a bundle folder.
import { unzipSync } from 'fflate';
import { BundleError } from '../errors';
import { MANIFEST_FILE } from './manifest';
import type { BundleSource, ReadOptions } from './loader';

async function readStream(body: ReadableStream<Uint8Array>, opts: ReadOptions): Promise<Uint8Array> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const onAbort = () => {
    void reader.cancel();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      if (opts.signal?.aborted) throw new DOMException('bundle loading was cancelled', 'AbortError');
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
      opts.onBytes?.(value.length);
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
  if (opts.signal?.aborted) throw new DOMException('bundle loading was cancelled', 'AbortError');
  const out = new Uint8Array(size);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** Files under a URL prefix (…/models/name/manifest.json, …/shard-000.bin). */
export function urlSource(base: string, fetchImpl: typeof fetch = fetch): BundleSource {
  const root = base.endsWith('/') ? base : `${base}/`;
  return {
    label: base,
    async read(file, opts = {}) {
      let res: Response;
      try {
        res = await fetchImpl(new URL(file, new URL(root, globalThis.location?.href ?? 'http://localhost/')).href, { signal: opts.signal });
      } catch (e) {
        if ((e as Error).name === 'AbortError') throw e;
        throw new BundleError(`cannot fetch ${file} from ${base}: ${(e as Error).message}`);
      }
      if (res.status === 404) throw new BundleError(`${file} is missing from ${base} (HTTP 404)`);
      if (!res.ok) throw new BundleError(`cannot fetch ${file} from ${base}: HTTP ${res.status}`);
      // A single-page-app server (vite preview, most static hosts) answers an unknown path with its index page.
      if (/^text\/html\b/i.test(res.headers.get('content-type') ?? '')) {
        void res.body?.cancel();
        throw new BundleError(`${file} is missing from ${base} (the server answered with an HTML page, not the file)`);
      }
      if (!res.body) {
        const bytes = new Uint8Array(await res.arrayBuffer());
        opts.onBytes?.(bytes.length);
        return bytes;
      }
      return readStream(res.body, opts);
    },
  };
}

/** Files held in memory, keyed by path relative to the bundle root. */
export function memorySource(files: Map<string, Blob | Uint8Array>, label = 'dropped files'): BundleSource {
  return {
    label,
    async read(file, opts = {}) {
      const f = files.get(file);
      if (f === undefined) throw new BundleError(`${file} is missing from ${label}`);
      if (f instanceof Uint8Array) {
        opts.onBytes?.(f.length);
        return f;
      }
      return readStream(f.stream(), opts);
    },
  };
}

/** A zipped bundle folder: the folder holding manifest.json becomes the root. */
export function bundleFromZip(bytes: Uint8Array, label = 'zip archive'): BundleSource {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes);
  } catch (e) {
    throw new BundleError(`${label} is not a readable zip: ${(e as Error).message}`);
  }
  const manifests = Object.keys(files).filter((p) => p === MANIFEST_FILE || p.endsWith(`/${MANIFEST_FILE}`));
  if (manifests.length === 0) throw new BundleError(`${label} holds no ${MANIFEST_FILE}`);
  if (manifests.length > 1) throw new BundleError(`${label} holds several bundles (${manifests.join(', ')}); zip one bundle folder`);
  const root = manifests[0].slice(0, -MANIFEST_FILE.length);
  const map = new Map<string, Uint8Array>();
  for (const [p, data] of Object.entries(files)) if (p.startsWith(root) && !p.endsWith('/')) map.set(p.slice(root.length), data);
  return memorySource(map, label);
}
