// Data sets as distributed (issue 13), in the built studio: a BOLD5000 subject of ten per-ROI files with its
// stimulus list (order shown and changed, averaged test split, ground truth from converted images, decode),
// an NSD pair (betas + nsdgeneral.nii.gz: mask values and int16 × 300 recognised and said), and a subject of
// another voxel count (the real cause named). Files from test/fixtures/make_dataset_fixtures.py (random values).
import { expect, test } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root, shot } from './shots';

let dir = '';
test.beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'e2e-datasets-'));
  execFileSync('/usr/bin/python3', [join(root, 'test/fixtures/make_dataset_fixtures.py'), dir], { stdio: 'pipe' });
});
test.afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const folder = (...p: string[]) => readdirSync(join(dir, ...p)).map((n) => join(dir, ...p, n));

test('datasets: BOLD5000 multi-file subject, NSD pair, voxel mismatch', async ({ page }) => {
  test.setTimeout(480_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await expect(page.getByTestId('model-status')).toContainText('Ready', { timeout: 180_000 });

  // BOLD5000: ten .npy files and the stimulus list, selected together (alphabetical: LH files first).
  await page.getByTestId('fmri-input').setInputFiles(folder('bold5000_4511', 'CSI1'));
  const info = page.getByTestId('file-info');
  await expect(info).toContainText('CSI1', { timeout: 60_000 });
  await expect(page.getByTestId('file-note')).toContainText("authors' BOLD5000 order");
  await expect(page.getByTestId('file-note')).toContainText('2 shown 3 times');
  const parts = page.getByTestId('parts').locator('li');
  await expect(parts).toHaveCount(10);
  await expect(parts.nth(0)).toContainText('LHEarlyVis');
  await expect(parts.nth(1)).toContainText('RHEarlyVis');
  await expect(page.getByLabel('Split')).toContainText('test (averaged over repetitions) — 2');
  await expect(page.getByLabel('Split')).toContainText('test (single trials) — 6');
  await expect(page.getByTestId('preprocess')).toContainText('4511 (all voxels of the file)');
  await expect(page.getByTestId('file-inputs')).toContainText('CSI1_stim_lists.txt (stimuli) sha256');

  // The order can be changed: the file is re-read and says so.
  await page.getByRole('button', { name: /move .*LHEarlyVis.npy down/ }).click();
  await expect(parts.nth(0)).toContainText('RHEarlyVis', { timeout: 60_000 });
  await expect(page.getByTestId('file-note')).toContainText('in the order given');

  // Ground truth for this subject: converted BOLD5000 images, matched by stimulus name.
  await expect(page.getByTestId('ground-truth')).toHaveClass(/empty/);
  await page.getByTestId('truth-input').setInputFiles(join(dir, 'bold5000_images.npz'));
  await expect(page.getByTestId('truth-name')).toContainText('bold5000_images.npz', { timeout: 60_000 });
  await expect(page.getByTestId('ground-truth')).not.toHaveClass(/empty/);
  await expect(parts.nth(0)).toContainText('RHEarlyVis'); // the order chosen is kept
  // The same images as PNG files named by stimulus, decoded by the browser.
  await page.getByTestId('truth-input').setInputFiles(folder('stimuli'));
  await expect(page.getByTestId('truth-name')).toContainText('ground truth: 3 images', { timeout: 60_000 });
  await expect(page.getByTestId('ground-truth')).not.toHaveClass(/empty/);

  // Decode it (2 steps from noise), compared with the given ground truth.
  await page.getByLabel('Sampler', { exact: true }).selectOption('ddim');
  const start = page.getByLabel('Start', { exact: true });
  if (await start.isEnabled()) await start.selectOption('noise');
  await page.getByLabel('Steps', { exact: true }).fill('2');
  await page.getByLabel('Samples', { exact: true }).fill('1');
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByTestId('run-status')).toContainText('Done: 2 steps', { timeout: 300_000 });
  await expect(page.getByTestId('metrics-0')).toContainText(/PCC -?\d\.\d{3} · SSIM -?\d\.\d{3}/, { timeout: 60_000 });
  await shot(page, 'studio-bold5000');

  // NSD pair: betas + nsdgeneral.nii.gz, mask values (1 inside, 0 and −1 outside) and scale recognised.
  await page.getByTestId('fmri-input').setInputFiles(folder('nsd4511'));
  await expect(info).toContainText('betas_session01.nii.gz', { timeout: 60_000 });
  await expect(info).toContainText('4511 voxels');
  await expect(page.getByTestId('file-note')).toContainText('NSD mask values recognised');
  await expect(page.getByTestId('file-note')).toContainText('NSD convention recognised');
  await expect(page.getByTestId('file-inputs')).toContainText('nsdgeneral.nii.gz (mask) sha256');
  // Its 4,511 voxels are a random stand-in on a 20³ grid, not the embedded model's: placed in mm through the grid's
  // affine they miss the model's voxel positions, so the sample is refused, never decoded in the wrong order.
  await expect(page.getByTestId('preprocess-error')).toContainText(
    '4,511 of the 4,511 voxels the model default-god-synth-sbj3 takes are not among the 4,511 voxels of betas_session01.nii.gz',
  );
  await expect(page.getByTestId('preprocess-error')).toContainText('the mask is not the one the model was trained on');

  // The same session as a multi-member gzip (pigz -i): the browser's native inflate stops after the first
  // member, and the reader falls back to fflate, which reads every member.
  await page.getByTestId('fmri-input').setInputFiles([join(dir, 'multi_betas_session01.nii.gz'), join(dir, 'nsdgeneral.nii.gz')]);
  await expect(info).toContainText('multi_betas_session01.nii.gz', { timeout: 60_000 });
  await expect(page.getByTestId('file-note')).toContainText('NSD mask values recognised');
  await expect(page.getByTestId('file-error')).toHaveCount(0);

  // Another subject's voxel count: the real cause, not "select the ROI mask".
  await page.getByTestId('fmri-input').setInputFiles(folder('bold5000', 'CSI1'));
  await expect(page.getByTestId('file-note')).toContainText('10 files concatenated', { timeout: 60_000 });
  await expect(page.getByTestId('preprocess-error')).toContainText('A model is trained for one subject');
  expect(errors).toEqual([]);
});
