// ?model=<url> (src/ui/modelUrl.ts): the studio opens with the bundle at that URL instead of the embedded default
// (how scripts/bench-published-page.ts opens the published-size bundle); a bad value is an error in the model panel
// naming the parameter, and the page stays usable (the embedded default still loads by its button).
import { expect, test } from '@playwright/test';
import { watchErrors } from './pageErrors';

test('?model= loads the bundle at a same-origin path; a bad value is refused by name', async ({ page }) => {
  const errors = watchErrors(page);
  const requested: string[] = [];
  page.on('request', (r) => requested.push(new URL(r.url()).pathname));
  await page.goto('/?model=models/default/manifest.json');
  await expect(page.getByTestId('model-card')).toBeVisible({ timeout: 120_000 });
  await expect(page.getByTestId('model-status')).toHaveText('Ready: models/default/manifest.json');
  expect(requested).toContain('/models/default/manifest.json');
  expect(errors).toEqual([]);

  await page.goto('/?model=javascript:alert(1)');
  await expect(page.getByTestId('model-error')).toContainText('?model=javascript:alert(1): only http(s) URLs are loaded');
  await expect(page.getByTestId('model-status')).toHaveText('Not loaded');
  await page.getByRole('button', { name: 'Embedded default' }).click();
  await expect(page.getByTestId('model-status')).toHaveText('Ready: Embedded default', { timeout: 120_000 });

  await page.goto('/?model=/no-such-bundle/');
  await expect(page.getByTestId('model-error')).toContainText('manifest.json');
  await expect(page.getByTestId('model-error')).toContainText('/no-such-bundle/');
});
