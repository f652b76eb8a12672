// Full-page screenshots: every run writes them to test-results/screenshots/ (ignored by git), so a test run
// never changes tracked files. `npm run screenshots` (UPDATE_DOCS_SCREENSHOTS=1) also copies them to
// docs/screenshots/, the README's copies.
import type { Page } from '@playwright/test';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'test-results', 'screenshots');
const docs = join(root, 'docs', 'screenshots');

export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(out, { recursive: true });
  const path = join(out, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  if (process.env.UPDATE_DOCS_SCREENSHOTS === '1') {
    mkdirSync(docs, { recursive: true });
    copyFileSync(path, join(docs, `${name}.png`));
  }
}
