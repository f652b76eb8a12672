import { defineConfig } from '@playwright/test';
import { chromiumLaunchOptions } from './scripts/chromium-webgpu.mjs';

// E2E_PORT lets several checkouts of the repository run their e2e suites side by side.
const port = Number(process.env.E2E_PORT ?? 4173);

export default defineConfig({
  testDir: 'e2e',
  timeout: 300_000,
  workers: 1,
  reporter: 'list',
  outputDir: 'test-results/e2e',
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    browserName: 'chromium',
    screenshot: 'on',
    launchOptions: chromiumLaunchOptions(),
  },
  webServer: {
    // Build first: preview serves dist/, which would otherwise be whatever was built last (or nothing).
    // --logLevel error: the bundler's timing report is not a test result (a passing run reads as passing).
    command: `npx vite build --logLevel error && npx vite preview --host 127.0.0.1 --port ${port} --strictPort`,
    url: `http://127.0.0.1:${port}`,
    reuseExistingServer: false,
    timeout: 300_000,
  },
});
