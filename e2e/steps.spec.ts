// Issue 12: every step count from 1 to the model's T (1000) runs; anything else is refused in the steps
// field, in words, before a run. Each edge of the field: typed, then either refused (Run disabled, the
// reason next to the field, nothing clamped) or accepted and run to the step count the field states.
import { expect, test, type Page } from '@playwright/test';
import { shot } from './shots';

const steps = (page: Page) => page.getByLabel('Steps', { exact: true });
const run = (page: Page) => page.getByRole('button', { name: 'Run' });
const status = (page: Page) => page.getByTestId('run-status');

test('steps field: 0, −1, empty and 2.5 refused in words; 1, 2, 3, 999 and 1000 run as stated', async ({ page }) => {
  test.setTimeout(900_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
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
  for (const [n, spacing, ts] of [[1, "the authors' uniform spacing", 't = 1.'], [2, "the authors' uniform spacing", 't = 501, 1.'],
    [3, "diffusers' trailing spacing", 't = 999, 666, 332.']] as const) {
    await steps(page).fill(String(n));
    await expect(page.getByTestId('steps-help')).toContainText(`${n} steps use ${spacing}`);
    await expect(page.getByTestId('steps-help')).toContainText(ts);
    await expect(steps(page)).not.toHaveAttribute('aria-invalid', 'true');
    await run(page).click();
    await expect(status(page)).toHaveText(`Done: ${n} steps`, { timeout: 240_000 });
    // The timeline's last step is the last stated timestep.
    const last = ts.replace(/^t = /, '').replace(/\.$/, '').split(', ').at(-1);
    await page.getByTestId('scrubber').press('End');
    await page.getByTestId('scrubber').press('ArrowLeft');
    await expect(page.getByTestId('scrubber')).toHaveAttribute('aria-valuetext', `step ${n} of ${n}, t = ${last}`);
  }

  // 999 and 1000 are accepted (trailing spacing, 1000 ends at t = 0); run from the low-level start at the
  // smallest strength the slider offers (0.05: t ≈ 50) so the run stays short, as the note states.
  await start.selectOption('lowlevel');
  const strength = page.getByLabel('Strength', { exact: true });
  await strength.focus();
  await strength.press('Home');
  await expect(page.getByTestId('strength-value')).toHaveText('0.05');
  for (const n of [999, 1000]) {
    await steps(page).fill(String(n));
    const help = page.getByTestId('steps-help');
    await expect(help).toContainText(`${n} steps use diffusers' trailing spacing`);
    const after = /the last (\d+) of them after the low-level start/.exec(await help.innerText());
    expect(after, await help.innerText()).not.toBeNull();
    const runs = Number(after![1]);
    expect(runs).toBeGreaterThan(40);
    expect(runs).toBeLessThan(60);
    await run(page).click();
    await expect(status(page)).toHaveText(`Done: ${runs} steps after the low-level start`, { timeout: 400_000 });
    await expect(help).toContainText('…, 0.');
  }
  await shot(page, 'steps-1000');
  expect(errors).toEqual([]);
});
