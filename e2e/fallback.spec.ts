// Without --enable-unsafe-webgpu headless chromium has no WebGPU adapter: the studio must say so and
// run on WebAssembly.
import { expect, test } from '@playwright/test';

test.use({
  launchOptions: {
    executablePath: '/usr/bin/chromium',
    args: ['--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  },
});

test('falls back to WebAssembly with a banner', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto('/');
  await expect(page.getByTestId('backend')).toHaveText('wasm', { timeout: 60_000 });
  await expect(page.getByTestId('fallback-banner')).toContainText('WebGPU unavailable: running on WebAssembly (slower)');
  await expect(page.getByTestId('fallback-banner')).toContainText('no WebGPU adapter');
  await expect(page.getByTestId('model-card')).toBeVisible({ timeout: 120_000 });
  expect(errors).toEqual([]);
});
