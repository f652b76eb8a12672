// DataTransfer → files with folder-relative paths (a dropped model bundle folder is walked recursively).
import type { DroppedFile } from './dropped';

function readAll(reader: FileSystemDirectoryReader): Promise<FileSystemEntry[]> {
  // readEntries returns batches (Chromium: 100 at a time) until an empty one.
  return new Promise((resolve, reject) => {
    const out: FileSystemEntry[] = [];
    const next = () =>
      reader.readEntries((batch) => {
        if (batch.length === 0) resolve(out);
        else {
          out.push(...batch);
          next();
        }
      }, reject);
    next();
  });
}

async function walk(entry: FileSystemEntry, prefix: string, out: DroppedFile[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    out.push({ path: prefix + entry.name, file });
  } else if (entry.isDirectory) {
    for (const child of await readAll((entry as FileSystemDirectoryEntry).createReader())) {
      await walk(child, `${prefix}${entry.name}/`, out);
    }
  }
}

export async function filesFromDataTransfer(dt: DataTransfer): Promise<DroppedFile[]> {
  // Entries must be taken synchronously, before the first await, or the DataTransfer is emptied.
  const entries = Array.from(dt.items)
    .filter((i) => i.kind === 'file')
    .map((i) => i.webkitGetAsEntry?.() ?? null);
  if (entries.length && entries.every((e) => e !== null)) {
    const out: DroppedFile[] = [];
    for (const e of entries) await walk(e!, '', out);
    return out;
  }
  return Array.from(dt.files).map((file) => ({ path: file.name, file }));
}
