// Dropping files on the studio from a test: the drag a user makes from the file manager, as DOM events.
import type { Page } from '@playwright/test';

/** Drops a text file named `name` (a decode receipt) on the page the way a user's drag does. */
export async function dropText(page: Page, name: string, text: string): Promise<void> {
  await page.evaluate(
    ([n, t]) => {
      const dt = new DataTransfer();
      dt.items.add(new File([t], n, { type: 'application/json' }));
      for (const type of ['dragenter', 'dragover', 'drop']) {
        document.body.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
      }
    },
    [name, text] as const,
  );
}
