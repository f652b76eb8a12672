// Help where the terms are (issue 12): the "?" next to a control opens and closes from the keyboard, the
// help panel lists every term with the scores' chance levels, and the Real data page gives the commands.
import { expect, test } from '@playwright/test';
import { shot } from './shots';

test('help: keyboard-accessible tips, the terms panel with chance levels, the Real data page', async ({ page }) => {
  test.setTimeout(200_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto('/');
  await expect(page.getByTestId('model-card')).toBeVisible({ timeout: 120_000 });

  // A tip from the keyboard: focus, Enter opens, Escape closes and focus stays on the button.
  const tip = page.getByTestId('help-guidance');
  await expect(tip).toHaveAttribute('title', 'Help: Guidance scale');
  await tip.focus();
  await page.keyboard.press('Enter');
  await expect(tip).toHaveAttribute('aria-expanded', 'true');
  await expect(page.getByTestId('help-guidance-text')).toContainText('ε_u + g·(ε_c − ε_u)');
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('help-guidance-text')).toHaveCount(0);
  await expect(tip).toBeFocused();
  // Every decode control has one.
  for (const id of ['sampler', 'steps', 'eta', 'seed', 'samples', 'init', 'strength', 'guidance', 'backend', 'bundle']) {
    await expect(page.getByTestId(`help-${id}`)).toBeVisible();
  }

  // The ROI, wrap padding and score tips appear with a file / a run.
  await page.getByRole('button', { name: 'test0 .npy' }).click();
  await expect(page.getByTestId('file-info')).toContainText('sample_test0.npy', { timeout: 60_000 });
  await page.getByTestId('help-wrapPadding').click();
  await expect(page.getByTestId('help-wrapPadding-text')).toContainText('numpy.pad mode "wrap"');

  // The panel: opened by keyboard, focus on its heading, every section, chance levels; Escape closes it.
  await page.getByTestId('open-help').focus();
  await page.keyboard.press('Enter');
  const panel = page.getByTestId('help-panel');
  await expect(panel).toBeVisible();
  await expect(panel.getByRole('heading', { level: 2 })).toBeFocused();
  for (const term of [
    'ROI (region of interest)',
    'Wrap padding',
    'Predicted x̂₀',
    'x_t',
    'eta (η)',
    'Strength',
    'Guidance scale',
    '2-way identification',
  ]) {
    await expect(panel.getByRole('term').filter({ hasText: term }).first()).toBeVisible();
  }
  await expect(panel).toContainText('LVC: lower (early) visual cortex, V1–V3');
  await expect(panel).toContainText('SIMULATED data set');
  const chance = page.getByTestId('chance-levels');
  await expect(chance.getByRole('row', { name: /2-way identification/ })).toContainText('0.5');
  await expect(chance.getByRole('row', { name: /n-way identification/ })).toContainText('1/n');
  await shot(page, 'studio-help');
  await page.keyboard.press('Escape');
  await expect(panel).toHaveCount(0);

  // The Real data page: where the files come from and the exact commands.
  await page.getByTestId('open-real-data').click();
  const real = page.getByTestId('real-data');
  await expect(real).toContainText('npm run convert -- checkpoint_best.pth --out bundles/god-sbj3 --fp16');
  await expect(real).toContainText('npm run decode -- --model bundles/god-sbj3 --fmri sbj_3.npz --split test-avg');
  await expect(real).toContainText('npm run decode -- --model bundles/nsd-subj01 --fmri betas_session01.nii.gz --mask nsdgeneral.nii.gz');
  await expect(real.getByRole('link', { name: 'FigShare' }).first()).toHaveAttribute('href', 'https://figshare.com/s/94cd778e6afafb00946e');
  await expect(real.getByRole('heading', { name: /NSD/ })).toBeVisible();
  await shot(page, 'studio-real-data');
  expect(errors).toEqual([]);
});
