// Readers against arrays written by numpy/h5py/nibabel (test/fixtures/make_io_fixtures.py).
import { describe, expect, it } from 'vitest';
import { expected, fixtureBytes } from '../../test/fixtures/io/fixtures';
import { FmriFormatError } from './errors';
import { readFmriFile, type FmriFile } from './fmriFile';

function matrix(f: FmriFile): Float32Array {
  const out = new Float32Array(f.samples * f.voxels);
  for (let i = 0; i < f.samples; i++) out.set(f.getSample(i), i * f.voxels);
  return out;
}

function expectEqual(f: FmriFile, name: string): void {
  const e = expected(name);
  expect([f.samples, f.voxels]).toEqual(e.shape.length === 1 ? [1, e.shape[0]] : e.shape);
  expect(Array.from(matrix(f))).toEqual(Array.from(e.data));
}

async function read(name: string, opts = {}): Promise<FmriFile> {
  return readFmriFile(name, fixtureBytes(name), opts);
}

async function rejects(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FmriFormatError);
  expect((err as Error).message).toMatch(pattern);
}

describe('readFmriFile .npy', () => {
  const tags = ['le_f2', 'le_f4', 'le_f8', 'be_f4', 'be_f8', 'i1', 'u1', 'le_i2', 'le_u2', 'le_i4', 'le_u4', 'le_i8', 'le_u8', 'be_i2'];
  it.each(tags)('dtype %s equals what numpy wrote', async (tag) => {
    const f = await read(`dtype_${tag}.npy`);
    expect(f.format).toBe('npy');
    expectEqual(f, `dtype_${tag}`);
  });

  it('reads Fortran order and 1-D vectors', async () => {
    expectEqual(await read('fortran.npy'), 'fortran');
    const v = await read('vector.npy');
    expect([v.samples, v.voxels]).toEqual([1, 20]);
  });

  it('applies a sibling scale to int8 data and says so', async () => {
    const raw = await read('dtype_i1.npy');
    const scaled = await read('dtype_i1.npy', { scale: 0.5 });
    expect(Array.from(scaled.getSample(1))).toEqual(Array.from(raw.getSample(1), (v) => v * 0.5));
    expect(scaled.note).toMatch(/scale 0.5/);
    expect(raw.note).toMatch(/unscaled/);
  });

  it('reports NaN/Inf with count and first position', async () => {
    await rejects(read('nan.npy'), /2 NaN\/Inf values .*first at sample 1, voxel 7/);
  });

  it('refuses scalars, booleans and empty files', async () => {
    await rejects(read('scalar.npy'), /scalar/);
    await rejects(read('bool.npy'), /boolean/);
    await rejects(readFmriFile('x.npy', new Uint8Array(0)), /empty file/);
  });

  // Sizes are judged by memory, not by a voxel cap (issue 13): 20 M voxels is only a truncated file here.
  it('refuses shapes beyond memory before reading data, saying how much they need', async () => {
    const npyHeader = (shape: string) => {
      const header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
      const bytes = new Uint8Array(10 + header.length + 1);
      bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
      new DataView(bytes.buffer).setUint16(8, header.length + 1, true);
      for (let i = 0; i < header.length; i++) bytes[10 + i] = header.charCodeAt(i);
      bytes[10 + header.length] = 0x0a;
      return bytes;
    };
    await rejects(readFmriFile('big.npy', npyHeader('(750, 20000000)')), /array 750×20000000 needs 60.0 GB as float32.*give a mask/);
    await rejects(readFmriFile('big.npy', npyHeader('(2, 20000000)')), /truncated .npy data/);
  });

  it('names truncated data with the bytes needed and found', async () => {
    const bytes = fixtureBytes('dtype_le_f4.npy');
    await rejects(
      readFmriFile('cut.npy', bytes.subarray(0, bytes.length - 5)),
      /cut\.npy: truncated \.npy data: shape 3×20 f4 needs 240 bytes, file has 235/,
    );
  });

  it('names the wrong magic', async () => {
    await rejects(readFmriFile('x.npy', new TextEncoder().encode('hello world, not numpy')), /x\.npy: .*magic/);
  });
});

describe('readFmriFile GOD .npz', () => {
  it('defaults to test-avg with the VC mask, int8 × scale', async () => {
    const f = await read('god.npz');
    expect(f.split).toBe('test-avg');
    expect(f.splits).toEqual({ train: 6, 'test-single': 10, 'test-avg': 5 });
    expect(f.roi).toBe('VC');
    expect(Object.keys(f.masks ?? {}).sort()).toEqual(['V1', 'VC']);
    expectEqual(f, 'god_test-avg_VC');
    expect(f.note).toMatch(/scale 0.03125/);
  });

  it.each([
    ['train', 'V1'],
    ['test-single', 'VC'],
    ['train', 'VC'],
  ])('split %s ROI %s', async (split, roi) => {
    expectEqual(await read('god.npz', { split, roi }), `god_${split}_${roi}`);
  });

  it('select() switches split/ROI without re-reading', async () => {
    const f = await read('god.npz');
    expectEqual(f.select({ split: 'train', roi: 'V1' }), 'god_train_V1');
  });

  it("voxel_xyz gives the mm coordinates of the selected ROI's voxels, row v = voxel v, and follows select()", async () => {
    const f = await read('god.npz');
    expect(f.coords?.space).toBe('mm');
    expect(Array.from(f.coords!.xyz)).toEqual(Array.from(expected('god_xyz_VC').data));
    expect(Array.from(f.select({ roi: 'V1' }).coords!.xyz)).toEqual(Array.from(expected('god_xyz_V1').data));
  });

  it('maps samples to stimulus images through arr_3', async () => {
    const f = await read('god.npz', { split: 'train' });
    expect([0, 1, 2, 3, 4, 5].map((i) => f.groundTruthIndex?.('train', i))).toEqual([4, 0, 3, 1, 2, 5]);
    expect(f.groundTruthIndex?.('test-avg', 3)).toBe(3);
    expect(f.groundTruthIndex?.('test-single', 3)).toBeUndefined();
  });

  it('names unknown splits and ROIs and out-of-range samples', async () => {
    await rejects(read('god.npz', { split: 'val' }), /no split 'val'.*train, test-single, test-avg/);
    await rejects(read('god.npz', { roi: 'FFA' }), /no ROI mask 'FFA'.*VC, V1/);
    const f = await read('god.npz');
    expect(() => f.getSample(5)).toThrow(/sample 5 out of range: split 'test-avg' has 5 samples/);
  });

  it('plain npz: picks the fmri member and reports the choice', async () => {
    const f = await read('plain.npz');
    expect(f.split).toBe('fmri');
    expect(f.note).toMatch(/member 'fmri' chosen/);
    expectEqual(f, 'dtype_le_f4');
  });
});

describe('readFmriFile HDF5', () => {
  it('BData: VoxelData columns, ROI masks, DataType splits and labels', async () => {
    const f = await read('bdata.h5', { split: 'train' });
    expect(f.format).toBe('hdf5');
    expect(f.splits).toMatchObject({ train: 4, test: 3, imagery: 1, all: 8 });
    expect(Object.keys(f.splits)).toContain('test-avg');
    expect(f.roi).toBe('VC');
    expectEqual(f, 'bdata_train_VC');
    expect(f.labels).toEqual(Array.from(expected('bdata_train_labels').data, String));
    expectEqual(f.select({ split: 'test' }), 'bdata_test_VC');
    expectEqual(await read('bdata.h5', { split: 'all', roi: 'V1' }), 'bdata_all_V1');
  });

  it('plain file: the 2-D dataset named fmri, 0/1 vectors as masks', async () => {
    const f = await read('plain.h5');
    expect(f.note).toMatch(/\/subject\/fmri chosen.*\/subject\/aux/);
    expectEqual(f, 'plain_h5_VC');
    expectEqual(await read('plain.h5', { dataset: '/subject/fmri', roi: undefined }).then((x) => x.select({})), 'plain_h5_VC');
  });

  it('a damaged global heap (BData keys) is refused before HDF5 walks it in an endless loop', async () => {
    // Found by npm run fuzz (.h5 input 5736 of seed 11): an object of size 0 in the collection holding the
    // variable-length key strings made HDF5's walk stand still (p = begin + 0) and the read never returned.
    const good = fixtureBytes('bdata.h5');
    const at = Buffer.from(good).indexOf('GCOL');
    expect(at).toBeGreaterThan(0);
    const b = good.slice();
    b.fill(0, at + 16, at + 32); // first object: index 0, size 0
    await rejects(
      readFmriFile('bdata.h5', b),
      new RegExp(`corrupt HDF5 file: the global heap collection at byte ${at} .*object 0 at byte ${at + 16} declares 0 bytes`),
    );
    // A size past the collection's end (HDF5 in wasm truncates it to 32 bits and wraps around).
    const c = good.slice();
    new DataView(c.buffer).setUint32(at + 28, 0xff, true); // object 1's size ('ROI_VC', 6 bytes) + 255 × 2^32
    await rejects(
      readFmriFile('bdata.h5', c),
      new RegExp(`object 1 at byte ${at + 16} declares ${0xff * 2 ** 32 + 6} bytes, 4064 are left`),
    );
  });

  it('HDF5 errors leave no file open: h5wasm reports each through a tmpfile() it never closes (4,096 made HDF5 unusable)', async () => {
    const bad = fixtureBytes('plain.h5').slice();
    bad.fill(0xff, 800, 900); // a damaged object header: HDF5 fails inside the walk
    await rejects(
      read('plain.h5').then(() => readFmriFile('plain.h5', bad)),
      /corrupt HDF5 file/,
    );
    const FS = (await (await import('h5wasm')).ready).FS as unknown as { streams: unknown[] };
    const open = FS.streams.filter(Boolean).length;
    for (let i = 0; i < 30; i++) await rejects(readFmriFile('plain.h5', bad), /corrupt HDF5 file/);
    expect(FS.streams.filter(Boolean).length).toBe(open);
    expectEqual(await read('plain.h5'), 'plain_h5_VC');
  });

  it('explicit dataset path; a missing one is named', async () => {
    await rejects(read('plain.h5', { dataset: '/nope' }), /no numeric dataset \/nope.*\/subject\/fmri/);
  });
});

describe('readFmriFile NIfTI', () => {
  it('4-D int16 with scl_slope/inter and a mask file equals nibabel get_fdata()[mask]', async () => {
    const f = await read('vol4d.nii.gz', { mask: fixtureBytes('mask.nii.gz'), maskName: 'mask.nii.gz' });
    expect(f.samples).toBe(6);
    expectEqual(f, 'nifti4d_masked');
    expect(f.note).toMatch(/scl_slope 0.5, scl_inter 1/);
  });

  it('4-D without a mask: every voxel, C order', async () => {
    expectEqual(await read('vol4d.nii.gz'), 'nifti4d_all');
  });

  it('3-D volume needs a mask; with one it is one sample (flags from .npy work too)', async () => {
    await rejects(read('vol3d.nii'), /3-D volume \(4×5×3\): give a mask/);
    expectEqual(await read('vol3d.nii', { mask: fixtureBytes('mask.nii.gz') }), 'nifti3d_masked');
    expectEqual(await read('vol3d.nii', { mask: fixtureBytes('mask_flat.npy') }), 'nifti3d_masked');
  });

  it("voxel coordinates: each kept voxel's (i, j, k) on the mask's grid, in the order of its values (numpy's argwhere)", async () => {
    const f = await read('vol4d.nii.gz', { mask: fixtureBytes('mask.nii.gz'), maskName: 'mask.nii.gz' });
    const want = Array.from(expected('nifti_mask_ijk').data);
    expect(f.coords).toMatchObject({ space: 'grid', step: 1, dims: [4, 5, 3] });
    expect(Array.from(f.coords!.xyz)).toEqual(want);
    // The fixture tells the orders apart: the same voxels in NIfTI's file order (i fastest) are another list.
    expect(Array.from(expected('nifti_mask_ijk_fortran').data)).not.toEqual(want);
    expect(Array.from((await read('vol3d.nii', { mask: fixtureBytes('mask_flat.npy') })).coords!.xyz)).toEqual(want);
    // Without a mask, every voxel of the grid.
    expect(Array.from((await read('vol4d.nii.gz')).coords!.xyz)).toEqual(Array.from(expected('nifti_all_ijk').data));
    // Formats that say nothing about space carry none.
    expect((await read('table.csv')).coords).toBeUndefined();
  });

  it('a mask on another grid is refused', async () => {
    await rejects(read('vol3d.nii', { mask: new Uint8Array(7).fill(1) }), /mask has 7 entries, expected 60/);
  });
});

describe('readFmriFile CSV/TSV', () => {
  it('header row detected and skipped; TSV with CRLF and exponents', async () => {
    const c = await read('table.csv');
    expect(c.note).toMatch(/header row skipped/);
    expectEqual(c, 'table');
    expectEqual(await read('table.tsv'), 'table');
  });

  it('names non-numeric cells, ragged rows and NaN', async () => {
    await rejects(read('bad_cell.csv'), /non-numeric cell at row 2, column 2: "five"/);
    await rejects(read('ragged.csv'), /row 2 has 2 columns, expected 3/);
    await rejects(read('nan.csv'), /1 NaN\/Inf value .*sample 1, voxel 1/);
  });

  it('a column mask given for a table becomes ROI "mask"', async () => {
    const f = await read('table.csv', { mask: Uint8Array.from([1, 0, 1, 0, 0, 1]) });
    expect(f.roi).toBe('mask');
    const all = await read('table.csv');
    const row = all.getSample(2);
    expect(Array.from(f.getSample(2))).toEqual([row[0], row[2], row[5]]);
  });
});
