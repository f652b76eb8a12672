// Issue 12: every step count from 1 to the model's T (1000) runs; anything else is refused in the steps
// field, in words, before a run. Each edge of the field: typed, then either refused (Run disabled, the
// reason next to the field, nothing clamped) or accepted and run to the step count the field states
// (999 and 1000 from the low-level start near t = 0, so that the run on SwiftShader stays short).
import { expect, test, type Page } from '@playwright/test';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeReceipt, receiptToJson } from '../src/engine/receipt';
import { dropText } from './drop';
import { root, shot } from './shots';

const steps = (page: Page) => page.getByLabel('Steps', { exact: true });
const run = (page: Page) => page.getByRole('button', { name: 'Run' });
const status = (page: Page) => page.getByTestId('run-status');

test('steps field: 0, −1, empty and 2.5 refused in words; 1, 2, 3, 999 and 1000 run as stated', async ({ page }) => {
  test.setTimeout(1_500_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto('/');
  await expect(page.getByTestId('model-card')).toBeVisible({ timeout: 180_000 });
  await page.getByRole('button', { name: 'test0 .npy' }).click();
  await expect(page.getByTestId('file-info')).toContainText('sample_test0.npy', { timeout: 60_000 });
  await expect(run(page)).toBeEnabled({ timeout: 60_000 });
  await page.getByLabel('Sampler', { exact: true }).selectOption('ddim');
  await page.getByLabel('Samples', { exact: true }).fill('1');
  await expect(page.getByTestId('defaults-reason')).toContainText('PLMS, the sampler of the paper');

  // Refused before a run: the reason in words next to the field, the text kept as typed, Run disabled.
  for (const [typed, reason] of [
    ['0', '0 steps cannot run (a run needs at least 1 step): enter a whole number from 1 to 1000.'],
    ['-1', '-1 steps cannot run (a run needs at least 1 step): enter a whole number from 1 to 1000.'],
    ['', 'Enter the number of steps: a whole number from 1 to 1000.'],
    ['2.5', '2.5 is not a whole number of steps: enter a whole number from 1 to 1000.'],
    ['1001', "1001 steps are more than this model's 1000 timesteps: enter a whole number from 1 to 1000."],
  ] as const) {
    await steps(page).fill(typed);
    await expect(page.getByTestId('steps-error')).toHaveText(reason);
    await expect(steps(page)).toHaveAttribute('aria-invalid', 'true');
    await expect(steps(page)).toHaveValue(typed);
    await expect(run(page)).toBeDisabled();
    // Enter in the form does not start a run either.
    await steps(page).press('Enter');
    await expect(status(page)).toHaveText('Ready to run.');
  }
  await shot(page, 'steps-refused');

  // Accepted and run from noise: 1 and 2 on the authors' uniform spacing, 3 on the trailing one.
  const start = page.getByLabel('Start', { exact: true });
  if (await start.isEnabled()) await start.selectOption('noise');
  for (const [n, spacing, ts] of [
    [1, "the authors' uniform spacing", 't = 1.'],
    [2, "the authors' uniform spacing", 't = 501, 1.'],
    [3, "diffusers' trailing spacing", 't = 999, 666, 332.'],
  ] as const) {
    await steps(page).fill(String(n));
    await expect(page.getByTestId('steps-help')).toContainText(`${n} steps use ${spacing}`);
    await expect(page.getByTestId('steps-help')).toContainText(ts);
    await expect(steps(page)).not.toHaveAttribute('aria-invalid', 'true');
    await run(page).click();
    // The status adds the scores when the sample has a ground truth (test0 has): "Done: 3 steps · PCC 0.512".
    await expect(status(page)).toHaveText(new RegExp(`^Done: ${n} step${n === 1 ? '' : 's'}( · PCC .*)?$`), { timeout: 400_000 });
    // The timeline's last step is the last stated timestep.
    const last = ts.replace(/^t = /, '').replace(/\.$/, '').split(', ').at(-1);
    await page.getByTestId('scrubber').press('End');
    await page.getByTestId('scrubber').press('ArrowLeft');
    await expect(page.getByTestId('scrubber')).toHaveAttribute('aria-valuetext', `step ${n} of ${n}, t = ${last}`);
  }

  // 999 and 1000 are accepted: typed, the field states the trailing spacing (ending at t = 0) and Run is enabled.
  for (const n of [999, 1000]) {
    await steps(page).fill(String(n));
    await expect(page.getByTestId('steps-help')).toContainText(`${n} steps use diffusers' trailing spacing`);
    await expect(page.getByTestId('steps-help')).toContainText(', …, 0.');
    await expect(run(page)).toBeEnabled();
  }
  // Run to the stated count on a tiny run: a receipt (as `npm run decode` writes them) from the low-level start at
  // strength 0.001 (t ≈ 1) keeps only the last steps of the list; its steps and strength reach the form unchanged.
  const modelSha = createHash('sha256')
    .update(readFileSync(join(root, 'public/models/default/manifest.json')))
    .digest('hex');
  const fmriSha = createHash('sha256')
    .update(readFileSync(join(root, 'public/data/god-synth/sample_test0.npy')))
    .digest('hex');
  for (const n of [999, 1000]) {
    const receipt = makeReceipt({
      appVersion: '0.1.0',
      model: { name: 'default-god-synth-sbj3', sha256: modelSha, synthetic: true },
      fmri: { fileName: 'sample_test0.npy', sha256: fmriSha, split: 'all', sampleIndex: 0 },
      sampler: 'ddim',
      steps: n,
      eta: 0,
      seed: 4,
      numSamples: 1,
      backend: 'webgpu',
      init: 'lowlevel',
      strength: 0.001,
      guidance: 1,
    });
    await dropText(page, `receipt-${n}.json`, receiptToJson(receipt));
    await expect(steps(page)).toHaveValue(String(n));
    const help = page.getByTestId('steps-help');
    await expect(help).toContainText(`${n} steps use diffusers' trailing spacing`);
    await expect(help).toContainText('the last 2 of them after the low-level start: t = 1, 0.');
    await run(page).click();
    await expect(status(page)).toHaveText(/^Done: 2 steps after the low-level start( · PCC .*)?$/, { timeout: 400_000 });
  }
  await shot(page, 'steps-1000');
  expect(errors).toEqual([]);
});
