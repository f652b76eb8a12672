// End-to-end: after a decode of the bundled SIMULATED set, Done comes with the final metrics, mean and sd map, and
// every export (PNG at ×1 and the default ×8, mean, sd map, sheet) downloads a PNG of the expected size.
import { expect, test, type Download, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { root, shot } from './shots';

const data = join(root, 'public/data/god-synth');

/** Width and height from a PNG's IHDR. */
async function pngSize(d: Download): Promise<[number, number]> {
  const bytes = readFileSync((await d.path())!);
  expect(bytes.subarray(1, 4).toString('latin1')).toBe('PNG');
  return [bytes.readUInt32BE(16), bytes.readUInt32BE(20)];
}

async function download(page: Page, click: () => Promise<void>): Promise<Download> {
  const [d] = await Promise.all([page.waitForEvent('download'), click()]);
  return d;
}

test('exports: Done shows metrics; PNG ×1 and ×8, mean, sd map and sheet', async ({ page }) => {
  test.setTimeout(720_000);
  const consoleErrors: string[] = [];
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
  await page.goto('/');
  await expect(page.getByTestId('model-card')).toBeVisible({ timeout: 180_000 });
  await page.getByTestId('fmri-input').setInputFiles(join(data, 'sbj_3.npz'));
  await expect(page.getByTestId('file-info')).toContainText('sbj_3.npz', { timeout: 60_000 });
  await expect(page.getByTestId('ground-truth')).not.toHaveClass(/empty/);
  await expect(page.getByTestId('run-status')).toHaveText('Ready to run.');

  await page.getByLabel('Sampler', { exact: true }).selectOption('ddim');
  const start = page.getByLabel('Start', { exact: true });
  if (await start.isEnabled()) await start.selectOption('noise');
  await page.getByLabel('Steps', { exact: true }).fill('4');
  await page.getByLabel('Samples', { exact: true }).fill('2');
  await page.getByLabel('Seed', { exact: true }).fill('5');
  // Guidance 1: one UNet call per step instead of a batched pair, which halves the time on SwiftShader.
  const guidance = page.getByLabel('Guidance', { exact: true });
  if (await guidance.isEnabled()) await guidance.fill('1');
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByTestId('run-status')).toContainText('Done: 4 steps', { timeout: 540_000 });
  // Done means done: the status line itself carries the final PCC, and the final frame is on screen with it.
  await expect(page.getByTestId('run-status')).toContainText(/PCC -?\d\.\d{3}, -?\d\.\d{3} \(mean image -?\d\.\d{3}\)/, { timeout: 1_000 });
  await expect(page.getByTestId('position-label')).toContainText('final image', { timeout: 1_000 });
  await expect(page.getByTestId('metrics-0')).toContainText(/PCC -?\d\.\d{3} · SSIM -?\d\.\d{3}/, { timeout: 1_000 });
  await expect(page.getByTestId('metrics-mean')).toContainText(/PCC -?\d\.\d{3}/, { timeout: 1_000 });
  await expect(page.getByTestId('std-caption')).toContainText(/white \d\.\d{3}/, { timeout: 1_000 });
  await expect(page.getByTestId('metric-spread')).toContainText(/PCC over samples: min -?\d\.\d{3}, max -?\d\.\d{3}/);
  await expect(page.getByTestId('x0-std')).not.toHaveClass(/empty/);
  // The mean and sd tiles stay on the samples' row.
  const rowTop = (await page.getByTestId('x0-0').boundingBox())!.y;
  expect(Math.abs((await page.getByTestId('x0-mean').boundingBox())!.y - rowTop)).toBeLessThan(2);
  expect(Math.abs((await page.getByTestId('x0-std').boundingBox())!.y - rowTop)).toBeLessThan(2);
  await shot(page, 'exports-done');

  // Default scale ×8: a 32-px image exports at 256 px.
  await expect(page.getByTestId('export-scale')).toHaveValue('8');
  const big = await download(page, () => page.getByRole('button', { name: 'Export PNG of sample 1 at this position' }).click());
  expect(big.suggestedFilename()).toMatch(/final-sample0-x8\.png$/);
  expect(await pngSize(big)).toEqual([256, 256]);
  const mean = await download(page, () => page.getByRole('button', { name: /Export PNG of the mean of the 2 samples/ }).click());
  expect(mean.suggestedFilename()).toMatch(/mean2-x8\.png$/);
  expect(await pngSize(mean)).toEqual([256, 256]);
  const sd = await download(page, () => page.getByRole('button', { name: /standard deviation map/ }).click());
  expect(sd.suggestedFilename()).toMatch(/sd2-x8\.png$/);
  expect(await pngSize(sd)).toEqual([256, 256]);
  const sheet = await download(page, () => page.getByTestId('export-sheet').click());
  const [sw, sh] = await pngSize(sheet);
  // ground truth, 2 samples, mean and sd map side by side at 256 px each
  expect(sw).toBeGreaterThanOrEqual(5 * 256);
  expect(sh).toBeGreaterThan(256);
  expect(readFileSync((await sheet.path())!).toString('latin1')).toMatch(/Comment\0GROUND TRUTH[\s\S]*PCC \d\.\d{3}/);

  // ×1: the decoder's own resolution.
  await page.getByTestId('export-scale').selectOption('1');
  const small = await download(page, () => page.getByRole('button', { name: 'Export PNG of sample 2 at this position' }).click());
  expect(small.suggestedFilename()).toMatch(/final-sample1-x1\.png$/);
  expect(await pngSize(small)).toEqual([32, 32]);

  // The receipt carries the metrics shown.
  const rec = await download(page, () => page.getByTestId('export-receipt').click());
  const receipt = JSON.parse(readFileSync((await rec.path())!, 'utf8')) as {
    fmri: { roi?: string };
    metrics?: { perSample: unknown[]; spread?: unknown };
  };
  expect(receipt.fmri.roi).toBe('VC');
  expect(receipt.metrics?.perSample).toHaveLength(2);
  expect(receipt.metrics?.spread).toBeDefined();
  expect(consoleErrors).toEqual([]);
});
