// Without WebGPU the studio must say so and run on WebAssembly. WebGPU is removed explicitly (this
// browser is launched with it enabled): in the page by an init script, and in the engine worker, where
// the backend is chosen, by the same statement prepended to the worker's script.
import { expect, test } from '@playwright/test';

const REMOVE_GPU = `Object.defineProperty(Object.getPrototypeOf(navigator), 'gpu', { get: () => undefined, configurable: true });\n`;

test('falls back to WebAssembly with a banner', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.addInitScript(REMOVE_GPU);
  let patched = 0;
  await page.route(/\/assets\/engine\.worker[^/]*\.js$/, async (route) => {
    const res = await route.fetch();
    patched++;
    await route.fulfill({ response: res, body: REMOVE_GPU + await res.text() });
  });
  await page.goto('/');
  await expect(page.getByTestId('backend')).toHaveText('wasm', { timeout: 60_000 });
  expect(patched).toBe(1);
  expect(await page.evaluate(() => 'gpu' in navigator && navigator.gpu !== undefined)).toBe(false);
  const banner = page.getByTestId('fallback-banner');
  await expect(banner).toBeVisible();
  await expect(banner).toContainText('WebGPU unavailable: running on WebAssembly (slower)');
  await expect(banner).toContainText('webgpu: navigator.gpu is missing');
  await expect(page.getByTestId('model-card')).toBeVisible({ timeout: 120_000 });
  expect(errors).toEqual([]);
});
