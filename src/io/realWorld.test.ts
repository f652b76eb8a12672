// Real-world files that circulate among fMRI decoders (issue 11): the fixtures of
// ../shared/fixtures/real-world (values in ref/ written by numpy/h5py/nibabel), and a second file of each
// kind written here by numpy/h5py/nibabel/scipy (test/fixtures/make_real_world_fixtures.py).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PUBLISHED_GOD_SBJ3, type ModelConfig } from '../model/config';
import { FmriShapeError, preprocessFmri } from '../model/preprocess';
import { FmriFormatError } from './errors';
import { parseArgs } from '../cli/args';
import { FMRI_INPUT_SPEC, readFmriInputs } from '../cli/fmriInputs';
import { readFmriFile, type FmriFile, type ReadFmriOptions } from './fmriFile';
import { readFmriStream } from './stream';
import { readStudioInput } from './studioInput';
import { npyToFloat32, readNpy } from './npy';

const here = dirname(fileURLToPath(import.meta.url));
const REAL = resolve(here, '..', '..', '..', 'shared', 'fixtures', 'real-world');
const GEN_SCRIPT = resolve(here, '..', '..', 'test', 'fixtures', 'make_real_world_fixtures.py');

const bytesOf = (path: string) => new Uint8Array(readFileSync(path));
const npy = (path: string) => {
  const a = readNpy(bytesOf(path));
  return { shape: a.shape, data: npyToFloat32(a) };
};

function matrix(f: FmriFile): Float32Array {
  const out = new Float32Array(f.samples * f.voxels);
  for (let i = 0; i < f.samples; i++) out.set(f.getSample(i), i * f.voxels);
  return out;
}

/** Values equal the oracle's: exactly, or within float32 rounding of a scale product. */
function expectValues(f: FmriFile, refPath: string, rel = 0): void {
  const e = npy(refPath);
  expect([f.samples, f.voxels]).toEqual(e.shape.length === 1 ? [1, e.shape[0]] : e.shape);
  const got = matrix(f);
  if (rel === 0) {
    expect(Array.from(got)).toEqual(Array.from(e.data));
    return;
  }
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - e.data[i]) / Math.max(1e-6, Math.abs(e.data[i])));
  expect(worst).toBeLessThan(rel);
}

async function refusal(p: Promise<unknown>): Promise<Error> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FmriFormatError);
  return err as Error;
}

/** A model of `raw` voxels (wrap-padded to whole 16-voxel patches), as the converter would describe it. */
function modelOf(raw: number | undefined, numVoxels: number): ModelConfig {
  return {
    ...PUBLISHED_GOD_SBJ3,
    encoder: { ...PUBLISHED_GOD_SBJ3.encoder, numVoxels },
    preprocess: raw === undefined ? {} : { rawVoxels: raw, roi: 'VC' },
  };
}

describe.skipIf(!existsSync(REAL))('real-world fixtures (../shared/fixtures/real-world)', () => {
  const read = (name: string, opts: ReadFmriOptions = {}) => readFmriFile(name, bytesOf(join(REAL, name)), opts);

  it('multi_member.nii.gz: every gzip member is read; the masked samples equal nibabel', async () => {
    const f = await read('multi_member.nii.gz', { mask: bytesOf(join(REAL, 'mask_4511.nii.gz')), maskName: 'mask_4511.nii.gz' });
    expectValues(f, join(REAL, 'ref', 'multi_member.npy'));
    expect(f.note).toMatch(/scl_slope/);
  });

  it('py2_long_shape.npy: the (3L, 4511L) shape of Python 2 is accepted', async () => {
    expectValues(await read('py2_long_shape.npy'), join(REAL, 'ref', 'X3.npy'));
  });

  it('god_with_object_member.npz: the object member is skipped with a note, the fMRI read', async () => {
    const f = await read('god_with_object_member.npz');
    expect([f.split, f.roi]).toEqual(['test-avg', 'VC']);
    expectValues(f, join(REAL, 'ref', 'god_with_object_member_test_avg_vc.npy'));
    expect(f.note).toMatch(/non-numeric member ignored \(not unpickled\): info \(\|O\)/);
  });

  it('other_subject_4512_voxels.npy: refused by a 4,511-voxel model, both counts named', async () => {
    const f = await read('other_subject_4512_voxels.npy');
    expect(f.voxels).toBe(4512);
    for (const cfg of [modelOf(4511, 4512), modelOf(undefined, 4512)]) {
      let err: unknown;
      try {
        preprocessFmri(cfg, f.getSample(0));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FmriShapeError);
      expect((err as Error).message).toMatch(/expects 4,511 voxels|4,496–4,512 voxels/);
      expect((err as Error).message).toMatch(/the file has 4,512.*not the wrap copy.*select the ROI mask/);
    }
    // The same vector's first 4,511 voxels, wrap-padded, are a valid padded vector.
    const head = f.getSample(0).slice(0, 4511);
    const padded = new Float32Array(4512);
    padded.set(head);
    padded[4511] = head[0];
    expect(preprocessFmri(modelOf(4511, 4512), padded).length).toBe(4512);
    expect(preprocessFmri(modelOf(undefined, 4512), padded).length).toBe(4512);
  });

  it('lzf_compressed.h5: LZF is decoded by the kept plugin; no HDF5 diagnostics', async () => {
    const f = await read('lzf_compressed.h5');
    expectValues(f, join(REAL, 'ref', 'X3.npy'));
  });

  it('matlab_v73.mat: HDF5 behind a 512-byte user block, MATLAB matrix transposed', async () => {
    const f = await read('matlab_v73.mat');
    expect(f.format).toBe('hdf5');
    expectValues(f, join(REAL, 'ref', 'X3.npy'));
    expect(f.note).toMatch(/MATLAB matrix \/roi_betas .* read as 3 samples × 4511 voxels/);
  });

  it('betas_int16_x300.hdf5: unscaled integers said so; scale 1/300 gives the percent signal change', async () => {
    const raw = await read('betas_int16_x300.hdf5');
    expect(raw.note).toMatch(/int16 values used unscaled \(no scale given/);
    const f = await read('betas_int16_x300.hdf5', { scale: 1 / 300 });
    expectValues(f, join(REAL, 'ref', 'betas_int16_x300.npy'), 1e-6);
    expect(f.note).toMatch(/int16 values × scale 0\.00333/);
  });
});

describe('a second file of each kind (written by numpy/h5py/nibabel/scipy now)', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'real-world-'));
    execFileSync('/usr/bin/python3', [GEN_SCRIPT, dir], { stdio: 'pipe' });
  }, 120_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const read = (name: string, opts: ReadFmriOptions = {}) => readFmriFile(name, bytesOf(join(dir, name)), opts);
  const refOf = (name: string) => join(dir, `ref_${name}.npy`);

  it('a gzip of three members', async () => {
    expectValues(await read('three_members.nii.gz'), refOf('three_members'));
  });

  it.each(['v1.npy', 'v2.npy', 'v3.npy', 'py2_long.npy', 'double_quotes.npy'])('.npy header %s', async (name) => {
    expectValues(await read(name), refOf('npy_headers'), 1e-7);
  });

  it('an .npz with object, string and structured members', async () => {
    const f = await read('mixed_members.npz');
    expectValues(f, refOf('mixed_members'));
    expect(f.note).toMatch(/ignored \(not unpickled\): .*meta \(\|O\)/);
    expect(f.note).toMatch(/labels \(<U1\)/);
    const err = await refusal(read('only_objects.npz'));
    expect(err.message).toMatch(/no numeric member/);
  });

  it('a padded vector is accepted, another subject of the padded length refused (4,643 → 4,656)', async () => {
    const padded = await read('padded_4656.npy');
    expectValues(padded, refOf('padded_4656'));
    expect(preprocessFmri(PUBLISHED_GOD_SBJ3, padded.getSample(0)).length).toBe(4656);
    const other = await read('raw_4656.npy');
    expect(() => preprocessFmri(PUBLISHED_GOD_SBJ3, other.getSample(0))).toThrow(
      /expects 4,643 voxels .*the file has 4,656; its last 13 values are not the wrap copy/,
    );
  });

  it('LZF float64 is decoded; a filter that fails or is unknown is an error naming dataset and filter, never numbers', async () => {
    expectValues(await read('lzf_f8.h5'), refOf('lzf_f8'), 1e-7);
    const failed = await refusal(read('lzf_as_bz2.h5'));
    expect(failed.message).toMatch(/dataset \/data could not be decoded \(filters bz2 \(307\)\): .*re-save it with gzip/);
    expect(failed.message).not.toMatch(/HDF5-DIAG|#00/);
    const unknown = await refusal(read('unknown_filter.h5'));
    expect(unknown.message).toMatch(
      /dataset \/data is compressed with HDF5 filter 32767 \(xyz\), which this reader cannot decode: re-save it with gzip/,
    );
  });

  it('MATLAB v7.3 behind a 1024-byte user block, int16, with and without scale', async () => {
    const f = await read('v73_ub1024.mat');
    expectValues(f, refOf('v73_ub1024'));
    expect(f.note).toMatch(/int16 values used unscaled/);
    expectValues(await read('v73_ub1024.mat', { scale: 1 / 300 }), refOf('v73_ub1024_scaled'), 1e-6);
  });

  it('MATLAB v5/v7: a double matrix, and a compressed int16 one with a logical ROI vector and a cell beside it', async () => {
    const plain = await read('v5.mat');
    expect(plain.format).toBe('matlab');
    expect(plain.note).toMatch(/MATLAB v5 double matrix 'betas' chosen, read as 4 samples × 30 voxels/);
    expectValues(plain, refOf('v73_ub1024'));
    const f = await read('v5_int16_compressed.mat');
    expectValues(f, refOf('v73_ub1024'));
    expect(f.note).toMatch(/variables that are not numeric arrays ignored: labels \(cell\)/);
    expect(f.note).toMatch(/int16 values used unscaled/);
    expect(Object.keys(f.masks ?? {})).toEqual(['roi']);
    expectValues(f.select({ roi: 'roi' }), refOf('v5_roi'));
    expectValues(await read('v5_int16_compressed.mat', { scale: 1 / 300 }), refOf('v73_ub1024_scaled'), 1e-6);
    // A damaged compressed variable is an error, never numbers.
    const b = bytesOf(join(dir, 'v5_int16_compressed.mat'));
    b[200] ^= 0x10;
    expect((await refusal(readFmriFile('v5_int16_compressed.mat', b))).message).toMatch(
      /compressed variable at byte 128 (fails its Adler-32|does not inflate)/,
    );
  });

  it.each(['mask3d_v5.mat', 'mask3d_v5_compressed.mat', 'mask3d_v73.mat'])(
    'MATLAB logical X×Y×Z mask %s over a 4-D NIfTI equals numpy data[mask]',
    async (mask) => {
      const f = await read('int16.nii', { mask: bytesOf(join(dir, mask)), maskName: mask });
      expectValues(f, refOf('mask3d'));
      expect(f.note).toMatch(new RegExp(`mask ${mask}: MATLAB v(5|7\\.3) logical 'roi' 5×3×2: 5 of 30 voxels true`));
    },
  );

  it.each(['maskvec_v5.mat', 'maskvec_v73.mat'])('MATLAB logical 1×N mask %s over a samples × voxels file', async (mask) => {
    const f = await read('int16.npy', { mask: bytesOf(join(dir, mask)), maskName: mask });
    expect(f.roi).toBe('mask');
    expectValues(f, refOf('maskvec'));
    // The v7.3 file also holds a double 1×30 variable: the logical one is the mask.
    expect(f.note).toMatch(/MATLAB v(5|7\.3) logical 'keep' 1×30: 8 of 30 voxels true/);
  });

  it('MATLAB masks wherever masks are taken: decode/eval --mask, and the studio (file and mask dropped together)', async () => {
    const parse = (argv: string[]) => parseArgs(argv, FMRI_INPUT_SPEC);
    const quiet = () => undefined;
    const cli = await readFmriInputs(parse(['--fmri', join(dir, 'int16.nii'), '--mask', join(dir, 'mask3d_v73.mat')]), quiet, {
      write: quiet,
    });
    expectValues(cli.file, refOf('mask3d'));
    expect(cli.inputs.map((x) => `${x.role} ${x.fileName}`)).toEqual(['data int16.nii', 'mask mask3d_v73.mat']);
    const blob = (n: string) => ({ name: n, file: new Blob([bytesOf(join(dir, n))]) });
    for (const [data, mask, ref] of [
      ['int16.nii', 'mask3d_v5_compressed.mat', 'mask3d'],
      ['int16.npy', 'maskvec_v5.mat', 'maskvec'],
      ['int16.npy', 'maskvec_v73.mat', 'maskvec'],
    ]) {
      const studio = await readStudioInput({ ...blob(data), mask: blob(mask) });
      expectValues(studio.file, refOf(ref));
      expect(studio.file.note).toMatch(new RegExp(`mask ${mask.replace('.', '\\.')}: MATLAB v(5|7\\.3) logical`));
    }
  });

  it("the studio's Scale applies on every format it reads (its reader: streamed NIfTI, whole files otherwise)", async () => {
    const { gzipSync } = await import('fflate');
    const b = (n: string) => bytesOf(join(dir, n));
    const csv = new TextDecoder().decode(b('ints.csv'));
    const files: [string, Uint8Array, string][] = [
      ['int16.npy', b('int16.npy'), 'int16_scaled'],
      ['uint8.npz', b('uint8.npz'), 'uint8_scaled'],
      ['int16.nii', b('int16.nii'), 'int16_nifti_scaled'],
      ['int16.nii.gz', gzipSync(b('int16.nii')), 'int16_nifti_scaled'],
      ['ints.csv', b('ints.csv'), 'int16_scaled'],
      ['ints.tsv', new TextEncoder().encode(csv.replaceAll(',', '\t')), 'int16_scaled'],
      ['v73_ub1024.mat', b('v73_ub1024.mat'), 'v73_ub1024_scaled'],
      ['v5_int16_compressed.mat', b('v5_int16_compressed.mat'), 'v73_ub1024_scaled'],
    ];
    for (const [name, bytes, ref] of files) {
      const r = await readStudioInput({ name, file: new Blob([bytes as Uint8Array<ArrayBuffer>]), scale: 1 / 300 });
      expect([name, r.file.note]).toEqual([name, expect.stringMatching(/values × scale 0\.00333/)]);
      expectValues(r.file, refOf(ref), 1e-6);
    }
    // HDF5 with a filter plugin (float64): × 2.
    const h5 = await readStudioInput({ name: 'lzf_f8.h5', file: new Blob([b('lzf_f8.h5')]), scale: 2 });
    const plain = await readStudioInput({ name: 'lzf_f8.h5', file: new Blob([b('lzf_f8.h5')]) });
    expect(h5.file.note).toMatch(/values × scale 2 \(given\)/);
    expect(Array.from(h5.file.getSample(3))).toEqual(Array.from(plain.file.getSample(3), (v) => v * 2));
  });

  it('the streamed NIfTI reader (CLI, studio) takes a volume that is no whole number of float64s (5×3×2 int16: 60 bytes)', async () => {
    const b = bytesOf(join(dir, 'int16.nii'));
    const f = await readFmriStream('int16.nii', b.length, async function* () {
      for (let o = 0; o < b.length; o += 37) yield b.slice(o, o + 37);
    });
    expect(f.note).toMatch(/read volume by volume/);
    expectValues(f, refOf('int16_nifti_scaled').replace('_scaled', '_raw'));
  });

  it('a MATLAB mask file with two logical variables is refused, both named', async () => {
    const err = await refusal(read('int16.npy', { mask: bytesOf(join(dir, 'mask_two_logicals_v5.mat')), maskName: 'two.mat' }));
    expect(err.message).toMatch(/^two\.mat: several logical variables \(a 1×30, b 1×30\): keep the one mask in its own file/);
  });

  it('a scale given by the user applies on every format', async () => {
    expectValues(await read('int16.npy', { scale: 1 / 300 }), refOf('int16_scaled'), 1e-6);
    expectValues(await read('int16.nii', { scale: 1 / 300 }), refOf('int16_nifti_scaled'), 1e-6);
    expectValues(await read('uint8.npz', { scale: 1 / 300 }), refOf('uint8_scaled'), 1e-6);
    expectValues(await read('ints.csv', { scale: 1 / 300 }), refOf('int16_scaled'), 1e-6);
    for (const name of ['int16.npy', 'int16.nii', 'uint8.npz']) expect((await read(name)).note).toMatch(/values used unscaled/);
    await refusal(read('int16.npy', { scale: 0 }));
  });
});

describe('the scale the user types (--scale, the studio field)', () => {
  it('accepts numbers and fractions, refuses zero and garbage', async () => {
    const { parseScale } = await import('./scale');
    expect(parseScale('1/300')).toBe(1 / 300);
    expect(parseScale(' 0.5 ')).toBe(0.5);
    expect(parseScale('1e-2')).toBe(0.01);
    for (const bad of ['0', '1/0', 'abc', '', '1/2/3', 'Infinity']) expect([bad, parseScale(bad)]).toEqual([bad, NaN]);
  });
});
