// Saved model bundles in the Origin Private File System: one folder per bundle holding its files and
// an info.json. Only bundles the user chose to keep are written; nothing leaves the machine.
import type { SavedModel } from '../engine/protocol';

const ROOT = 'models';
const INFO = 'studio-info.json';

async function root(): Promise<FileSystemDirectoryHandle> {
  const opfs = await navigator.storage.getDirectory();
  return opfs.getDirectoryHandle(ROOT, { create: true });
}

/** Saved-model ids are hex digests, so they are safe folder names. */
function checkId(id: string): void {
  if (!/^[0-9a-f]{8,64}$/.test(id)) throw new Error(`invalid saved-model id ${JSON.stringify(id)}`);
}

export async function saveModel(id: string, label: string, files: Map<string, Uint8Array>): Promise<void> {
  checkId(id);
  const dir = await (await root()).getDirectoryHandle(id, { create: true });
  let bytes = 0;
  for (const [path, data] of files) {
    // Flatten nested paths: bundles are manifest + shards, names stay unique.
    const handle = await dir.getFileHandle(encodeURIComponent(path), { create: true });
    const w = await handle.createWritable();
    await w.write(data as Uint8Array<ArrayBuffer>);
    await w.close();
    bytes += data.byteLength;
  }
  const info: SavedModel = { id, label, bytes, savedAt: new Date().toISOString() };
  const w = await (await dir.getFileHandle(INFO, { create: true })).createWritable();
  await w.write(JSON.stringify(info));
  await w.close();
}

export async function listSaved(): Promise<SavedModel[]> {
  const out: SavedModel[] = [];
  for await (const [name, handle] of (await root()).entries()) {
    if (handle.kind !== 'directory') continue;
    try {
      const file = await (await (handle as FileSystemDirectoryHandle).getFileHandle(INFO)).getFile();
      out.push(JSON.parse(await file.text()) as SavedModel);
    } catch {
      // No info: a save that was interrupted. List it so the user can Delete it.
      out.push({ id: name, label: `${name} (incomplete)`, bytes: 0, savedAt: '' });
    }
  }
  return out.sort((a, b) => b.savedAt.localeCompare(a.savedAt));
}

export async function readSaved(id: string): Promise<{ label: string; files: Map<string, Uint8Array> }> {
  checkId(id);
  const dir = await (await root()).getDirectoryHandle(id);
  const files = new Map<string, Uint8Array>();
  let label = id;
  for await (const [name, handle] of dir.entries()) {
    if (handle.kind !== 'file') continue;
    const file = await (handle as FileSystemFileHandle).getFile();
    if (name === INFO) {
      label = (JSON.parse(await file.text()) as SavedModel).label;
      continue;
    }
    files.set(decodeURIComponent(name), new Uint8Array(await file.arrayBuffer()));
  }
  return { label, files };
}

export async function deleteSaved(id: string): Promise<void> {
  checkId(id);
  await (await root()).removeEntry(id, { recursive: true });
}
