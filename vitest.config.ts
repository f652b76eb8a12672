import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';
import { playwright } from '@vitest/browser-playwright';
import { chromiumLaunchOptions } from './scripts/chromium-webgpu.mjs';
import { captureLibraryNoise } from './test/libraryNoise.js';

export default defineConfig({
  plugins: [react()],
  test: {
    // Expected library diagnostics go to a log, not the terminal (test/libraryNoise.ts).
    onConsoleLog: captureLibraryNoise('test-results/library-diagnostics.log'),
    testTimeout: 120_000,
    hookTimeout: 300_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          environment: 'node',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['**/*.browser.test.ts'],
          setupFiles: ['./test/setup-webgpu.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['src/**/*.browser.test.ts', 'test/**/*.browser.test.ts'],
          globalSetup: ['./test/globalSetup.golden.ts'],
          // Whole trajectories on SwiftShader (a CPU) take one to two minutes each, and share 2 cores with the
          // node project's parity tests: 120 s was hit once on a loaded machine.
          testTimeout: 400_000,
          browser: {
            enabled: true,
            headless: true,
            instances: [{ browser: 'chromium' }],
            provider: playwright({ launchOptions: chromiumLaunchOptions() }),
          },
        },
      },
    ],
  },
});
