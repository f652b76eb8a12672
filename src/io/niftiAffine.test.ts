// The grid's voxel-to-mm affine that the readers put on a NIfTI's (or a 4-D HDF5 series' NIfTI mask's) coords,
// against nibabel's `img.affine` as the oracle (test/fixtures/make_affine_fixtures.py): the sform, only a qform
// (oblique, qfac -1; NIfTI-1 and big-endian NIfTI-2), an sform beside a higher qform code, neither; whole-file and
// streamed reads, masks from a separate file, and a mask whose affine is not the data's.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PYTHON } from '../../test/golden';
import type { GridAffine } from './coords';
import { FmriFormatError } from './errors';
import { readFmriFile, type FmriFile, type ReadFmriOptions } from './fmriFile';
import { readMask } from './mask';
import { readFmriStream } from './stream';

const here = dirname(fileURLToPath(import.meta.url));
const GEN = resolve(here, '..', '..', 'test', 'fixtures', 'make_affine_fixtures.py');
const DATA = resolve(here, '..', '..', 'public', 'data', 'god-synth');
const REAL_MASK = resolve(here, '..', '..', '..', 'shared', 'fixtures', 'real-world', 'mask_4511.nii.gz');

let dir = '';
let oracle: Record<string, number[] | null> = {};
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nifti-affine-'));
  const existing = [join(DATA, 'sample_test0.nii.gz'), join(DATA, 'sample_mask.nii.gz'), ...(existsSync(REAL_MASK) ? [REAL_MASK] : [])];
  execFileSync(PYTHON, [GEN, dir, ...existing], { stdio: 'pipe' });
  oracle = JSON.parse(readFileSync(join(dir, 'affines.json'), 'utf8')) as typeof oracle;
}, 120_000);
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const pathOf = (name: string) =>
  existsSync(join(dir, name)) ? join(dir, name) : name === 'mask_4511.nii.gz' ? REAL_MASK : join(DATA, name);
const bytes = (name: string) => new Uint8Array(readFileSync(pathOf(name)));
const withMask = (mask: string): ReadFmriOptions => ({ mask: bytes(mask), maskName: mask });
const whole = (name: string, opts: ReadFmriOptions = {}) => readFmriFile(name, bytes(name), opts);
const streamed = (name: string, opts: ReadFmriOptions = {}) => {
  const b = bytes(name);
  return readFmriStream(
    name,
    b.length,
    async function* () {
      for (let o = 0; o < b.length; o += 1000) yield b.slice(o, o + 1000);
    },
    opts,
  );
};

/** The affine equals nibabel's for `name` (float32 header fields: equal within 1e-5), and says where it came from. */
function expectAffine(got: GridAffine | undefined, name: string, from: 'sform' | 'qform', file = name): void {
  const want = oracle[name];
  expect(want, `nibabel's affine of ${name}`).toBeTruthy();
  expect(got?.from).toBe(from);
  expect(got?.file).toBe(file);
  got!.rows.forEach((v, n) => expect(Math.abs(v - want![n]), `${name} affine entry ${n}`).toBeLessThan(1e-5));
}

describe("NIfTI grid → millimetres: the readers' affine equals nibabel's", () => {
  it('the bundled sample through its mask (sform), whole and streamed; the mask alone; a real-world sform-only mask', async () => {
    const read = [
      await whole('sample_test0.nii.gz', withMask('sample_mask.nii.gz')),
      await streamed('sample_test0.nii.gz', withMask('sample_mask.nii.gz')),
    ];
    for (const f of read) expectAffine(f.coords?.affine, 'sample_mask.nii.gz', 'sform');
    expectAffine((await readMask('sample_mask.nii.gz', bytes('sample_mask.nii.gz'))).affine, 'sample_mask.nii.gz', 'sform');
    if (existsSync(REAL_MASK))
      expectAffine((await readMask('mask_4511.nii.gz', bytes('mask_4511.nii.gz'))).affine, 'mask_4511.nii.gz', 'sform');
  });

  it('only a qform (oblique, left-handed: qfac −1): NIfTI-1 .nii.gz and big-endian NIfTI-2, whole and streamed', async () => {
    for (const name of ['qform_only.nii.gz', 'qform_only_nifti2_be.nii']) {
      for (const f of [await whole(name), await streamed(name)]) {
        expect(f.coords?.dims).toEqual([5, 4, 3]);
        expectAffine(f.coords?.affine, name, 'qform');
      }
    }
  });

  it('an sform beside a higher qform code: the sform, as nibabel and the NIfTI standard choose', async () => {
    for (const f of [await whole('sform_and_qform.nii.gz'), await streamed('sform_and_qform.nii.gz')])
      expectAffine(f.coords?.affine, 'sform_and_qform.nii.gz', 'sform');
  });

  it('sform and qform codes both 0: no affine (nibabel would make one up from pixdim)', async () => {
    expect(oracle['no_affine.nii.gz']).toBeNull();
    for (const f of [await whole('no_affine.nii.gz'), await streamed('no_affine.nii.gz')]) {
      expect(f.coords?.space).toBe('grid');
      expect(f.coords?.affine).toBeUndefined();
    }
  });

  it("a mask from a separate file: the mask's affine (also for a 4-D HDF5 series, which has none); one that differs from the data's is refused", async () => {
    const files: FmriFile[] = [
      await whole('qform_only.nii.gz', withMask('qform_mask.nii.gz')),
      await whole('no_affine.nii.gz', withMask('qform_mask.nii.gz')),
      await whole('series_tzyx.h5', withMask('qform_mask.nii.gz')),
    ];
    for (const f of files) expectAffine(f.coords?.affine, 'qform_mask.nii.gz', 'qform');
    for (const read of [whole, streamed]) {
      const err = await read('qform_only.nii.gz', withMask('shifted_mask.nii.gz')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FmriFormatError);
      expect((err as Error).message).toMatch(
        /^shifted_mask\.nii\.gz: the mask's voxel-to-mm affine \(sform \[3, 0, 0, -87, .*\]\) differs from that of qform_only\.nii\.gz \(qform .*\): the mask is on another grid/,
      );
    }
  });
});
