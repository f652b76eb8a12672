// Model bundle sources for the worker. Every source is wrapped so the files the loader reads are kept:
// always the manifest (whose sha256 identifies the bundle); the shards only when they are to be stored
// in OPFS, as otherwise a second copy of every weight would stay in memory until the load ends.
import type { ModelSourceSpec } from '../engine/protocol';
import { bundleFromZip, memorySource, urlSource, type BundleSource } from '../io/bundle';
import { MANIFEST_FILE } from '../io/bundle/manifest';
import { readSaved } from './modelStore';

export interface OpenedBundle {
  source: BundleSource;
  /** Files read through `source` so far and kept (see openBundle), by bundle-relative path. */
  read: Map<string, Uint8Array>;
  label: string;
  key: string;
}

/**
 * `fetchImpl` with its network failures explained. fetch() says only "Failed to fetch" when a request is
 * blocked; from another origin that is nearly always the host not allowing this cross-origin-isolated
 * page to read it (CORS, CORP) or a plain-http URL, which the page's CSP refuses.
 */
export function explainingFetch(fetchImpl: typeof fetch, pageOrigin: string): typeof fetch {
  return async (input, init) => {
    try {
      return await fetchImpl(input, init);
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      const url = new URL(input instanceof Request ? input.url : String(input), pageOrigin);
      const why =
        url.origin === pageOrigin
          ? 'network error or the server is unreachable'
          : url.protocol !== 'https:'
            ? 'bundles on other hosts must be served over https'
            : `the host ${url.origin} must send Access-Control-Allow-Origin (CORS) and Cross-Origin-Resource-Policy: cross-origin headers, or it is unreachable`;
      throw new TypeError(`request blocked or failed (${(e as Error).message}) — ${why}`);
    }
  };
}

function recording(inner: BundleSource, read: Map<string, Uint8Array>, keepShards: boolean): BundleSource {
  return {
    label: inner.label,
    async read(file, opts) {
      const bytes = await inner.read(file, opts);
      if (keepShards || file === MANIFEST_FILE) read.set(file, bytes);
      return bytes;
    },
  };
}

/** `keepShards`: also keep every shard read (to save the bundle afterwards). */
export async function openBundle(spec: ModelSourceSpec, keepShards: boolean): Promise<OpenedBundle> {
  const read = new Map<string, Uint8Array>();
  let inner: BundleSource, label: string, key: string;
  switch (spec.kind) {
    case 'url':
      inner = urlSource(spec.base, explainingFetch(fetch, globalThis.location.origin));
      label = spec.label ?? spec.base;
      key = spec.base;
      break;
    case 'files':
      inner = memorySource(new Map(Object.entries(spec.files)), spec.label);
      label = spec.label;
      key = `files:${spec.label}`;
      break;
    case 'zip':
      inner = bundleFromZip(new Uint8Array(await spec.file.arrayBuffer()), spec.label);
      label = spec.label;
      key = `zip:${spec.label}`;
      break;
    case 'saved': {
      const saved = await readSaved(spec.id);
      inner = memorySource(saved.files, saved.label);
      label = saved.label;
      key = `saved:${spec.id}`;
      break;
    }
  }
  return { source: recording(inner, read, keepShards), read, label, key };
}
