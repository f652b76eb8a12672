// Model bundle sources for the worker. Every source is wrapped so the files the loader reads are kept:
// that gives the manifest bytes (whose sha256 identifies the bundle) and what to store in OPFS.
import type { ModelSourceSpec } from '../engine/protocol';
import { bundleFromZip, memorySource, urlSource, type BundleSource } from '../io/bundle';
import { readSaved } from './modelStore';

export interface OpenedBundle {
  source: BundleSource;
  /** Files read through `source` so far, by bundle-relative path. */
  read: Map<string, Uint8Array>;
  label: string;
  key: string;
}

function recording(inner: BundleSource, read: Map<string, Uint8Array>): BundleSource {
  return {
    label: inner.label,
    async read(file, opts) {
      const bytes = await inner.read(file, opts);
      read.set(file, bytes);
      return bytes;
    },
  };
}

export async function openBundle(spec: ModelSourceSpec): Promise<OpenedBundle> {
  const read = new Map<string, Uint8Array>();
  let inner: BundleSource, label: string, key: string;
  switch (spec.kind) {
    case 'url':
      inner = urlSource(spec.base);
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
  return { source: recording(inner, read), read, label, key };
}
