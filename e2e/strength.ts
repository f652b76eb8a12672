import { expect, type Page } from '@playwright/test';

/**
 * Sets the Strength slider from the keyboard (End = 1, then 0.05 per ArrowLeft), so a spec's step list does not
 * depend on the strength the shipped model chose on validation data (its config.sampling).
 */
export async function setStrength(page: Page, strength: number): Promise<void> {
  const slider = page.getByLabel('Strength', { exact: true });
  await slider.focus();
  await page.keyboard.press('End');
  for (let i = 0; i < Math.round((1 - strength) / 0.05); i++) await page.keyboard.press('ArrowLeft');
  await expect(page.getByTestId('strength-value')).toHaveText(strength.toFixed(2));
}
