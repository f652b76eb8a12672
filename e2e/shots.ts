// Full-page screenshots for the README: kept in test-results/ and copied to docs/screenshots/.
import type { Page } from '@playwright/test';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const shots = join(root, 'docs/screenshots');

export async function shot(page: Page, name: string): Promise<void> {
  const path = join(root, 'test-results', `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  mkdirSync(shots, { recursive: true });
  copyFileSync(path, join(shots, `${name}.png`));
}
