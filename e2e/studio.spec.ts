// End-to-end: the built studio in Debian chromium with WebGPU on SwiftShader (see playwright.config.ts).
import { expect, test, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseReceipt } from '../src/engine/receipt';
import { root, shot } from './shots';

const data = join(root, 'public/data/god-synth');

/** Drop files on the page the way a user's drag does (a DataTransfer with File objects). */
async function dropFiles(page: Page, files: { name: string; url: string }[]): Promise<void> {
  await page.evaluate(async (list) => {
    const dt = new DataTransfer();
    for (const f of list) dt.items.add(new File([await (await fetch(f.url)).blob()], f.name));
    for (const type of ['dragenter', 'dragover', 'drop']) {
      document.body.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
    }
  }, files);
}

async function setNumber(page: Page, label: string, value: number): Promise<void> {
  await page.getByLabel(label, { exact: true }).fill(String(value));
}

test('studio: load, decode, scrub, export, errors, cancel', async ({ page, baseURL }) => {
  test.setTimeout(480_000);
  const consoleErrors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
  const remote: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(`${baseURL}/`) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) remote.push(r.url());
  });

  await page.goto('/');
  // The backend by measurement (WebAssembly beats SwiftShader's software adapter here; e2e/backend.spec.ts
  // covers the choice and WebGPU runs), then the embedded default model.
  await expect(page.getByTestId('backend')).toHaveText('wasm', { timeout: 60_000 });
  await expect(page.getByTestId('backend-reason')).toContainText('faster than this software GPU adapter (google/swiftshader)', {
    timeout: 120_000,
  });
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  await expect(page.getByTestId('model-card')).toBeVisible({ timeout: 120_000 });
  await expect(page.getByTestId('model-status')).toContainText('Ready');
  await expect(page.getByTestId('fallback-banner')).toHaveCount(0);
  await expect(page.getByTestId('url-help')).toContainText('CORS');

  // The GOD-layout file through the picker: splits, ground truth, preprocessing summary.
  await page.getByTestId('fmri-input').setInputFiles(join(data, 'sbj_3.npz'));
  await expect(page.getByTestId('file-info')).toContainText('sbj_3.npz', { timeout: 60_000 });
  await expect(page.getByTestId('file-info').getByTestId('synthetic-label')).toContainText(/synthetic/i);
  await expect(page.getByTestId('sample-info')).toBeVisible();
  await expect(page.getByTestId('ground-truth')).not.toHaveClass(/empty/);
  await expect(page.getByTestId('preprocess')).toContainText('wrap padding');
  await page.getByLabel('Split').selectOption('train');
  await setNumber(page, 'Sample', 7);
  await expect(page.getByTestId('ground-truth')).not.toHaveClass(/empty/);
  await shot(page, 'studio-data');

  // A single-sample file by drag and drop.
  await dropFiles(page, [{ name: 'sample_test0.npy', url: '/data/god-synth/sample_test0.npy' }]);
  await expect(page.getByTestId('file-info')).toContainText('sample_test0.npy', { timeout: 60_000 });
  await expect(page.getByTestId('sample-info')).toBeVisible();

  // Decode: DDIM, 5 steps, one sample, watching for main-thread long tasks.
  await page.getByLabel('Sampler', { exact: true }).selectOption('ddim');
  // The model's own defaults (config.sampling) may start from its low-level image: this trajectory starts from noise.
  const start = page.getByLabel('Start', { exact: true });
  if (await start.isEnabled()) await start.selectOption('noise');
  await setNumber(page, 'Steps', 5);
  await setNumber(page, 'Samples', 1);
  await setNumber(page, 'Seed', 3);
  await page.evaluate(() => {
    const w = window as unknown as { longTasks: number[] };
    w.longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.longTasks.push(e.duration);
    }).observe({ type: 'longtask' });
  });
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByTestId('run-status')).toContainText('Done: 5 steps', { timeout: 300_000 });
  const longTasks = await page.evaluate(() => (window as unknown as { longTasks: number[] }).longTasks);
  expect(Math.max(0, ...longTasks), `main-thread long tasks: ${longTasks.join(', ')}`).toBeLessThanOrEqual(100);
  await expect(page.getByTestId('x0-0')).not.toHaveClass(/empty/);
  await expect(page.getByTestId('xt-0')).not.toHaveClass(/empty/);
  await expect(page.getByTestId('metrics-0')).toContainText(/PCC -?\d\.\d{3} · SSIM -?\d\.\d{3}/);
  await expect(page.getByTestId('ms-per-step')).toContainText(/\d/);
  await expect(page.getByTestId('position-label')).toContainText('final image');
  await shot(page, 'studio-decoded');

  // Scrub with the keyboard and the mouse.
  const scrubber = page.getByTestId('scrubber');
  const label = page.getByTestId('position-label');
  await scrubber.focus();
  await page.keyboard.press('Home');
  await expect(label).toContainText('step 1 of 5');
  await page.keyboard.press('ArrowRight');
  await expect(label).toContainText('step 2 of 5');
  await page.keyboard.press('End');
  await expect(label).toContainText('final image');
  await page.keyboard.press('ArrowLeft');
  await expect(label).toContainText('step 5 of 5');
  const box = (await scrubber.boundingBox())!;
  await page.mouse.click(box.x + 2, box.y + box.height / 2);
  await expect(label).toContainText('step 1 of 5');
  await expect(page.getByTestId('x0-0')).not.toHaveClass(/empty/);
  await page.mouse.click(box.x + box.width - 2, box.y + box.height / 2);
  await expect(label).toContainText('final image');

  // Exports: PNG of this position, and the receipt.
  const [png] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: /Export PNG of sample 1/ }).click()]);
  expect(png.suggestedFilename()).toMatch(/\.png$/);
  expect(Array.from(readFileSync((await png.path())!).subarray(0, 4))).toEqual([0x89, 0x50, 0x4e, 0x47]);
  const [rec] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-receipt').click()]);
  const receiptPath = (await rec.path())!;
  const receipt = parseReceipt(readFileSync(receiptPath, 'utf8'));
  expect(receipt).toMatchObject({ sampler: 'ddim', steps: 5, seed: 3, numSamples: 1, backend: 'wasm' });
  expect(receipt.fmri).toMatchObject({ fileName: 'sample_test0.npy', sampleIndex: 0 });

  // The trajectory as an animated GIF (5 steps + the final image).
  const [gif] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: /Export trajectory GIF of sample 1/ }).click(),
  ]);
  expect(gif.suggestedFilename()).toMatch(/trajectory-sample0\.gif$/);
  expect(
    readFileSync((await gif.path())!)
      .subarray(0, 6)
      .toString('latin1'),
  ).toBe('GIF89a');

  // Replaying the receipt restores its settings.
  await setNumber(page, 'Seed', 99);
  await page
    .getByTestId('fmri-input')
    .setInputFiles({ name: 'receipt.json', mimeType: 'application/json', buffer: readFileSync(receiptPath) });
  await expect(page.getByTestId('notice')).toContainText('Receipt settings applied');
  await expect(page.getByLabel('Seed', { exact: true })).toHaveValue('3');

  // A malformed file gets its specific error inline.
  await page
    .getByTestId('fmri-input')
    .setInputFiles({ name: 'broken.npy', mimeType: 'application/octet-stream', buffer: Buffer.from('definitely not numpy') });
  await expect(page.getByTestId('file-error')).toContainText('FmriFormatError');
  await expect(page.getByTestId('file-error')).toContainText('broken.npy');
  await shot(page, 'studio-error');

  // Cancel in the middle of a longer run (bundled sample opened from the keyboard).
  await page.getByRole('button', { name: 'test0 .npy' }).focus();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('sample-info')).toBeVisible({ timeout: 60_000 });
  await setNumber(page, 'Steps', 40);
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByTestId('run-status')).toContainText(/Running: step [2-9]/, { timeout: 120_000 });
  // Neither the data nor the model can change under a run.
  await expect(page.getByTestId('data-locked')).toBeVisible();
  await expect(page.getByTestId('sample-index')).toBeDisabled();
  await expect(page.getByTestId('fmri-input')).toBeDisabled();
  await expect(page.getByRole('button', { name: 'test0 .npy' })).toBeDisabled();
  await expect(page.getByRole('button', { name: 'Embedded default' })).toBeDisabled();
  await page.getByRole('button', { name: 'Cancel' }).click();
  // Cancel takes effect at the next step boundary; a guided step (two UNet passes) on SwiftShader under load
  // can take several seconds.
  await expect(page.getByTestId('run-status')).toContainText('Cancelled after', { timeout: 30_000 });
  await expect(page.getByRole('button', { name: 'Run' })).toBeEnabled();
  await expect(page.getByTestId('sample-index')).toBeEnabled();
  await expect(page.getByTestId('fmri-input')).toBeEnabled();

  // A bundle dropped as loose files (manifest.json + shards) loads, is kept in OPFS, listed, and deleted.
  await page.evaluate(async () => {
    const base = '/models/default/';
    const manifest = (await (await fetch(`${base}manifest.json`)).json()) as { shards: { file: string }[] };
    const dt = new DataTransfer();
    for (const name of ['manifest.json', ...manifest.shards.map((s) => s.file)]) {
      dt.items.add(new File([await (await fetch(base + name)).blob()], name));
    }
    for (const type of ['dragenter', 'dragover', 'drop']) {
      document.body.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
    }
  });
  await expect(page.getByTestId('saved-models')).toContainText('dropped bundle', { timeout: 120_000 });
  await expect(page.getByTestId('model-status')).toContainText('Ready: dropped bundle');
  await page.getByRole('button', { name: 'Delete dropped bundle' }).click();
  await expect(page.getByTestId('saved-models')).toHaveCount(0);

  expect(consoleErrors).toEqual([]);
  expect(remote).toEqual([]);
});

test('studio: low-level start and guidance controls', async ({ page }) => {
  test.setTimeout(480_000);
  await page.goto('/');
  await expect(page.getByTestId('model-card')).toBeVisible({ timeout: 240_000 });
  await expect(page.getByTestId('model-status')).toContainText('Ready');
  const start = page.getByLabel('Start', { exact: true });
  const strength = page.getByLabel('Strength', { exact: true });
  const guidance = page.getByLabel('Guidance', { exact: true });
  // Labelled, described in the field's terms (aria-describedby), reachable from the keyboard.
  await expect(strength).toHaveAccessibleDescription(/how much of the schedule is re-run from the fMRI-predicted low-level image/);
  await expect(start).toHaveAccessibleDescription(/low-level/);
  if (await guidance.isEnabled()) {
    await expect(guidance).toHaveAccessibleDescription(/ε = ε_u \+ g·\(ε_c − ε_u\)/);
  } else {
    await expect(page.getByTestId('guidance-help')).toContainText(
      'no null context: guidance needs a model trained with conditioning dropout',
    );
  }
  if (await start.isDisabled()) {
    // A bundle without the low-level decoder: the panel says so and strength stays at 1.
    await expect(page.getByTestId('init-help')).toContainText('this model has no low-level decoder');
    await expect(strength).toBeDisabled();
    await expect(page.getByTestId('strength-value')).toHaveText('1.00');
    test
      .info()
      .annotations.push({ type: 'note', description: 'the loaded model has no low-level decoder: the frame-0 decode was not exercised' });
    return;
  }
  // With the low-level decoder: the control is next in the tab order; decode from it and find its image as frame 0.
  await page.getByLabel('Samples', { exact: true }).focus();
  // The Start field's help "?" comes first (help is keyboard-accessible), then the control.
  await page.keyboard.press('Tab');
  await expect(page.getByTestId('help-init')).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(start).toBeFocused();
  await page.getByRole('button', { name: 'test0 .npy' }).click();
  await expect(page.getByTestId('sample-info')).toBeVisible({ timeout: 60_000 });
  await start.selectOption('lowlevel');
  await expect(strength).toBeEnabled();
  await page.getByLabel('Sampler', { exact: true }).selectOption('ddim');
  await setNumber(page, 'Steps', 6);
  await setNumber(page, 'Samples', 1);
  // The strength slider from the keyboard: End = 1, then ten steps of 0.05 down.
  await strength.focus();
  await page.keyboard.press('End');
  for (let i = 0; i < 10; i++) await page.keyboard.press('ArrowLeft');
  await expect(page.getByTestId('strength-value')).toHaveText('0.50');
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByTestId('run-status')).toContainText(/Done: \d+ steps after the low-level start/, { timeout: 240_000 });
  await page.getByTestId('scrubber').focus();
  await page.keyboard.press('Home');
  await expect(page.getByTestId('position-label')).toContainText(/low-level start \(t = \d+\)/);
  await expect(page.getByTestId('x0-0')).not.toHaveClass(/empty/);
  await page.keyboard.press('ArrowRight');
  await expect(page.getByTestId('position-label')).toContainText('step 1 of');
  const [rec] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-receipt').click()]);
  expect(parseReceipt(readFileSync((await rec.path())!, 'utf8'))).toMatchObject({ init: 'lowlevel', strength: 0.5 });
});
