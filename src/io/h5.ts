// HDF5 (.h5/.hdf5) via h5wasm: either a bdpy BData file or a plain file holding a 2-D numeric dataset.
// BData (bdpy `BData.save`): /dataset [samples, columns] (older files: /dataSet) and /metadata/{key,value}
// (/metaData); value is [keys, columns], 1 where a column belongs to the key (e.g. VoxelData, ROI_VC),
// or per-column numbers (voxel_x) — per-sample keys such as DataType/Label are columns of the dataset itself.
// MATLAB -v7.3 .mat files are HDF5 behind a 512-byte user block; MATLAB writes its column-major matrices
// so that HDF5 sees them transposed ([voxels, samples] for a samples × voxels matrix): they are transposed
// back. Compression filters beyond HDF5's own (deflate, shuffle, szip, …) are decoded by the plugins of
// the h5wasm-plugins package (LZF, Blosc, Blosc2, bzip2, LZ4, Zstd, bitshuffle, ZFP, …), installed into
// h5wasm's in-memory plugin folder the first time a dataset needs one. A dataset that still cannot be
// decoded is an error naming it and its filters — never numbers (HDF5 would otherwise hand back the
// uninitialised buffer). HDF5's own diagnostics are routed into the thrown errors, never to stderr.
// A file is read either from its bytes (copied into h5wasm's in-memory file system) or, given as a RandomAccessFile
// (a path in the CLI, the user's File in the studio's worker), on demand through a read-only mount: HDF5 then reads
// only what it needs (metadata, the chosen dataset, the chunks of a 4-D series' masked voxels), never the whole file.
import type { Dataset, File as H5File, Group } from 'h5wasm';
import { FmriFormatError } from './errors';
import { gridCoords, type VoxelCoords } from './coords';
import { maskVariable, matlabVersion } from './mat';
import type { Mask } from './mask';
import { readAt, type RandomAccessFile } from './randomAccess';

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
  /** Integer type of the stored samples (e.g. 'int16'), when they are integers. */
  integer?: string;
  /** A 4-D volume series read through a spatial mask (the columns are the masked voxels). */
  spatial?: boolean;
  /** With `spatial`: each column's (i, j, k) on the mask's grid (src/io/coords.ts). */
  coords?: VoxelCoords;
}

/** Names tried, in order, when no dataset is named and the file is not BData. */
const PREFERRED = ['fmri', 'data', 'x', 'betas', 'dataset', 'voxels', 'responses'];
const MAX_ELEMENTS = 1e9;

type Numeric = ArrayLike<number | bigint>;

let counter = 0;
let throwing = false;

/** h5wasm (a few MB of wasm) is loaded on the first HDF5 file, not with the app. */
type H5Module = typeof import('h5wasm');
let h5: H5Module | undefined;
const lib = (): H5Module => h5!;
/** The file inside which WebAssembly trapped: HDF5 stopped in the middle of a call, and is unusable after it. */
let broken: string | undefined;
/** Set when WebAssembly trapped inside HDF5 during the current file. */
let trapped = false;

/**
 * Whether HDF5 can still read files in this page or process: false after WebAssembly trapped inside it (a damaged
 * file made it access memory out of bounds); HDF5's state is then half-updated and later files would fail or
 * trap too. h5wasm is one instance per page (a second instance from its module cannot load the filter plugins:
 * the module keeps their dynamic-linking state), so only a reload (a new process for the CLI) brings it back.
 */
export const hdf5Usable = (): boolean => broken === undefined;

/** Filters built into h5wasm's HDF5: deflate, shuffle, fletcher32, szip, nbit, scaleoffset. */
const BUILTIN_FILTERS = new Set([1, 2, 3, 4, 5, 6]);
/** HDF5 registered filter id → plugin of h5wasm-plugins (https://github.com/HDFGroup/hdf5_plugins). */
const PLUGIN_FILTERS: Record<number, string> = {
  307: 'bz2',
  32000: 'lzf',
  32001: 'blosc',
  32004: 'lz4',
  32008: 'bshuf',
  32013: 'zfp',
  32015: 'zstd',
  32019: 'jpeg',
  32022: 'bitgroom',
  32023: 'bitround',
  32026: 'blosc2',
};
const installed = new Set<string>();

/** The plugin's bytes: from node_modules on disk (node, tests, CLI) or fetched as a Vite asset (browser). */
async function pluginBytes(plugin: string): Promise<Uint8Array> {
  const url = new URL(`../../node_modules/h5wasm-plugins/plugins/libH5Z${plugin}.so`, import.meta.url);
  if (url.protocol === 'file:') {
    const fsName = 'node:fs/promises';
    const fs = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs/promises');
    return new Uint8Array(await fs.readFile(url));
  }
  const res = await fetch(url);
  if (!res.ok) throw new Error(`HTTP ${res.status} for ${url.pathname}`);
  return new Uint8Array(await res.arrayBuffer());
}

/**
 * Make every filter of `ds` decodable, or throw naming the dataset and the filter.
 * @throws FmriFormatError for a filter no kept plugin provides, or a plugin that cannot be loaded
 */
async function ensureFilters(name: string, ds: Dataset): Promise<void> {
  let filters: { id: number; name: string }[];
  try {
    filters = ds.filters;
  } catch (e) {
    firstLine(e);
    return;
  } // no filter pipeline to report: the read itself will say
  for (const f of filters) {
    if (BUILTIN_FILTERS.has(f.id)) continue;
    const plugin = PLUGIN_FILTERS[f.id];
    if (!plugin) {
      throw new FmriFormatError(
        name,
        `dataset ${ds.path} is compressed with HDF5 filter ${f.id}${f.name ? ` (${f.name})` : ''}, ` +
          'which this reader cannot decode: re-save it with gzip compression (h5py: compression="gzip") or none',
      );
    }
    if (installed.has(plugin)) continue;
    try {
      const m = await lib().ready;
      const dir = m.get_plugin_search_paths()[0];
      m.FS.mkdirTree(dir);
      m.FS.writeFile(`${dir}/libH5Z${plugin}.so`, await pluginBytes(plugin));
      installed.add(plugin);
    } catch (e) {
      throw new FmriFormatError(
        name,
        `dataset ${ds.path} needs the ${plugin} filter plugin (HDF5 filter ${f.id}), which could not be loaded ` +
          `(${(e as Error).message}): re-save it with gzip compression or none`,
      );
    }
  }
}

function filterNames(ds: Dataset): string {
  try {
    const f = ds.filters.map((x) => `${x.name || 'filter'} (${x.id})`);
    return f.length ? `filters ${f.join(', ')}` : 'no filter';
  } catch (e) {
    firstLine(e);
    return 'filters unknown';
  }
}

/** HDF5's first diagnostic line, not the whole stack; a WebAssembly trap is noted (HDF5 is unusable after it). */
const firstLine = (e: unknown): string => {
  if (e instanceof WebAssembly.RuntimeError) trapped = true;
  const lines = String((e as Error)?.message ?? e)
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return (lines.find((l) => /^#\d+:/.test(l)) ?? lines[0] ?? '').replace(/^#\d+:\s*\S+ line \d+ in /, '').slice(0, 200);
};

/** Dataset values, read with HDF5 errors thrown: a dataset that does not decode never yields numbers. */
function readValue(name: string, ds: Dataset): unknown {
  try {
    return ds.value as unknown;
  } catch (e) {
    throw new FmriFormatError(
      name,
      `dataset ${ds.path} could not be decoded (${filterNames(ds)}): ${firstLine(e)}; ` +
        're-save it with gzip compression (h5py: compression="gzip") or none',
    );
  }
}

function numericValues(name: string, ds: Dataset): Float32Array {
  const meta = ds.metadata;
  const ok = meta.type === 0 || meta.type === 1 || (meta.type === 8 && meta.enum_type !== undefined);
  if (!ok) throw new FmriFormatError(name, `dataset ${ds.path} is not numeric (HDF5 type class ${meta.type})`);
  const total = (meta.shape ?? []).reduce((a, b) => a * b, 1);
  if (total > MAX_ELEMENTS) throw new FmriFormatError(name, `absurd dataset shape ${ds.path} ${(meta.shape ?? []).join('×')}`);
  const v = readValue(name, ds);
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

function stringValues(name: string, ds: Dataset): string[] {
  const v = readValue(name, ds);
  if (Array.isArray(v)) return v.map((x) => String(x));
  if (typeof v === 'string') return [v];
  if (v && typeof v === 'object' && 'length' in (v as object)) return Array.from(v as ArrayLike<number>, (x) => String(x));
  return [];
}

function walk(group: Group, out: Dataset[]): void {
  for (const key of group.keys()) {
    // MATLAB keeps cell contents and class internals here, not user variables.
    if (key === '#refs#' || key === '#subsystem#') continue;
    const e = group.get(key);
    if (e instanceof lib().Group) walk(e, out);
    else if (e instanceof lib().Dataset) out.push(e);
  }
}

async function readBData(
  name: string,
  file: H5File,
  dsPath: string,
  mdPath: string,
  notes: string[],
  checkHeaps: () => void,
): Promise<H5Table> {
  const ds = file.get(dsPath) as Dataset;
  const shape = ds.shape ?? [];
  if (shape.length !== 2) throw new FmriFormatError(name, `BData ${dsPath} has shape ${shape.join('×')}, expected [samples, columns]`);
  const [rows, allCols] = shape;
  const keyDs = file.get(`${mdPath}/key`);
  const valDs = file.get(`${mdPath}/value`);
  if (!(keyDs instanceof lib().Dataset) || !(valDs instanceof lib().Dataset)) {
    throw new FmriFormatError(name, `BData ${mdPath} lacks key/value datasets`);
  }
  for (const d of [ds, keyDs, valDs]) await ensureFilters(name, d);
  const all = numericValues(name, ds);
  if (keyDs.metadata.vlen) checkHeaps();
  const keys = stringValues(name, keyDs);
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
  notes.push(
    voxelRow ? `BData: ${voxelCols.length} VoxelData columns of ${allCols}` : `BData without VoxelData: all ${allCols} columns used`,
  );
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
  const integer = integerType(ds);
  if (integer) table.integer = integer;
  if (Object.keys(masks).length) table.masks = masks;
  const dataType = sampleColumn('DataType');
  if (dataType) {
    const names: Record<number, string> = { 1: 'train', 2: 'test', 3: 'imagery' };
    const groups: Record<string, number[]> = {};
    dataType.forEach((t, r) => {
      (groups[names[t] ?? `type-${t}`] ??= []).push(r);
    });
    table.splits = Object.fromEntries(Object.entries(groups).map(([k, v]) => [k, Int32Array.from(v)]));
  }
  const label = sampleColumn('Label') ?? sampleColumn('stimulus_id');
  if (label) table.labels = label.map((x) => String(x));
  return table;
}

/** 'int16', 'uint8', … for an integer dataset (HDF5 class 0), else undefined. */
function integerType(ds: Dataset): string | undefined {
  const m = ds.metadata;
  return m.type === 0 ? `${m.signed ? 'int' : 'uint'}${m.size * 8}` : undefined;
}

/**
 * Byte offset of the HDF5 superblock: 0, or 512, 1024, 2048, … after a user block (the HDF5 spec's
 * search order; MATLAB v7.3 puts its 128-byte text header in a 512-byte user block). −1 when absent.
 */
export function superblockOffset(input: Uint8Array | RandomAccessFile): number {
  const SIG = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
  const size = input instanceof Uint8Array ? input.length : input.size;
  for (let o = 0; o + 8 <= size; o = o === 0 ? 512 : o * 2) {
    const b = input instanceof Uint8Array ? input.subarray(o, o + 8) : readAt(input, o, 8);
    if (SIG.every((x, i) => b[i] === x)) return o;
  }
  return -1;
}

/**
 * Checks every global heap collection (where HDF5 keeps variable-length strings, such as BData's metadata
 * keys) before HDF5 reads one: HDF5 walks a collection's objects by their declared sizes, and a damaged
 * size (0, or past the collection's end; the wasm build also truncates sizes to 32 bits) sends that walk
 * into an endless loop that no caller can interrupt. A collection is the signature `GCOL`, version 1,
 * 3 reserved bytes and its size (the superblock's size of lengths L), then objects of index (2 bytes),
 * reference count (2), reserved (4), size (L) and data padded to 8 bytes; object 0 is the free space,
 * its size counting its own header (HDF5 spec, "Global Heap"; H5HGcache.c). A file read lazily is scanned
 * a window at a time, never held whole.
 * @param base byte offset of the superblock (addresses in the file are relative to it)
 * @throws FmriFormatError naming the collection's byte offset and the object that does not fit
 */
export function checkGlobalHeaps(name: string, input: Uint8Array | RandomAccessFile, base: number): void {
  const total = input instanceof Uint8Array ? input.length : input.size;
  const bytesAt = (position: number, length: number): Uint8Array =>
    input instanceof Uint8Array ? input.subarray(position, position + length) : readAt(input, position, length);
  const sb = bytesAt(base, 16);
  const version = sb[8];
  const L = version === 0 || version === 1 ? sb[14] : sb[10];
  if (L !== 2 && L !== 4 && L !== 8) return; // HDF5 itself refuses the superblock
  const length = (view: DataView, at: number) =>
    L === 8
      ? view.getUint32(at, true) + view.getUint32(at + 4, true) * 2 ** 32
      : L === 4
        ? view.getUint32(at, true)
        : view.getUint16(at, true);
  const header = 8 + L;
  const objectHeader = 8 + L;
  const WINDOW = 1 << 20;
  for (let from = 0; from + header <= total; from += WINDOW) {
    // Signatures starting in [from, from + WINDOW), with room for a header after each.
    const win = bytesAt(from, WINDOW + header - 1);
    const winView = new DataView(win.buffer, win.byteOffset, win.byteLength);
    for (let i = win.indexOf(0x47); i >= 0 && i < WINDOW && i + header <= win.length; i = win.indexOf(0x47, i + 1)) {
      if (win[i + 1] !== 0x43 || win[i + 2] !== 0x4f || win[i + 3] !== 0x4c) continue; // 'GCOL'
      if (win[i + 4] !== 1 || win[i + 5] !== 0 || win[i + 6] !== 0 || win[i + 7] !== 0) continue;
      const at = from + i;
      const size = length(winView, i + 8);
      const bad = (what: string) =>
        new FmriFormatError(
          name,
          `corrupt HDF5 file: the global heap collection at byte ${at} (variable-length strings) is damaged: ${what}`,
        );
      if (size < header || at + size > total) throw bad(`it declares ${size} bytes, the file has ${total - at} from there`);
      const col = bytesAt(at, size);
      const view = new DataView(col.buffer, col.byteOffset, col.byteLength);
      let p = header;
      while (p < size) {
        if (p + objectHeader > size) break; // too small for an object: free space
        const index = view.getUint16(p, true);
        const objectSize = length(view, p + 8);
        const need = index > 0 ? objectHeader + Math.ceil(objectSize / 8) * 8 : objectSize;
        if (need === 0 || p + need > size) {
          throw bad(
            `object ${index} at byte ${at + p} declares ${objectSize} bytes, ${size - p - (index > 0 ? objectHeader : 0)} are left in the collection`,
          );
        }
        p += need;
      }
    }
  }
}

/** An open file and what readers of it need: MATLAB's version, and the global-heap check (run once, lazily). */
interface Opened {
  file: H5File;
  matlab: ReturnType<typeof matlabVersion>;
  checkHeaps: () => void;
}

/**
 * What HDF5 reads: bytes in memory (copied into h5wasm's in-memory file system), or a file read on demand
 * (mounted read-only, so that HDF5 reads only the parts it needs: a 1 GB session is never held whole).
 */
export type H5Input = Uint8Array | RandomAccessFile;

/** Emscripten's file system, as far as the mount below uses it. */
interface EmFS {
  createNode(parent: EmNode | null, name: string, mode: number, dev: number): EmNode;
  mkdir(path: string): void;
  rmdir(path: string): void;
  mount(type: { mount(m: unknown): EmNode }, opts: object, mountpoint: string): unknown;
  unmount(mountpoint: string): void;
  writeFile(path: string, data: Uint8Array): void;
  unlink(path: string): void;
  ErrnoError: new (errno: number) => Error;
}
interface EmNode {
  id: number;
  mode: number;
  size: number;
  node_ops: object;
  stream_ops: object;
  contents: Record<string, EmNode> | RandomAccessFile;
  atime: number;
  mtime: number;
  ctime: number;
}

const EIO = 29;
const EPERM = 63;
const ENOENT = 44;
const FILE_NAME = 'file.h5';

/**
 * A read-only Emscripten file system holding one file, read through `file` when HDF5 reads it (the same node
 * and stream operations as Emscripten's WORKERFS, which reads a worker's Blob the same way). A failing read
 * becomes an I/O error for HDF5, never an exception unwinding through HDF5's stack; the failure is kept in
 * `failure` for the message.
 */
function lazyFs(FS: EmFS, file: RandomAccessFile, failure: { error?: unknown }) {
  const DIR = 0o40555;
  const FILE = 0o100444;
  const now = Date.now();
  const node_ops = {
    getattr: (node: EmNode) => ({
      dev: 1,
      ino: node.id,
      mode: node.mode,
      nlink: 1,
      uid: 0,
      gid: 0,
      rdev: 0,
      size: node.size,
      atime: new Date(node.atime),
      mtime: new Date(node.mtime),
      ctime: new Date(node.ctime),
      blksize: 4096,
      blocks: Math.ceil(node.size / 4096),
    }),
    setattr: () => {
      throw new FS.ErrnoError(EPERM);
    },
    lookup: () => {
      throw new FS.ErrnoError(ENOENT);
    },
    mknod: () => {
      throw new FS.ErrnoError(EPERM);
    },
    rename: () => {
      throw new FS.ErrnoError(EPERM);
    },
    unlink: () => {
      throw new FS.ErrnoError(EPERM);
    },
    rmdir: () => {
      throw new FS.ErrnoError(EPERM);
    },
    readdir: (node: EmNode) => ['.', '..', ...Object.keys(node.contents)],
    symlink: () => {
      throw new FS.ErrnoError(EPERM);
    },
  };
  const stream_ops = {
    read(_stream: unknown, buffer: Int8Array, offset: number, length: number, position: number): number {
      if (position >= file.size) return 0;
      try {
        return file.readInto(position, new Uint8Array(buffer.buffer, buffer.byteOffset + offset, Math.min(length, file.size - position)));
      } catch (e) {
        failure.error ??= e;
        throw new FS.ErrnoError(EIO);
      }
    },
    write() {
      throw new FS.ErrnoError(EPERM);
    },
    llseek(stream: { node: EmNode; position: number }, offset: number, whence: number): number {
      const position = offset + (whence === 1 ? stream.position : whence === 2 ? stream.node.size : 0);
      if (position < 0) throw new FS.ErrnoError(28);
      return position;
    },
  };
  const node = (parent: EmNode | null, name: string, mode: number): EmNode => {
    const n = FS.createNode(parent, name, mode, 0);
    n.mode = mode;
    n.node_ops = node_ops;
    n.stream_ops = stream_ops;
    n.atime = n.mtime = n.ctime = now;
    return n;
  };
  return {
    mount(): EmNode {
      const root = node(null, '/', DIR);
      root.size = 4096;
      root.contents = {};
      const f = node(root, FILE_NAME, FILE);
      f.size = file.size;
      f.contents = file;
      root.contents[FILE_NAME] = f;
      return root;
    },
  };
}

/**
 * Opens the input as HDF5 (bytes: a copy in h5wasm's in-memory file system; a RandomAccessFile: mounted and read
 * on demand), runs `fn`, closes the file and removes the copy or the mount.
 * @throws FmriFormatError for a MATLAB v5 file, a file without an HDF5 superblock, or a file HDF5 cannot open
 */
async function withH5<T>(name: string, input: H5Input, fn: (o: Opened) => Promise<T>): Promise<T> {
  const lazy = !(input instanceof Uint8Array);
  const matlab = matlabVersion(lazy ? readAt(input, 0, 128) : input);
  if (matlab === 'v5') throw new FmriFormatError(name, 'a MATLAB v5/v7 .mat file, not HDF5-based (read by the v5 reader)');
  const base = superblockOffset(input);
  if (base < 0) {
    throw new FmriFormatError(
      name,
      matlab
        ? "a MATLAB .mat file of an old or unknown version: re-save it with save(file, var, '-v7.3') or as .npy"
        : 'not an HDF5 file (the \\x89HDF signature is missing at 0, 512, 1024, 2048, … bytes)',
    );
  }
  if (broken) {
    throw new FmriFormatError(
      name,
      `HDF5 stopped working on the damaged file ${broken} (WebAssembly trapped inside it): reload the page (or run the command again) to read HDF5 files`,
    );
  }
  const lib5 = (h5 ??= await import('h5wasm'));
  const Module = await lib5.ready;
  const FS = Module.FS as unknown as EmFS | undefined;
  if (!FS) throw new FmriFormatError(name, 'h5wasm has no in-memory file system');
  // HDF5 errors become exceptions carrying the diagnostics, instead of a stack printed on stderr and
  // garbage handed back (a dataset read that fails otherwise returns an uninitialised buffer).
  if (!throwing) {
    Module.activate_throwing_error_handler();
    throwing = true;
  }
  let heapsChecked = false;
  const checkHeaps = () => {
    if (!heapsChecked) checkGlobalHeaps(name, input, base);
    heapsChecked = true;
  };
  const failure: { error?: unknown } = {};
  /** A read of the file that failed (the user's file changed or went away): the real cause, not HDF5's. */
  const readFailure = (): FmriFormatError | undefined =>
    failure.error === undefined
      ? undefined
      : new FmriFormatError(name, `the file could not be read: ${(failure.error as Error)?.message ?? String(failure.error)}`);
  const id = counter++;
  let path: string;
  let mounted: string | undefined;
  if (lazy) {
    mounted = `/decoding-studio-${id}`;
    FS.mkdir(mounted);
    FS.mount(lazyFs(FS, input, failure), {}, mounted);
    path = `${mounted}/${FILE_NAME}`;
  } else {
    path = `/decoding-studio-${id}.h5`;
    FS.writeFile(path, input);
  }
  let file: H5File | undefined;
  try {
    try {
      file = new lib5.File(path, 'r');
    } catch (e) {
      file = undefined;
      throw readFailure() ?? new FmriFormatError(name, `corrupt or truncated HDF5 file: ${firstLine(e)}`);
    }
    // h5wasm does not throw when H5Fopen fails: it hands back an invalid (negative) id.
    if (file.file_id < 0n) {
      file = undefined;
      throw readFailure() ?? new FmriFormatError(name, 'corrupt or truncated HDF5 file (the HDF5 library cannot open it)');
    }
    try {
      return await fn({ file, matlab, checkHeaps });
    } catch (e) {
      const io = readFailure();
      if (io) throw io;
      // HDF5 failing inside a walk or a metadata read (a damaged link, object header, …): its first line.
      if (e instanceof FmriFormatError || isAbort(e)) throw e;
      throw new FmriFormatError(name, `corrupt HDF5 file: ${firstLine(e)}`);
    }
  } finally {
    try {
      file?.close();
    } catch (e) {
      firstLine(e);
    }
    try {
      if (mounted) {
        FS.unmount(mounted);
        FS.rmdir(mounted);
      } else FS.unlink(path);
      closeErrorStreams(FS);
    } catch (e) {
      firstLine(e);
    }
    if (trapped) broken = name;
    trapped = false;
  }
}

/**
 * h5wasm's throwing error handler prints HDF5's error stack into a `tmpfile()` and throws before closing it:
 * one file descriptor is lost with every HDF5 error, and after Emscripten's 4,096 HDF5 can open nothing (every
 * later file fails with "not a property list class" / "unable to open file", and HDF5 prints its stack on
 * stderr). Those streams (unlinked /tmp/tmpfile_* files) are closed once a file is done with; nothing reads
 * them after the throw.
 */
function closeErrorStreams(FS: object): void {
  const fs = FS as { streams?: ({ path?: string } | null)[]; close(stream: object): void };
  for (const s of fs.streams ?? []) if (s?.path?.startsWith('/tmp/tmpfile_')) fs.close(s);
}

/** A cancel (DOMException 'AbortError', as every reader throws it): passed on as it is, never named a corrupt file. */
const isAbort = (e: unknown): boolean => (e as Error | undefined)?.name === 'AbortError';

/** How reading a masked 4-D series is followed and cancelled (readH5's `opts`). */
interface VolumeReadOptions {
  /**
   * Masked values read so far (volumes × masked voxels, `total` in all): 0 before the first slab, then about every
   * 1 %, and `total` last; monotonic. Only a 4-D series read through a mask reports it.
   */
  onProgress?: (done: number, total: number) => void;
  /**
   * Checked between slabs: once aborted, the read stops with DOMException 'AbortError' (the file closed, nothing left
   * mounted). Given a signal, the read also yields to the event loop at each report (and every 50 ms), since a
   * cancel arrives as a message (the studio's worker) that a loop never awaiting would not let through.
   */
  signal?: AbortSignal;
}

/**
 * An HDF5 file (or MATLAB v7.3 .mat) → samples × voxels: a bdpy BData file (VoxelData columns, ROI_* masks,
 * DataType splits, Label), else the named or chosen numeric dataset (a preferred name, else the largest 2-D
 * one; MATLAB logical variables are masks, never the data): 2-D [samples, voxels] (MATLAB matrices
 * transposed from column-major), 1-D one sample, 4-D volumes through `opts.mask`.
 * @param opts.dataset path of the dataset to read instead of the automatic choice
 * @param opts.mask a 3-D mask (NIfTI, .npy, .mat): needed for a 4-D volume series such as NSD's
 *   betas_session*.hdf5 (/betas [T, Z, Y, X]) or a MATLAB v7.3 X×Y×Z×T array (stored [T, Z, Y, X])
 * @param opts.onProgress, opts.signal progress and cancel of a 4-D series' read (VolumeReadOptions); other datasets
 *   are read in one HDF5 call, without either
 * @throws FmriFormatError naming the file: not HDF5, corrupt, no numeric dataset, a filter that cannot be
 *   decoded (naming dataset and filter), a 4-D series without a matching mask, a damaged global heap;
 *   DOMException 'AbortError' when `opts.signal` aborts a 4-D series' read
 */
export async function readH5(
  name: string,
  input: H5Input,
  opts: { dataset?: string; mask?: Mask; maskName?: string } & VolumeReadOptions = {},
): Promise<H5Table> {
  return withH5(name, input, async ({ file, matlab, checkHeaps }) => {
    const notes: string[] = [];
    if (!opts.dataset) {
      for (const [dsPath, mdPath] of [
        ['/dataset', '/metadata'],
        ['/dataSet', '/metaData'],
      ]) {
        if (isNumericDataset(file.get(dsPath)) && file.get(mdPath) instanceof lib().Group) {
          return await readBData(name, file, dsPath, mdPath, notes, checkHeaps);
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
        throw new FmriFormatError(
          name,
          `no numeric dataset ${opts.dataset}; numeric datasets: ${numeric.map((d) => d.path).join(', ') || 'none'}`,
        );
      }
      chosen = e;
    } else {
      const twoD = numeric.filter((d) => ((d.shape ?? []).length === 2 || (d.shape ?? []).length === 1) && !isLogical(d, checkHeaps));
      // A 4-D volume series (NSD /betas, MATLAB X×Y×Z×T) when no 2-D table exists.
      const fourD = numeric.filter((d) => (d.shape ?? []).length === 4).sort((a, b) => size(b) - size(a))[0];
      if (fourD && !twoD.some((d) => (d.shape ?? []).length === 2)) {
        notes.push(`4-D dataset ${fourD.path} chosen`);
        return await readVolumes(name, fourD, opts, notes);
      }
      const base = (d: Dataset) => d.path.split('/').pop()!.toLowerCase();
      chosen =
        PREFERRED.map((p) => twoD.find((d) => base(d) === p && (d.shape ?? []).length === 2)).find((d) => d) ??
        twoD.filter((d) => (d.shape ?? []).length === 2).sort((a, b) => size(b) - size(a))[0] ??
        twoD.sort((a, b) => size(b) - size(a))[0];
      if (!chosen)
        throw new FmriFormatError(
          name,
          `no 1-D or 2-D numeric dataset (found: ${datasets.map((d) => `${d.path} ${(d.shape ?? []).join('×')}`).join(', ') || 'nothing'})`,
        );
      const others = twoD.filter((d) => d !== chosen && (d.shape ?? []).length === 2).map((d) => d.path);
      notes.push(`dataset ${chosen.path} chosen${others.length ? ` (other 2-D datasets: ${others.join(', ')})` : ''}`);
    }
    const shape = chosen.shape ?? [];
    if (shape.length === 4) return await readVolumes(name, chosen, opts, notes);
    if (shape.length !== 1 && shape.length !== 2) {
      throw new FmriFormatError(name, `dataset ${chosen.path} has shape ${shape.join('×')}, expected [samples, voxels] or [voxels]`);
    }
    // MATLAB (v7.3 header, or the MATLAB_class attribute it puts on every variable) writes a
    // samples × voxels matrix column-major, so HDF5 sees [voxels, samples].
    const isMatlab = matlab === 'v7.3' || hasAttr(chosen, 'MATLAB_class');
    const transpose = isMatlab && shape.length === 2;
    const [rows, cols] = shape.length === 2 ? (transpose ? [shape[1], shape[0]] : shape) : [1, shape[0]];
    await ensureFilters(name, chosen);
    let data = numericValues(name, chosen);
    if (transpose) {
      data = transposed(data, shape[0], shape[1]);
      notes.push(
        `MATLAB matrix ${chosen.path} (${shape[1]}×${shape[0]} in MATLAB, stored ${shape.join('×')}) read as ${rows} samples × ${cols} voxels`,
      );
    }
    // Vectors as long as a row are ROI masks when they hold only 0/1 (h5py writes bool as an enum; MATLAB
    // writes a logical 1×N or N×1 vector as a 2-D uint8 dataset [N, 1] or [1, N]).
    const masks: Record<string, Uint8Array> = {};
    for (const d of numeric) {
      const s = d.shape ?? [];
      const vector = s.length === 1 || (isMatlab && s.length === 2 && Math.min(s[0], s[1]) === 1);
      if (d === chosen || !vector || s[0] * (s[1] ?? 1) !== cols) continue;
      await ensureFilters(name, d);
      const v = numericValues(name, d);
      if (v.every((x) => x === 0 || x === 1)) masks[d.path.split('/').pop()!] = Uint8Array.from(v);
    }
    const table: H5Table = { dataset: chosen.path, rows, cols, data, notes };
    const integer = integerType(chosen);
    if (integer) table.integer = integer;
    if (Object.keys(masks).length) table.masks = masks;
    return table;
  });
}

/** The one mask array of an HDF5 / MATLAB v7.3 mask file, as stored. */
export interface H5MaskArray {
  dataset: string;
  /** MATLAB's class ('logical', 'double', …), 'bool' (h5py), or the HDF5 type ('uint8', 'float'). */
  kind: string;
  logical: boolean;
  /** A MATLAB variable: `dims` are MATLAB's (the HDF5 shape reversed) and `data` is column-major over them. */
  matlab: boolean;
  /** MATLAB's dimensions, or the HDF5 shape (C order) for other files. */
  dims: number[];
  data: Float32Array;
}

/**
 * The mask array of an HDF5 or MATLAB v7.3 file: its one logical dataset (MATLAB logical, h5py bool), else
 * its one numeric dataset.
 * @throws FmriFormatError naming the file: not HDF5 or corrupt, no numeric dataset, several logical (or,
 *   without a logical one, several numeric) datasets to choose from (all named), a filter that cannot be decoded
 */
export async function readH5Mask(name: string, bytes: Uint8Array): Promise<H5MaskArray> {
  return withH5(name, bytes, async ({ file, matlab, checkHeaps }) => {
    const datasets: Dataset[] = [];
    walk(file, datasets);
    const numeric = datasets.filter(isNumericDataset);
    const logical = numeric.filter((d) => isLogical(d, checkHeaps));
    const label = (d: Dataset) => `${d.path} ${(d.shape ?? []).join('×')}`;
    const d = maskVariable(
      name,
      numeric,
      logical,
      label,
      `no numeric dataset to use as a mask (found: ${datasets.map(label).join(', ') || 'nothing'})`,
    );
    await ensureFilters(name, d);
    const data = numericValues(name, d);
    const cls = matlabClass(d, checkHeaps);
    const isMatlab = matlab === 'v7.3' || cls !== undefined;
    const shape = d.shape ?? [];
    const kind = cls ?? (d.metadata.type === 8 ? 'bool' : (integerType(d) ?? `float${d.metadata.size * 8}`));
    return { dataset: d.path, kind, logical: logical.includes(d), matlab: isMatlab, dims: isMatlab ? [...shape].reverse() : shape, data };
  });
}

/**
 * A 4-D dataset read slab by slab through a spatial mask, keeping only the masked voxels: [T, Z, Y, X]
 * (x fastest, NIfTI's file order: NSD's .hdf5, MATLAB's X×Y×Z×T) or [X, Y, Z, T] (a nibabel array saved
 * by h5py). Output columns are the masked voxels in C order over (x, y, z), like nibabel's data[mask].
 * Progress and cancel between slabs (VolumeReadOptions).
 */
async function readVolumes(
  name: string,
  ds: Dataset,
  opts: { mask?: Mask; maskName?: string } & VolumeReadOptions,
  notes: string[],
): Promise<H5Table> {
  const shape = ds.shape ?? [];
  if (!opts.mask) {
    throw new FmriFormatError(
      name,
      `dataset ${ds.path} is a 4-D volume series ${shape.join('×')}: give a mask (NIfTI of the same grid, e.g. nsdgeneral.nii.gz) to pick the voxels`,
    );
  }
  const maskName = opts.maskName ?? 'mask';
  const mask = opts.mask;
  if (!mask.dims) throw new FmriFormatError(maskName, 'a 4-D HDF5 volume series needs a 3-D mask (NIfTI or 3-D .npy) to match its grid');
  const [X, Y, Z] = mask.dims;
  const tzyx = shape[1] === Z && shape[2] === Y && shape[3] === X;
  const xyzt = shape[0] === X && shape[1] === Y && shape[2] === Z;
  if (!tzyx && !xyzt) {
    throw new FmriFormatError(
      name,
      `dataset ${ds.path} ${shape.join('×')} does not match the ${X}×${Y}×${Z} grid of ${maskName} (expected [T, ${Z}, ${Y}, ${X}] or [${X}, ${Y}, ${Z}, T])`,
    );
  }
  const T = tzyx ? shape[0] : shape[3];
  const cols = mask.count;
  if (T * cols * 4 > 2 ** 31 - 1) throw new FmriFormatError(name, `${T} volumes × ${cols} masked voxels do not fit in memory`);
  await ensureFilters(name, ds);
  const data = new Float32Array(T * cols);
  const slabDone = volumeProgress(name, T * cols, opts);
  await slabDone(0);
  // Column j of the output: the j-th masked voxel in C order over (x, y, z).
  let j = 0;
  const read = (ranges: [number, number][]): Numeric => {
    try {
      return ds.slice(ranges) as unknown as Numeric;
    } catch (e) {
      throw new FmriFormatError(name, `dataset ${ds.path} could not be decoded (${filterNames(ds)}): ${firstLine(e)}`);
    }
  };
  if (tzyx) {
    // The C-order column of (x, y, z) is (x·Y + y)·Z + z.
    const colOf = new Int32Array(X * Y * Z).fill(-1);
    for (let i = 0; i < mask.flags.length; i++) if (mask.flags[i]) colOf[i] = j++;
    for (const b of volumeBlocks(ds.metadata.chunks, T, colOf, [Z, Y, X])) {
      const [z0, z1, y0, y1, x0, x1] = b.box;
      const ny = y1 - y0;
      const nx = x1 - x0;
      const plane = (z1 - z0) * ny * nx;
      for (let t0 = 0; t0 < T; t0 += b.t) {
        const t1 = Math.min(T, t0 + b.t);
        const slab = read([
          [t0, t1],
          [z0, z1],
          [y0, y1],
          [x0, x1],
        ]);
        for (let k = 0; k < b.voxels.length; k += 4) {
          const [z, y, x, c] = [b.voxels[k], b.voxels[k + 1], b.voxels[k + 2], b.voxels[k + 3]];
          const at = ((z - z0) * ny + (y - y0)) * nx + (x - x0);
          for (let t = t0; t < t1; t++) data[t * cols + c] = Number(slab[(t - t0) * plane + at]);
        }
        await slabDone((b.voxels.length / 4) * (t1 - t0));
      }
    }
  } else {
    // One x-slab [1, Y, Z, T] at a time.
    for (let x = 0; x < X; x++) {
      const start = x * Y * Z;
      let any = false;
      for (let k = 0; k < Y * Z; k++)
        if (mask.flags[start + k]) {
          any = true;
          break;
        }
      if (!any) continue;
      const slab = read([
        [x, x + 1],
        [0, Y],
        [0, Z],
        [0, T],
      ]);
      const first = j;
      for (let k = 0; k < Y * Z; k++) {
        if (!mask.flags[start + k]) continue;
        for (let t = 0; t < T; t++) data[t * cols + j] = Number(slab[k * T + t]);
        j++;
      }
      await slabDone((j - first) * T);
    }
  }
  notes.push(`${tzyx ? '[T, Z, Y, X]' : '[X, Y, Z, T]'} volumes read through mask ${maskName} (${mask.note}): ${T} volumes → ${T} samples`);
  // Columns are the mask's voxels in C order (both branches above), which is gridCoords' row order.
  // HDF5 has no affine: positions in mm are the NIfTI mask's (none for an .npy / .mat mask).
  const table: H5Table = {
    dataset: ds.path,
    rows: T,
    cols,
    data,
    notes,
    spatial: true,
    coords: gridCoords(mask.dims, mask.flags, mask.affine),
  };
  const integer = integerType(ds);
  if (integer) table.integer = integer;
  return table;
}

/**
 * The step taken after each slab of a masked 4-D series: adds the slab's masked values to the count, reports it
 * (0 first, then about every 1 %, `total` last), yields to the event loop when a signal could abort the read (at a
 * report, or after 50 ms without one), and throws once it has.
 * @throws DOMException 'AbortError' when `opts.signal` is aborted
 */
function volumeProgress(name: string, total: number, opts: VolumeReadOptions): (values: number) => Promise<void> {
  const step = Math.max(1, Math.floor(total / 100));
  let done = 0;
  let reported = -1;
  let yielded = Date.now();
  return async (values) => {
    done += values;
    const report = reported < 0 || done - reported >= step || (done === total && reported !== total);
    if (report) {
      reported = done;
      opts.onProgress?.(done, total);
    }
    if (opts.signal && (report || Date.now() - yielded >= 50)) {
      // A macrotask, not a microtask: the worker's 'cancelRead' message is one too.
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
      yielded = Date.now();
    }
    if (opts.signal?.aborted) throw new DOMException(`reading ${name} was cancelled`, 'AbortError');
  };
}

/** Most hyperslab reads one masked 4-D series may take; blocks grow (along y, then t, then z) to stay under it. */
const MAX_VOLUME_READS = 4096;

/**
 * How a [T, Z, Y, X] series is read through a mask: spatial blocks of whole chunks (z and y by the chunk's extent,
 * x over the masked range; a contiguous dataset: one z-slab), each read as the bounding box of its masked voxels,
 * `t` volumes at a time (the chunk's extent in T). Blocks aligned to chunks read every chunk once, and only chunks
 * holding masked voxels, or near them: NSD's .hdf5 (one chunk per voxel's 750 values) is read row by row, ~2 %
 * of the file for the 15,000 voxels of nsdgeneral, instead of every chunk of every z-slab that has one.
 * @returns blocks with their box [z0, z1, y0, y1, x0, x1) and voxels as (z, y, x, column) quadruples
 */
function volumeBlocks(
  chunks: number[] | null,
  T: number,
  colOf: Int32Array,
  [Z, Y, X]: [number, number, number],
): { box: number[]; voxels: Int32Array; t: number }[] {
  let [bt, bz, by] = chunks && chunks.length === 4 ? [chunks[0], chunks[1], chunks[2]] : [T, 1, Y];
  const blocksOf = () => {
    const out = new Map<number, number[]>();
    for (let x = 0; x < X; x++)
      for (let y = 0; y < Y; y++)
        for (let z = 0; z < Z; z++) {
          const c = colOf[(x * Y + y) * Z + z];
          if (c < 0) continue;
          const key = Math.floor(z / bz) * Y + Math.floor(y / by);
          let v = out.get(key);
          if (!v) out.set(key, (v = []));
          v.push(z, y, x, c);
        }
    return out;
  };
  let blocks = blocksOf();
  while (blocks.size * Math.ceil(T / bt) > MAX_VOLUME_READS && (by < Y || bt < T || bz < Z)) {
    if (by < Y) by = Math.min(Y, by * 2);
    else if (bt < T) bt = Math.min(T, bt * 2);
    else bz = Math.min(Z, bz * 2);
    blocks = blocksOf();
  }
  return [...blocks.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([, v]) => {
      const box = [Z, 0, Y, 0, X, 0];
      for (let k = 0; k < v.length; k += 4)
        for (let d = 0; d < 3; d++) {
          box[2 * d] = Math.min(box[2 * d], v[k + d]);
          box[2 * d + 1] = Math.max(box[2 * d + 1], v[k + d] + 1);
        }
      return { box, voxels: Int32Array.from(v), t: bt };
    });
}

/** MATLAB's class of a v7.3 variable (its MATLAB_class attribute: 'double', 'logical', …), if it has one. */
function matlabClass(d: Dataset, checkHeaps: () => void): string | undefined {
  if (!hasAttr(d, 'MATLAB_class')) return undefined;
  try {
    const a = (d.attrs as Record<string, { metadata: { vlen: boolean }; value: unknown }>).MATLAB_class;
    if (a.metadata.vlen) checkHeaps();
    const v = a.value;
    return typeof v === 'string' ? v : undefined;
  } catch (e) {
    if (e instanceof FmriFormatError) throw e;
    firstLine(e);
    return undefined;
  }
}

/** A logical array: MATLAB's (uint8 with MATLAB_class 'logical') or h5py's bool (an enum of FALSE/TRUE). */
function isLogical(d: Dataset, checkHeaps: () => void): boolean {
  const e = d.metadata.enum_type as { members?: Record<string, number> } | undefined;
  if (d.metadata.type === 8 && e?.members && Object.keys(e.members).sort().join() === 'FALSE,TRUE') return true;
  return matlabClass(d, checkHeaps) === 'logical';
}

function hasAttr(d: Dataset, attr: string): boolean {
  try {
    return Object.prototype.hasOwnProperty.call(d.attrs, attr);
  } catch (e) {
    firstLine(e);
    return false;
  }
}

/** [r, c] row-major → [c, r] row-major. */
function transposed(src: Float32Array, r: number, c: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = src[i * c + j];
  return out;
}

function size(d: Dataset): number {
  return (d.shape ?? []).reduce((a, b) => a * b, 1);
}
