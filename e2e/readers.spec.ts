// Readers in the built studio (issue 11): the Scale field on int16 data (the note and the values change), and
// HDF5 files compressed with filters that only the h5wasm-plugins provide (LZF, and bz2 failing on LZF data):
// the plugins must be served and loaded by the built app, not only in Node. Files from
// test/fixtures/make_real_world_fixtures.py and ../shared/fixtures/real-world; values from their numpy refs.
// 4-D HDF5 / MATLAB v7.3 series through an nsdgeneral mask, which the worker reads from the File on demand
// (test/fixtures/make_h5_layouts.py).
import { expect, test, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { npyToFloat32, readNpy } from '../src/io/npy';
import { root } from './shots';

let dir = '';
test.beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'e2e-readers-'));
  execFileSync('/usr/bin/python3', [join(root, 'test/fixtures/make_real_world_fixtures.py'), dir], { stdio: 'pipe' });
  execFileSync('/usr/bin/python3', [join(root, 'test/fixtures/make_h5_layouts.py'), join(dir, 'layouts')], { stdio: 'pipe' });
});
test.afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** What the data panel shows for sample 0 of a numpy ref (the page's rounding: 4 significant digits). */
function range(refPath: string, times = 1): string {
  const a = readNpy(new Uint8Array(readFileSync(refPath)));
  const v = npyToFloat32(a).subarray(0, a.shape.length === 1 ? a.shape[0] : a.shape[1]);
  let lo = Infinity,
    hi = -Infinity;
  for (const x of v) {
    lo = Math.min(lo, x * times);
    hi = Math.max(hi, x * times);
  }
  const f = (x: number) => String(Number(x.toPrecision(4)));
  return `values ${f(lo)} to ${f(hi)}`;
}

async function open(page: Page, file: string): Promise<void> {
  await page.getByTestId('fmri-input').setInputFiles(file);
}

test('Scale field: int16 values as stored, then × 1/300, said in the note and seen in the values', async ({ page }) => {
  await page.goto('/');
  await open(page, join(dir, 'int16.npy'));
  const note = page.getByTestId('file-note');
  await expect(note).toContainText('int16 values used unscaled (no scale given', { timeout: 120_000 });
  const raw = range(join(dir, 'ref_int16_scaled.npy'), 300);
  await expect(page.getByTestId('voxel-range')).toHaveText(raw, { timeout: 60_000 });
  // A scale that is not a non-zero number cannot be applied.
  await page.getByTestId('fmri-scale').fill('0');
  await expect(page.getByRole('button', { name: 'Apply' })).toBeDisabled();
  await page.getByTestId('fmri-scale').fill('1/300');
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(note).toContainText('int16 values × scale 0.0033333', { timeout: 60_000 });
  await expect(note).not.toContainText('unscaled');
  const scaled = range(join(dir, 'ref_int16_scaled.npy'));
  expect(scaled).not.toBe(raw);
  await expect(page.getByTestId('voxel-range')).toHaveText(scaled, { timeout: 60_000 });
});

test('HDF5 filter plugins load in the built studio: LZF decoded, bz2 failing and an unknown filter named', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  // h5py's LZF (HDF5 filter 32000): only libH5Zlzf.so from h5wasm-plugins decodes it.
  await open(page, join(dir, 'lzf_f8.h5'));
  await expect(page.getByTestId('file-info')).toContainText('300 voxels', { timeout: 120_000 });
  await expect(page.getByTestId('voxel-range')).toHaveText(range(join(dir, 'ref_lzf_f8.npy')), { timeout: 60_000 });
  await expect(page.getByTestId('file-error')).toHaveCount(0);
  const shared = join(root, '..', 'shared', 'fixtures', 'real-world');
  if (existsSync(join(shared, 'lzf_compressed.h5'))) {
    await open(page, join(shared, 'lzf_compressed.h5'));
    await expect(page.getByTestId('file-info')).toContainText('4511 voxels', { timeout: 60_000 });
    await expect(page.getByTestId('voxel-range')).toHaveText(range(join(shared, 'ref', 'X3.npy')), { timeout: 60_000 });
  }
  // The bz2 plugin is fetched and loaded, and fails on LZF bytes: the dataset and filter are named, no numbers.
  await open(page, join(dir, 'lzf_as_bz2.h5'));
  await expect(page.getByTestId('file-error')).toContainText('dataset /data could not be decoded (filters bz2 (307))', {
    timeout: 60_000,
  });
  await expect(page.getByTestId('file-error')).not.toContainText('could not be loaded');
  // A filter no plugin provides.
  await open(page, join(dir, 'unknown_filter.h5'));
  await expect(page.getByTestId('file-error')).toContainText(
    'compressed with HDF5 filter 32767 (xyz), which this reader cannot decode: re-save it with gzip',
    { timeout: 60_000 },
  );
  expect(errors).toEqual([]);
});

test('4-D HDF5 and MATLAB v7.3 series through nsdgeneral.nii.gz, read by the worker from the File', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  const layouts = join(dir, 'layouts');
  const want = range(join(layouts, 'ref_masked.npy'));
  const voxels = readNpy(new Uint8Array(readFileSync(join(layouts, 'ref_masked.npy')))).shape[1];
  for (const name of ['chunk_voxel.h5', 'matlab_betas.mat']) {
    await page.getByTestId('fmri-input').setInputFiles([join(layouts, name), join(layouts, 'nsdgeneral.nii.gz')]);
    await expect(page.getByTestId('file-info')).toContainText(name, { timeout: 120_000 });
    await expect(page.getByTestId('file-info')).toContainText(`${voxels} voxels`);
    await expect(page.getByTestId('file-note')).toContainText('[T, Z, Y, X] volumes read through mask nsdgeneral.nii.gz');
    await expect(page.getByTestId('voxel-range')).toHaveText(want, { timeout: 60_000 });
    await expect(page.getByTestId('file-error')).toHaveCount(0);
  }
  expect(errors).toEqual([]);
});
