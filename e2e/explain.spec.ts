// Issue 14 end to end: the Explain panel of the built studio in chromium (WebGPU on SwiftShader) on the
// bundled SYNTHETIC set: attention heatmap per step following the timeline, ROI choice, brushing a region,
// voxel importance, counterfactual decodes side by side, a clear error, and no request leaving the page; a
// dropped receipt with a lesion replayed with its counterfactual; the brain slice of a NIfTI read through a mask.
// Screenshots go to test-results/explain/ (ignored), never to tracked files.
import { expect, test, type Page } from '@playwright/test';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeReceipt, parseReceipt, receiptToJson } from '../src/engine/receipt';
import { dropText } from './drop';
import { root } from './shots';

const data = join(root, 'public/data/god-synth');
// Into this test's output folder under test-results/ (ignored by git).
const shot = (page: Page, name: string) => page.screenshot({ path: test.info().outputPath(`${name}.png`), fullPage: true });

/**
 * The studio on WebGPU with the default model and the bundled sbj_3.npz open; page errors and requests that leave
 * the page are collected in the lists returned (each test ends by expecting both empty).
 */
async function openWithBundledSet(page: Page, baseURL: string | undefined): Promise<{ errors: string[]; remote: string[] }> {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const remote: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(`${baseURL}/`) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) remote.push(r.url());
  });
  await page.goto('/');
  await expect(page.getByTestId('backend')).toHaveText('webgpu', { timeout: 60_000 });
  await expect(page.getByTestId('model-card')).toBeVisible({ timeout: 120_000 });
  await page.getByTestId('fmri-input').setInputFiles(join(data, 'sbj_3.npz'));
  await expect(page.getByTestId('file-info')).toContainText('sbj_3.npz', { timeout: 60_000 });
  return { errors, remote };
}

test('explain: attention maps per step, brushing, counterfactuals', async ({ page, baseURL }) => {
  test.setTimeout(900_000);
  const { errors, remote } = await openWithBundledSet(page, baseURL);

  const panel = page.getByTestId('explain-panel');
  await expect(panel).toContainText('Run the sampler');
  await expect(page.getByTestId('cf-run')).toBeDisabled();

  // A short decode: DDIM 4 steps from noise, one sample, no guidance (SwiftShader is a CPU).
  await page.getByLabel('Sampler', { exact: true }).selectOption('ddim');
  const start = page.getByLabel('Start', { exact: true });
  if (await start.isEnabled()) await start.selectOption('noise');
  await page.getByLabel('Steps', { exact: true }).fill('4');
  await page.getByLabel('Samples', { exact: true }).fill('1');
  await page.getByLabel('Seed', { exact: true }).fill('2');
  await page.getByLabel('Guidance', { exact: true }).fill('1');
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByTestId('run-status')).toContainText('Done: 4 steps', { timeout: 300_000 });

  // Maps on: heatmap, ROI masses (V1..HVC and the constant part), voxel importance.
  await page.getByTestId('explain-toggle').check();
  await expect(page.getByTestId('explain-heatmap')).toBeVisible({ timeout: 120_000 });
  const mass = page.getByTestId('explain-mass');
  for (const r of ['V1', 'V2', 'V3', 'HVC', 'constant']) await expect(mass).toContainText(r);
  await expect(page.getByTestId('explain-voxels')).toBeVisible();
  // The bundled set carries voxel coordinates: the brain slice, with a keyboard-operable z slider.
  await expect(page.getByTestId('explain-slice')).toBeVisible();
  const z = page.getByTestId('explain-slice-z');
  const zLabel = async () => (await panel.textContent())?.match(/slice z = (-?\d+) mm/)?.[1];
  const z0 = await zLabel();
  await z.focus();
  await page.keyboard.press('ArrowUp');
  await expect.poll(zLabel).not.toBe(z0);
  await expect(panel).toContainText('attn2 layers averaged');
  await shot(page, 'explain-maps-final');

  // The maps follow the timeline: step 1 has another t than the final position.
  const tAt = async () => (await panel.textContent())?.match(/Step t = (\d+)/)?.[1];
  const tFinal = await tAt();
  const scrubber = page.getByTestId('scrubber');
  await scrubber.focus();
  await page.keyboard.press('Home');
  await expect(page.getByTestId('position-label')).toContainText('step 1 of 4');
  await expect.poll(tAt, { timeout: 120_000 }).not.toBe(tFinal);
  await shot(page, 'explain-maps-step1');

  // Another ROI, then brush a region: the importance column is for the brushed region.
  await page.getByTestId('explain-roi').selectOption('HVC');
  await expect(page.getByTestId('explain-roi')).toHaveValue('HVC');
  await expect(panel).toContainText('reaches HVC', { timeout: 120_000 });
  const heat = page.getByTestId('explain-heatmap');
  await heat.scrollIntoViewIfNeeded();
  const box = (await heat.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.3);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.6, { steps: 6 });
  await page.mouse.up();
  await expect(panel).toContainText('the brushed region', { timeout: 120_000 });
  await expect(page.getByRole('button', { name: 'Whole image' })).toBeEnabled();
  await shot(page, 'explain-brushed');
  // The same by keyboard: reset, focus the map, move the cursor, Space toggles the cell.
  await page.getByRole('button', { name: 'Whole image' }).click();
  await expect(panel).toContainText('for the whole image');
  await heat.focus();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('Space');
  await expect(panel).toContainText('the brushed region', { timeout: 120_000 });

  // Counterfactuals on the same seed, side by side with the original.
  await page.getByTestId('cf-kind').selectOption('lesion');
  await page.getByTestId('cf-roi').selectOption('V1');
  await page.getByTestId('cf-fill').selectOption('zero');
  await page.getByTestId('cf-run').click();
  await expect(page.getByTestId('cf-result')).toContainText('lesion V1 (zero)', { timeout: 300_000 });
  await expect(page.getByTestId('cf-original')).not.toHaveClass(/empty/);
  await expect(page.getByTestId('cf-edited')).not.toHaveClass(/empty/);
  await shot(page, 'explain-lesion');
  // The receipt records the edit (npm run decode --receipt replays it: src/cli/explainArgs.test.ts).
  const [rec] = await Promise.all([page.waitForEvent('download'), page.getByTestId('cf-receipt').click()]);
  const receipt = parseReceipt(readFileSync((await rec.path())!, 'utf8'));
  expect(receipt.counterfactual).toEqual({ kind: 'lesion', roi: 'V1', fill: 'zero', seed: 0 });
  expect(receipt).toMatchObject({ sampler: 'ddim', steps: 4, seed: 2, guidance: 1 });

  await page.getByTestId('cf-kind').selectOption('interpolate');
  await page.getByTestId('cf-other').fill('5');
  await page.getByTestId('cf-alpha').fill('0.3');
  await page.getByTestId('cf-run').click();
  await expect(page.getByTestId('cf-result')).toContainText('α = 0.3', { timeout: 300_000 });
  await shot(page, 'explain-interpolate');

  await page.getByTestId('cf-kind').selectOption('control-shuffle');
  await page.getByTestId('cf-run').click();
  await expect(page.getByTestId('cf-result')).toContainText('shuffled control', { timeout: 300_000 });

  // A bad request gets a specific message and the page stays usable.
  await page.getByTestId('cf-kind').selectOption('trial');
  await page.getByTestId('cf-other').fill('999');
  await page.getByTestId('cf-run').click();
  await expect(page.getByTestId('cf-error')).toContainText(/sample 999 out of range/, { timeout: 60_000 });
  await shot(page, 'explain-error');
  await expect(page.getByTestId('cf-run')).toBeEnabled();

  expect(errors).toEqual([]);
  expect(remote).toEqual([]);
});

const sha256Of = (path: string): string =>
  createHash('sha256')
    .update(readFileSync(join(root, path)))
    .digest('hex');

test('explain: a dropped receipt with a lesion replays it beside the original; a NIfTI through a mask gets a brain slice', async ({
  page,
  baseURL,
}) => {
  test.setTimeout(900_000);
  const { errors, remote } = await openWithBundledSet(page, baseURL);

  // A receipt of a counterfactual, as the studio's export or `npm run decode --lesion HVC:zero` writes it.
  const receipt = makeReceipt({
    appVersion: '0.1.0',
    model: { name: 'default-god-synth-sbj3', sha256: sha256Of('public/models/default/manifest.json'), synthetic: true },
    fmri: { fileName: 'sbj_3.npz', sha256: sha256Of('public/data/god-synth/sbj_3.npz'), split: 'test-avg', sampleIndex: 2 },
    sampler: 'ddim',
    steps: 3,
    eta: 0,
    seed: 5,
    numSamples: 1,
    backend: 'webgpu',
    init: 'noise',
    strength: 1,
    guidance: 1,
    counterfactual: { kind: 'lesion', roi: 'HVC', fill: 'zero', seed: 0 },
  });
  await dropText(page, 'lesion-receipt.json', receiptToJson(receipt));
  await expect(page.getByTestId('notice')).toContainText('The counterfactual (lesion HVC (zero)) is decoded beside it once it is done');
  // The settings and the edit are restored; the sample is the receipt's.
  await expect(page.getByLabel('Steps', { exact: true })).toHaveValue('3');
  await expect(page.getByLabel('Seed', { exact: true })).toHaveValue('5');
  await expect(page.getByTestId('cf-kind')).toHaveValue('lesion');
  await expect(page.getByTestId('cf-roi')).toHaveValue('HVC');
  await expect(page.getByTestId('cf-fill')).toHaveValue('zero');
  await expect(page.getByTestId('cf-result')).toHaveCount(0);

  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByTestId('run-status')).toContainText('Done: 3 steps', { timeout: 300_000 });
  // No click on Decode: the counterfactual follows the replayed run, beside the original.
  const result = page.getByTestId('cf-result');
  await expect(result).toContainText('lesion HVC (zero)', { timeout: 300_000 });
  const original = page.getByTestId('cf-original');
  const edited = page.getByTestId('cf-edited');
  await expect(original).not.toHaveClass(/empty/);
  await expect(edited).not.toHaveClass(/empty/);
  const pixels = (c: typeof original) => c.evaluate((el) => (el as HTMLCanvasElement).toDataURL());
  expect(await pixels(edited)).not.toBe(await pixels(original));
  const [o, e] = [(await original.boundingBox())!, (await edited.boundingBox())!];
  expect(e.x).toBeGreaterThan(o.x);
  expect(Math.abs(e.y - o.y)).toBeLessThan(o.height);
  await shot(page, 'explain-receipt-replayed');

  // The bundled NIfTI sample read through its mask (60×72×60 grid, 4,511 voxels): the slice is drawn from the
  // mask's grid indices.
  await page.getByRole('button', { name: 'test0 .nii.gz + mask' }).click();
  await expect(page.getByTestId('file-info')).toContainText('sample_test0.nii.gz', { timeout: 60_000 });
  // Its voxels are put into the model's order by their positions (the bundle's), and the data panel says so.
  await expect(page.getByTestId('voxel-order')).toContainText(
    "voxel order: put into the model's (its 4,511 voxels' positions matched in mm",
  );
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByTestId('run-status')).toContainText('Done: 3 steps', { timeout: 300_000 });
  const panel = page.getByTestId('explain-panel');
  await page.getByTestId('explain-toggle').check();
  await expect(page.getByTestId('explain-slice')).toBeVisible({ timeout: 120_000 });
  const kLabel = async () => (await panel.textContent())?.match(/Slice k = (\d+) of the 60×72×60 grid/)?.[1];
  await expect.poll(kLabel).toMatch(/^\d+$/);
  const k0 = await kLabel();
  await page.getByTestId('explain-slice-z').focus();
  await page.keyboard.press('ArrowUp');
  await expect.poll(kLabel).not.toBe(k0);
  await shot(page, 'explain-nifti-slice');

  expect(errors).toEqual([]);
  expect(remote).toEqual([]);
});
