// Without WebGPU the studio must say so and run on WebAssembly. WebGPU is removed explicitly (this
// browser is launched with it enabled): in the page by an init script, and in the engine worker, where
// the backend is chosen, by the same statement prepended to the worker's script.
import { expect, test } from '@playwright/test';
import { shot } from './shots';
import { setStrength } from './strength';

const REMOVE_GPU = `Object.defineProperty(Object.getPrototypeOf(navigator), 'gpu', { get: () => undefined, configurable: true });\n`;

test('falls back to WebAssembly with a banner, and decodes there', async ({ page }) => {
  test.setTimeout(300_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.addInitScript(REMOVE_GPU);
  let patched = 0;
  await page.route(/\/assets\/engine\.worker[^/]*\.js$/, async (route) => {
    const res = await route.fetch();
    patched++;
    await route.fulfill({ response: res, body: REMOVE_GPU + (await res.text()) });
  });
  await page.goto('/');
  await expect(page.getByTestId('backend')).toHaveText('wasm', { timeout: 60_000 });
  expect(patched).toBe(1);
  expect(await page.evaluate(() => 'gpu' in navigator && navigator.gpu !== undefined)).toBe(false);
  const banner = page.getByTestId('fallback-banner');
  await expect(banner).toBeVisible();
  await expect(banner).toContainText('WebGPU unavailable: running on WebAssembly.');
  await expect(page.getByTestId('model-card')).toBeVisible({ timeout: 120_000 });
  await expect(banner).toContainText('WebAssembly: the only usable backend (WebGPU: navigator.gpu is missing');
  await expect(page.getByTestId('backend-reason')).toContainText('the only usable backend');

  // A short decode on WebAssembly with two samples: both samples and their pixel mean, each scored.
  await page.getByRole('button', { name: 'test0 .npy' }).click();
  await expect(page.getByTestId('file-info')).toContainText('sample_test0.npy', { timeout: 60_000 });
  await page.getByLabel('Sampler', { exact: true }).selectOption('ddim');
  await page.getByLabel('Samples', { exact: true }).fill('2');
  // 3 steps: the authors' uniform list would end at t = 1000, so they run on the trailing spacing (issue 12),
  // t = 999, 666, 332; from the low-level start at strength 0.7 (set here, whatever the model's default) the run
  // starts at t = 666.
  await page.getByLabel('Steps', { exact: true }).fill('3');
  await setStrength(page, 0.7);
  await expect(page.getByTestId('steps-help')).toContainText('the last 2 of them after the low-level start: t = 666, 332.');
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByTestId('run-status')).toContainText('Done: 2 steps after the low-level start', { timeout: 120_000 });
  for (const id of ['x0-0', 'x0-1', 'x0-mean']) await expect(page.getByTestId(id)).not.toHaveClass(/empty/);
  await expect(page.getByTestId('metrics-mean')).toContainText(/PCC -?\d\.\d{3} · SSIM -?\d\.\d{3}/);
  await shot(page, 'studio-wasm-two-samples');
  expect(errors).toEqual([]);
});
