// HDF5 and MATLAB v7.3 files read lazily (a RandomAccessFile mounted read-only in h5wasm's file system) instead of
// from a whole in-memory copy: the same values as numpy/h5py (test/fixtures/make_h5_layouts.py) in every storage
// layout of a masked 4-D series, only the parts HDF5 needs read, the same values and messages as the in-memory path
// for every HDF5 fixture, and nothing left open or mounted; the masked series' read reports its progress (phase
// 'volumes') and stops between slabs when cancelled.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ioFixturesDir } from '../../test/fixtures/io/fixtures';
import { parseArgs } from '../cli/args';
import { FMRI_INPUT_SPEC, readFmriInputs } from '../cli/fmriInputs';
import { FmriFormatError } from './errors';
import { readFmriFile, type FmriFile, type PhaseProgress, type ReadFmriOptions } from './fmriFile';
import { hdf5Usable } from './h5';
import { openNodeFile } from './nodeFile';
import { npyToFloat32, readNpy } from './npy';
import type { RandomAccessFile } from './randomAccess';
import { readFmriStream } from './stream';
import { readStudioInput, type ReadProgress } from './studioInput';

const here = dirname(fileURLToPath(import.meta.url));
const GEN = resolve(here, '..', '..', 'test', 'fixtures', 'make_h5_layouts.py');
const REAL = resolve(here, '..', '..', '..', 'shared', 'fixtures', 'real-world');
let dir = '';
const P = (...n: string[]) => join(dir, ...n);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'h5lazy-'));
  execFileSync('nice', ['/usr/bin/python3', GEN, dir], { stdio: 'pipe' });
}, 120_000);
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function matrix(f: FmriFile): Float32Array {
  const out = new Float32Array(f.samples * f.voxels);
  for (let i = 0; i < f.samples; i++) out.set(f.getSample(i), i * f.voxels);
  return out;
}

/** Bytes in memory as a RandomAccessFile, counting what is asked of it. */
function memoryFile(bytes: Uint8Array, fail?: () => Error): RandomAccessFile & { asked: number } {
  return {
    size: bytes.length,
    asked: 0,
    readInto(position, into) {
      if (fail) throw fail();
      this.asked += into.length;
      const part = bytes.subarray(position, position + into.length);
      into.set(part);
      return part.length;
    },
  };
}

/** Reads `path` lazily (by path, as the CLI does), closing the descriptor. */
async function lazily(path: string, opts: ReadFmriOptions = {}): Promise<FmriFile> {
  const file = openNodeFile(path);
  try {
    return await readFmriFile(path.slice(path.lastIndexOf('/') + 1), file, opts);
  } finally {
    file.close();
  }
}

async function refusal(p: Promise<unknown>): Promise<Error> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(FmriFormatError);
  return e as Error;
}

/** h5wasm's open streams and the top-level entries of its file system. */
async function h5State(): Promise<{ streams: number; entries: string[] }> {
  const FS = (await (await import('h5wasm')).ready).FS as unknown as { streams: unknown[]; readdir(p: string): string[] };
  return { streams: FS.streams.filter(Boolean).length, entries: FS.readdir('/').filter((e) => e.startsWith('decoding-studio')) };
}

const LAYOUTS = ['contiguous', 'chunk_voxel', 'chunk_volume', 'chunk_row', 'chunk_odd_gzip'];

describe('a 4-D [T, Z, Y, X] series read lazily through a mask equals numpy (betas[mask == 1].T)', () => {
  const ref = () => {
    const a = readNpy(new Uint8Array(readFileSync(P('ref_masked.npy'))));
    return { shape: a.shape, data: npyToFloat32(a) };
  };
  const mask = () => ({ mask: new Uint8Array(readFileSync(P('nsdgeneral.nii.gz'))), maskName: 'nsdgeneral.nii.gz' });

  it.each([...LAYOUTS.map((l) => `${l}.h5`), 'matlab_betas.mat'])('%s', async (name) => {
    const want = ref();
    const f = await lazily(P(name), mask());
    expect([f.samples, f.voxels]).toEqual(want.shape);
    expect(Array.from(matrix(f))).toEqual(Array.from(want.data));
    expect(f.note).toMatch(/\[T, Z, Y, X\] volumes read through mask nsdgeneral.nii.gz/);
    expect(f.coords?.dims).toEqual([24, 22, 20]);
    // The in-memory path reads the same.
    const inMemory = await readFmriFile(name, new Uint8Array(readFileSync(P(name))), mask());
    expect(Array.from(matrix(inMemory))).toEqual(Array.from(want.data));
  });

  it("NSD's one chunk per voxel: HDF5 asks for the masked rows' chunks, not the whole file", async () => {
    const bytes = new Uint8Array(readFileSync(P('chunk_voxel.h5')));
    const file = memoryFile(bytes);
    const f = await readFmriFile('chunk_voxel.h5', file, mask());
    expect(Array.from(matrix(f))).toEqual(Array.from(ref().data));
    // 17 % of the grid is inside the mask; its rows' x-ranges hold about half of the grid's voxels.
    expect(file.asked).toBeLessThan(0.6 * bytes.length);
    expect(file.asked).toBeGreaterThan(0.17 * bytes.length);
  });

  it('a 2-D table beside a 2 MB dataset it does not need: only the table and the metadata are read', async () => {
    const bytes = new Uint8Array(readFileSync(P('table_and_images.h5')));
    const file = memoryFile(bytes);
    const f = await readFmriFile('table_and_images.h5', file);
    const want = npyToFloat32(readNpy(new Uint8Array(readFileSync(P('ref_table.npy')))));
    expect([f.samples, f.voxels]).toEqual([20, 300]);
    expect(Array.from(matrix(f))).toEqual(Array.from(want));
    expect(file.asked).toBeLessThan(0.05 * bytes.length);
  });

  it('the CLI reads an HDF5 file given by path lazily, with the receipt digest of the whole file', async () => {
    const args = parseArgs(['--fmri', P('chunk_voxel.h5'), '--mask', P('nsdgeneral.nii.gz')], FMRI_INPUT_SPEC);
    const quiet = () => undefined;
    const cli = await readFmriInputs(args, quiet, { write: quiet });
    expect(Array.from(matrix(cli.file))).toEqual(Array.from(ref().data));
    const { createHash } = await import('node:crypto');
    expect(cli.sha256).toBe(
      createHash('sha256')
        .update(readFileSync(P('chunk_voxel.h5')))
        .digest('hex'),
    );
  });

  it('a stream given the file too: read through for progress, then HDF5 reads the file lazily', async () => {
    const bytes = new Uint8Array(readFileSync(P('chunk_odd_gzip.h5')));
    const file = memoryFile(bytes);
    const seen: number[] = [];
    async function* chunks() {
      for (let o = 0; o < bytes.length; o += 65536) yield bytes.slice(o, o + 65536);
    }
    const f = await readFmriStream('chunk_odd_gzip.h5', bytes.length, chunks, {
      ...mask(),
      file,
      onProgress: (p) => {
        if (p.phase === 'bytes') seen.push(p.done);
      },
    });
    expect(Array.from(matrix(f))).toEqual(Array.from(ref().data));
    expect(seen.at(-1)).toBe(bytes.length);
    expect(file.asked).toBeGreaterThan(0);
  });
});

/** A File-like Blob over bytes (slices too) and a FileReaderSync reading it, counting the bytes asked. */
function fakeWorker(bytes: Uint8Array) {
  const read = { bytes: 0 };
  class FakeBlob {
    constructor(readonly data: Uint8Array) {}
    get size() {
      return this.data.length;
    }
    slice(a: number, b: number) {
      return new FakeBlob(this.data.subarray(a, b));
    }
    stream() {
      return new Blob([this.data as Uint8Array<ArrayBuffer>]).stream();
    }
  }
  class FakeFileReaderSync {
    readAsArrayBuffer(b: FakeBlob): ArrayBuffer {
      read.bytes += b.size;
      return b.data.slice().buffer;
    }
  }
  return { file: new FakeBlob(bytes) as unknown as Blob, Reader: FakeFileReaderSync, read };
}

describe("the studio's worker reads a File lazily where it has FileReaderSync", () => {
  it('values equal numpy, the digest is of the whole file, and HDF5 reads from the File (not a copy)', async () => {
    const bytes = new Uint8Array(readFileSync(P('chunk_voxel.h5')));
    const maskBytes = new Uint8Array(readFileSync(P('nsdgeneral.nii.gz')));
    const w = fakeWorker(bytes);
    const g = globalThis as { FileReaderSync?: unknown };
    g.FileReaderSync = w.Reader;
    let r;
    const progress: number[] = [];
    try {
      r = await readStudioInput(
        { name: 'chunk_voxel.h5', file: w.file, mask: { name: 'nsdgeneral.nii.gz', file: new Blob([maskBytes]) } },
        {
          onProgress: (p) => {
            if (p.phase === 'bytes') progress.push(p.done);
          },
        },
      );
    } finally {
      delete g.FileReaderSync;
    }
    const want = npyToFloat32(readNpy(new Uint8Array(readFileSync(P('ref_masked.npy')))));
    expect(Array.from(matrix(r.file))).toEqual(Array.from(want));
    const { createHash } = await import('node:crypto');
    expect(r.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(progress.at(-1)).toBe(bytes.length);
    expect(w.read.bytes).toBeGreaterThan(0); // HDF5 read through FileReaderSync
    // Without FileReaderSync (a page's main thread, Node) the File is read whole, with the same values.
    const whole = await readStudioInput({
      name: 'chunk_voxel.h5',
      file: new Blob([bytes]),
      mask: { name: 'nsdgeneral.nii.gz', file: new Blob([maskBytes]) },
    });
    expect(Array.from(matrix(whole.file))).toEqual(Array.from(want));
  });
});

describe("a masked 4-D series' read reports its progress (phase 'volumes') and is cancelled between slabs", () => {
  const ref = () => npyToFloat32(readNpy(new Uint8Array(readFileSync(P('ref_masked.npy')))));
  const mask = () => ({ mask: new Uint8Array(readFileSync(P('nsdgeneral.nii.gz'))), maskName: 'nsdgeneral.nii.gz' });
  const isAbort = (e: unknown) => e instanceof DOMException && e.name === 'AbortError' && /reading \S+ was cancelled/.test(e.message);

  /** The 'volumes' reports: from 0, strictly increasing, to T × masked voxels, with the same total throughout. */
  function expectVolumePhase(seen: PhaseProgress[], total: number): void {
    const volumes = seen.filter((p) => p.phase === 'volumes');
    expect(volumes.length).toBeGreaterThan(2);
    expect(volumes[0].done).toBe(0);
    expect(volumes.at(-1)?.done).toBe(total);
    expect(volumes.every((p) => p.total === total)).toBe(true);
    expect(volumes.every((p, i) => i === 0 || p.done > volumes[i - 1].done)).toBe(true);
    // About every 1 %: never more than ~100 reports, whatever the number of slabs.
    expect(volumes.length).toBeLessThanOrEqual(102);
  }

  it.each([...LAYOUTS.map((l) => `${l}.h5`), 'matlab_betas.mat', 'xyzt.h5'])(
    '%s: reaches T × voxels, monotonic; the values still equal numpy',
    async (name) => {
      const want = ref();
      for (const signal of [undefined, new AbortController().signal]) {
        const seen: PhaseProgress[] = [];
        const f = await lazily(P(name), { ...mask(), ...(signal ? { signal } : {}), onProgress: (p) => seen.push(p) });
        expect(Array.from(matrix(f))).toEqual(Array.from(want));
        expectVolumePhase(seen, f.samples * f.voxels);
        expect(seen.every((p) => p.phase === 'volumes')).toBe(true); // readFmriFile reads no stream
      }
    },
  );

  it('read from a stream: the bytes phase to the file size first, then the volumes phase', async () => {
    const bytes = new Uint8Array(readFileSync(P('chunk_voxel.h5')));
    async function* chunks() {
      for (let o = 0; o < bytes.length; o += 65536) yield bytes.slice(o, o + 65536);
    }
    const seen: PhaseProgress[] = [];
    const f = await readFmriStream('chunk_voxel.h5', bytes.length, chunks, {
      ...mask(),
      file: memoryFile(bytes),
      onProgress: (p) => seen.push(p),
    });
    const firstVolumes = seen.findIndex((p) => p.phase === 'volumes');
    expect(seen.slice(0, firstVolumes).every((p) => p.phase === 'bytes')).toBe(true);
    expect(seen[firstVolumes - 1]).toEqual({ phase: 'bytes', done: bytes.length, total: bytes.length });
    expect(seen.slice(firstVolumes).every((p) => p.phase === 'volumes')).toBe(true);
    expectVolumePhase(seen, f.samples * f.voxels);
    // The in-memory copy (no file to read on demand) reports the same volumes phase.
    const copied: PhaseProgress[] = [];
    await readFmriStream('chunk_voxel.h5', bytes.length, chunks, { ...mask(), onProgress: (p) => copied.push(p) });
    expect(copied.filter((p) => p.phase === 'volumes')).toEqual(seen.filter((p) => p.phase === 'volumes'));
  });

  it.each(['chunk_voxel.h5', 'chunk_odd_gzip.h5', 'xyzt.h5'])(
    '%s: an abort mid-read rejects with AbortError, leaves nothing open or mounted, and the next read works',
    async (name) => {
      const before = await h5State();
      const ac = new AbortController();
      const seen: PhaseProgress[] = [];
      const e = await lazily(P(name), {
        ...mask(),
        signal: ac.signal,
        onProgress: (p) => {
          seen.push(p);
          if (p.done > p.total / 3) ac.abort();
        },
      }).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(isAbort(e)).toBe(true);
      const last = seen.at(-1)!;
      expect(last.done).toBeGreaterThan(last.total / 3);
      expect(last.done).toBeLessThan(last.total); // stopped at the next slab, not read to the end
      expect(await h5State()).toEqual(before);
      expect(before.entries).toEqual([]);
      expect(hdf5Usable()).toBe(true);
      expect(Array.from(matrix(await lazily(P(name), mask())))).toEqual(Array.from(ref()));
    },
  );

  it("an abort from another task (the worker's cancel message) gets through: the read yields between slabs", async () => {
    const ac = new AbortController();
    const seen: PhaseProgress[] = [];
    const read = lazily(P('chunk_row.h5'), {
      ...mask(),
      signal: ac.signal,
      onProgress: (p) => {
        seen.push(p);
        // A macrotask, as a message is: it runs only if the read gives the event loop a turn.
        if (seen.length === 1) setTimeout(() => ac.abort(), 0);
      },
    });
    await expect(read).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen.at(-1)!.done).toBeLessThan(seen.at(-1)!.total);
    expect((await h5State()).entries).toEqual([]);
  });

  it('an aborted signal stops the read before the first slab; from the bytes in memory too', async () => {
    const ac = new AbortController();
    ac.abort();
    const seen: PhaseProgress[] = [];
    const bytes = new Uint8Array(readFileSync(P('chunk_volume.h5')));
    await expect(
      readFmriFile('chunk_volume.h5', bytes, { ...mask(), signal: ac.signal, onProgress: (p) => seen.push(p) }),
    ).rejects.toSatisfy(isAbort);
    expect(seen.map((p) => p.done)).toEqual([0]);
    expect((await h5State()).entries).toEqual([]);
  });

  it('the studio: the volumes phase follows the bytes; a cancel during it rejects with AbortError (no second read)', async () => {
    const bytes = new Uint8Array(readFileSync(P('chunk_voxel.h5')));
    const maskBlob = { name: 'nsdgeneral.nii.gz', file: new Blob([mask().mask]) };
    const g = globalThis as { FileReaderSync?: unknown };
    try {
      let w = fakeWorker(bytes);
      g.FileReaderSync = w.Reader;
      const seen: ReadProgress[] = [];
      const r = await readStudioInput({ name: 'chunk_voxel.h5', file: w.file, mask: maskBlob }, { onProgress: (p) => seen.push(p) });
      expect(Array.from(matrix(r.file))).toEqual(Array.from(ref()));
      expect(seen.every((p) => p.name === 'chunk_voxel.h5')).toBe(true);
      expect(seen.filter((p) => p.phase === 'bytes').at(-1)?.done).toBe(bytes.length);
      expect(seen.findLastIndex((p) => p.phase === 'bytes')).toBeLessThan(seen.findIndex((p) => p.phase === 'volumes'));
      expectVolumePhase(seen, r.file.samples * r.file.voxels);

      w = fakeWorker(bytes);
      g.FileReaderSync = w.Reader;
      const ac = new AbortController();
      const phases: string[] = [];
      const cancelled = readStudioInput(
        { name: 'chunk_voxel.h5', file: w.file, mask: maskBlob },
        {
          signal: ac.signal,
          onProgress: (p) => {
            phases.push(p.phase);
            if (p.phase === 'volumes' && p.done > 0) ac.abort();
          },
        },
      );
      await expect(cancelled).rejects.toSatisfy(isAbort);
      expect(phases.filter((p) => p === 'bytes').length).toBeGreaterThan(0);
      expect(phases.lastIndexOf('bytes')).toBeLessThan(phases.indexOf('volumes')); // read through once, not again
      expect((await h5State()).entries).toEqual([]);
    } finally {
      delete g.FileReaderSync;
    }
  });
});

describe('every HDF5 / MATLAB v7.3 fixture reads the same lazily as from its bytes', () => {
  const files = () => {
    const io = ioFixturesDir();
    const names = readdirSync(io)
      .filter((n) => /\.(h5|hdf5|mat)$/.test(n))
      .map((n) => join(io, n));
    if (existsSync(REAL))
      names.push(
        ...readdirSync(REAL)
          .filter((n) => /\.(h5|hdf5|mat)$/.test(n))
          .map((n) => join(REAL, n)),
      );
    return names;
  };

  it('values, notes and refusals', async () => {
    const paths = files();
    expect(paths.length).toBeGreaterThan(3);
    for (const path of paths) {
      const name = path.slice(path.lastIndexOf('/') + 1);
      const bytes = new Uint8Array(readFileSync(path));
      const a = await readFmriFile(name, bytes).then(
        (f) => ({ values: Array.from(matrix(f)), note: f.note, shape: [f.samples, f.voxels] }),
        (e: Error) => ({ error: e.message }),
      );
      const b = await lazily(path).then(
        (f) => ({ values: Array.from(matrix(f)), note: f.note, shape: [f.samples, f.voxels] }),
        (e: Error) => ({ error: e.message }),
      );
      expect({ name, ...b }).toEqual({ name, ...a });
    }
  });
});

describe('the lazy path keeps the readers guarantees', () => {
  it('a damaged global heap is refused with the same message, found by scanning the file a window at a time', async () => {
    const good = new Uint8Array(readFileSync(join(ioFixturesDir(), 'bdata.h5')));
    const at = Buffer.from(good).indexOf('GCOL');
    const b = good.slice();
    b.fill(0, at + 16, at + 32);
    const inMemory = await refusal(readFmriFile('bdata.h5', b));
    const lazy = await refusal(readFmriFile('bdata.h5', memoryFile(b)));
    expect(lazy.message).toBe(inMemory.message);
    expect(lazy.message).toMatch(new RegExp(`global heap collection at byte ${at} .*object 0 at byte ${at + 16} declares 0 bytes`));
  });

  it('errors leave no file open and nothing mounted; HDF5 reads the next file', async () => {
    const good = new Uint8Array(readFileSync(join(ioFixturesDir(), 'plain.h5')));
    const bad = good.slice();
    bad.fill(0xff, 800, 900);
    await refusal(readFmriFile('plain.h5', memoryFile(bad)));
    const before = await h5State();
    for (let i = 0; i < 20; i++) expect((await refusal(readFmriFile('plain.h5', memoryFile(bad)))).message).toMatch(/corrupt HDF5 file/);
    expect(await h5State()).toEqual(before);
    expect(before.entries).toEqual([]);
    const f = await readFmriFile('plain.h5', memoryFile(good));
    expect(f.note).toMatch(/\/subject\/fmri chosen/);
    expect(await h5State()).toEqual(before);
  });

  it('not HDF5, MATLAB v5 and empty files are told apart as from bytes', async () => {
    const npy = new Uint8Array(readFileSync(join(ioFixturesDir(), 'dtype_le_f4.npy')));
    expect((await refusal(readFmriFile('x.h5', memoryFile(npy)))).message).toMatch(/not an HDF5 file/);
    const v5 = join(ioFixturesDir(), 'matlab_v5.mat');
    const f = await lazily(v5);
    expect(f.note).toMatch(/MATLAB v5 double matrix 'fmri' chosen/);
    expect((await refusal(readFmriFile('e.h5', memoryFile(new Uint8Array(0))))).message).toMatch(/empty file/);
  });

  it('a file that cannot be read (changed or gone) is named as such, and HDF5 goes on working', async () => {
    const good = new Uint8Array(readFileSync(join(ioFixturesDir(), 'plain.h5')));
    const head = good.subarray(0, 512);
    let calls = 0;
    const flaky: RandomAccessFile = {
      size: good.length,
      readInto(position, into) {
        // The header checks pass; HDF5's own reads fail, as when the user's file changed after it was chosen.
        if (++calls > 3 && position >= 0) throw new Error('NotReadableError: the file changed');
        const part = (position < 512 ? head : good).subarray(position, position + into.length);
        into.set(part);
        return part.length;
      },
    };
    expect((await refusal(readFmriFile('plain.h5', flaky))).message).toMatch(/plain.h5: the file could not be read: NotReadableError/);
    expect((await readFmriFile('plain.h5', memoryFile(good))).voxels).toBe(8);
    expect((await h5State()).entries).toEqual([]);
  });

  it('the descriptor of a file read by path is closed afterwards', async () => {
    const path = P('contiguous.h5');
    const file = openNodeFile(path);
    file.close();
    expect(() => file.readInto(0, new Uint8Array(8))).toThrow(/closed/);
    expect(statSync(path).size).toBe(file.size);
  });
});
