// HDF5 (.h5/.hdf5) via h5wasm: either a bdpy BData file or a plain file holding a 2-D numeric dataset.
// BData (bdpy `BData.save`): /dataset [samples, columns] (older files: /dataSet) and /metadata/{key,value}
// (/metaData); value is [keys, columns], 1 where a column belongs to the key (e.g. VoxelData, ROI_VC),
// or per-column numbers (voxel_x) — per-sample keys such as DataType/Label are columns of the dataset itself.
import type { Dataset, File as H5File, Group } from 'h5wasm';
import { FmriFormatError } from './errors';

export interface H5Table {
  /** Path of the dataset the samples come from. */
  dataset: string;
  rows: number;
  cols: number;
  /** Row-major values of the chosen columns. */
  data: Float32Array;
  /** ROI masks over the chosen columns. */
  masks?: Record<string, Uint8Array>;
  /** Split name → row indices (BData DataType: 1 train, 2 test, 3 imagery). */
  splits?: Record<string, Int32Array>;
  /** Per-row label (BData `Label`/`stimulus_name` column). */
  labels?: string[];
  notes: string[];
}

/** Names tried, in order, when no dataset is named and the file is not BData. */
const PREFERRED = ['fmri', 'data', 'x', 'betas', 'dataset', 'voxels', 'responses'];
const MAX_ELEMENTS = 1e9;

type Numeric = ArrayLike<number | bigint>;

let counter = 0;

/** h5wasm (a few MB of wasm) is loaded on the first HDF5 file, not with the app. */
type H5Module = typeof import('h5wasm');
let h5: H5Module | undefined;
const lib = (): H5Module => h5!;

function numericValues(name: string, ds: Dataset): Float32Array {
  const meta = ds.metadata;
  const ok = meta.type === 0 || meta.type === 1 || (meta.type === 8 && meta.enum_type !== undefined);
  if (!ok) throw new FmriFormatError(name, `dataset ${ds.path} is not numeric (HDF5 type class ${meta.type})`);
  const total = (meta.shape ?? []).reduce((a, b) => a * b, 1);
  if (total > MAX_ELEMENTS) throw new FmriFormatError(name, `absurd dataset shape ${ds.path} ${(meta.shape ?? []).join('×')}`);
  const v = ds.value as unknown;
  if (v === null || typeof v !== 'object' || !('length' in (v as object))) {
    return new Float32Array([Number(v)]);
  }
  const src = v as Numeric;
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = Number(src[i]);
  return out;
}

function isNumericDataset(e: unknown): e is Dataset {
  if (!(e instanceof lib().Dataset)) return false;
  const t = e.metadata.type;
  return t === 0 || t === 1 || (t === 8 && e.metadata.enum_type !== undefined);
}

function stringValues(ds: Dataset): string[] {
  const v = ds.value as unknown;
  if (Array.isArray(v)) return v.map((x) => String(x));
  if (typeof v === 'string') return [v];
  if (v && typeof v === 'object' && 'length' in (v as object)) return Array.from(v as ArrayLike<number>, (x) => String(x));
  return [];
}

function walk(group: Group, out: Dataset[]): void {
  for (const key of group.keys()) {
    const e = group.get(key);
    if (e instanceof lib().Group) walk(e, out);
    else if (e instanceof lib().Dataset) out.push(e);
  }
}

function readBData(name: string, file: H5File, dsPath: string, mdPath: string, notes: string[]): H5Table {
  const ds = file.get(dsPath) as Dataset;
  const shape = ds.shape ?? [];
  if (shape.length !== 2) throw new FmriFormatError(name, `BData ${dsPath} has shape ${shape.join('×')}, expected [samples, columns]`);
  const [rows, allCols] = shape;
  const all = numericValues(name, ds);
  const keyDs = file.get(`${mdPath}/key`);
  const valDs = file.get(`${mdPath}/value`);
  if (!(keyDs instanceof lib().Dataset) || !(valDs instanceof lib().Dataset)) {
    throw new FmriFormatError(name, `BData ${mdPath} lacks key/value datasets`);
  }
  const keys = stringValues(keyDs);
  const values = numericValues(name, valDs);
  if (values.length !== keys.length * allCols) {
    throw new FmriFormatError(name, `BData ${mdPath}/value has ${values.length} values, expected ${keys.length}×${allCols}`);
  }
  const column = (key: string) => {
    const k = keys.indexOf(key);
    return k < 0 ? undefined : values.subarray(k * allCols, (k + 1) * allCols);
  };
  // The column of a per-sample key is the one whose metadata row is 1.
  const sampleColumn = (key: string) => {
    const row = column(key);
    const c = row ? row.findIndex((x) => x === 1) : -1;
    return c < 0 ? undefined : Array.from({ length: rows }, (_, r) => all[r * allCols + c]);
  };
  const voxelRow = column('VoxelData');
  const voxelCols: number[] = [];
  for (let c = 0; c < allCols; c++) if (!voxelRow || voxelRow[c] === 1) voxelCols.push(c);
  notes.push(voxelRow ? `BData: ${voxelCols.length} VoxelData columns of ${allCols}` : `BData without VoxelData: all ${allCols} columns used`);
  const cols = voxelCols.length;
  if (cols === 0) throw new FmriFormatError(name, 'BData VoxelData selects no columns');
  const data = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) data[r * cols + j] = all[r * allCols + voxelCols[j]];
  const masks: Record<string, Uint8Array> = {};
  for (const key of keys) {
    if (!key.startsWith('ROI_')) continue;
    const row = column(key)!;
    masks[key.slice(4)] = Uint8Array.from(voxelCols, (c) => (row[c] === 1 ? 1 : 0));
  }
  const table: H5Table = { dataset: dsPath, rows, cols, data, notes };
  if (Object.keys(masks).length) table.masks = masks;
  const dataType = sampleColumn('DataType');
  if (dataType) {
    const names: Record<number, string> = { 1: 'train', 2: 'test', 3: 'imagery' };
    const groups: Record<string, number[]> = {};
    dataType.forEach((t, r) => { (groups[names[t] ?? `type-${t}`] ??= []).push(r); });
    table.splits = Object.fromEntries(Object.entries(groups).map(([k, v]) => [k, Int32Array.from(v)]));
  }
  const label = sampleColumn('Label') ?? sampleColumn('stimulus_id');
  if (label) table.labels = label.map((x) => String(x));
  return table;
}

export async function readH5(name: string, bytes: Uint8Array, opts: { dataset?: string } = {}): Promise<H5Table> {
  // HDF5 superblock signature \x89HDF\r\n\x1a\n (at offset 0 for files written by h5py).
  const SIG = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length < 8 || SIG.some((b, i) => bytes[i] !== b)) {
    throw new FmriFormatError(name, 'not an HDF5 file (the \\x89HDF signature is missing)');
  }
  h5 ??= await import('h5wasm');
  const { FS } = await h5.ready;
  if (!FS) throw new FmriFormatError(name, 'h5wasm has no in-memory file system');
  const path = `/decoding-studio-${counter++}.h5`;
  FS.writeFile(path, bytes);
  let file: H5File | undefined;
  try {
    try {
      file = new h5.File(path, 'r');
    } catch (e) {
      file = undefined;
      throw new FmriFormatError(name, `corrupt or truncated HDF5 file: ${(e as Error).message}`);
    }
    // h5wasm does not throw when H5Fopen fails: it hands back an invalid (negative) id.
    if (file.file_id < 0n) {
      file = undefined;
      throw new FmriFormatError(name, 'corrupt or truncated HDF5 file (the HDF5 library cannot open it)');
    }
    const notes: string[] = [];
    if (!opts.dataset) {
      for (const [dsPath, mdPath] of [['/dataset', '/metadata'], ['/dataSet', '/metaData']]) {
        if (isNumericDataset(file.get(dsPath)) && file.get(mdPath) instanceof lib().Group) {
          return readBData(name, file, dsPath, mdPath, notes);
        }
      }
    }
    const datasets: Dataset[] = [];
    walk(file, datasets);
    const numeric = datasets.filter(isNumericDataset);
    let chosen: Dataset | undefined;
    if (opts.dataset) {
      const e = file.get(opts.dataset);
      if (!isNumericDataset(e)) {
        throw new FmriFormatError(name, `no numeric dataset ${opts.dataset}; numeric datasets: ${numeric.map((d) => d.path).join(', ') || 'none'}`);
      }
      chosen = e;
    } else {
      const twoD = numeric.filter((d) => (d.shape ?? []).length === 2 || (d.shape ?? []).length === 1);
      const base = (d: Dataset) => d.path.split('/').pop()!.toLowerCase();
      chosen = PREFERRED.map((p) => twoD.find((d) => base(d) === p && (d.shape ?? []).length === 2)).find((d) => d)
        ?? twoD.filter((d) => (d.shape ?? []).length === 2).sort((a, b) => size(b) - size(a))[0]
        ?? twoD.sort((a, b) => size(b) - size(a))[0];
      if (!chosen) throw new FmriFormatError(name, `no 1-D or 2-D numeric dataset (found: ${datasets.map((d) => `${d.path} ${(d.shape ?? []).join('×')}`).join(', ') || 'nothing'})`);
      const others = twoD.filter((d) => d !== chosen && (d.shape ?? []).length === 2).map((d) => d.path);
      notes.push(`dataset ${chosen.path} chosen${others.length ? ` (other 2-D datasets: ${others.join(', ')})` : ''}`);
    }
    const shape = chosen.shape ?? [];
    if (shape.length !== 1 && shape.length !== 2) {
      throw new FmriFormatError(name, `dataset ${chosen.path} has shape ${shape.join('×')}, expected [samples, voxels] or [voxels]`);
    }
    const [rows, cols] = shape.length === 2 ? shape : [1, shape[0]];
    const data = numericValues(name, chosen);
    // 1-D datasets as long as a row are ROI masks when they hold only 0/1 (h5py writes bool as an enum).
    const masks: Record<string, Uint8Array> = {};
    for (const d of numeric) {
      const s = d.shape ?? [];
      if (d === chosen || s.length !== 1 || s[0] !== cols) continue;
      const v = numericValues(name, d);
      if (v.every((x) => x === 0 || x === 1)) masks[d.path.split('/').pop()!] = Uint8Array.from(v);
    }
    const table: H5Table = { dataset: chosen.path, rows, cols, data, notes };
    if (Object.keys(masks).length) table.masks = masks;
    return table;
  } finally {
    file?.close();
    FS.unlink(path);
  }
}

function size(d: Dataset): number {
  return (d.shape ?? []).reduce((a, b) => a * b, 1);
}
