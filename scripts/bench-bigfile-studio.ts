// The studio's side of scripts/bench-bigfile.sh: the built studio (vite preview on E2E_PORT) opens the NSD-sized
// session with its mask through the file picker in Debian's Chromium; prints the time until the file is read
// and the peak resident memory of all the browser's processes (sampled every 50 ms from /proc), against the
// browser's idle footprint after the model loaded. Usage: npx tsx scripts/bench-bigfile-studio.ts BETAS MASK
import { chromium } from '@playwright/test';
import { execSync, spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { chromiumLaunchOptions } from './chromium-webgpu.mjs';
import { treeMemory } from './process-memory';

const [betas, mask] = process.argv.slice(2);
const port = Number(process.env.E2E_PORT ?? 4173);
const server = spawn('npx', ['vite', 'preview', '--host', '127.0.0.1', '--port', String(port), '--strictPort'], {
  stdio: 'ignore',
  detached: true,
});
await new Promise((r) => setTimeout(r, 4000));

const browser = await chromium.launch(chromiumLaunchOptions());
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.getByTestId('model-status').filter({ hasText: 'Ready' }).waitFor({ timeout: 240_000 });
  // The browser's processes: children of this node process named chromium.
  const pids = execSync(`pgrep -P ${process.pid} chromium || pgrep -P ${process.pid}`).toString().trim().split('\n').map(Number);
  // Resident memory of their process trees, in MB (MiB).
  const rss = () => treeMemory(pids).rss / 2 ** 20;
  const idle = rss();
  let peak = idle;
  const timer = setInterval(() => {
    peak = Math.max(peak, rss());
  }, 50);
  const t0 = performance.now();
  await page.getByTestId('fmri-input').setInputFiles([betas, mask]);
  await page.getByTestId('file-note').waitFor({ timeout: 600_000 });
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(timer);
  const note = await page.getByTestId('file-note').textContent();
  const size = statSync(betas).size;
  process.stdout.write(
    `${JSON.stringify({ seconds: +seconds.toFixed(1), browserIdleMB: Math.round(idle), browserPeakMB: Math.round(peak), addedMB: Math.round(peak - idle), fileMB: Math.round(size / 1e6), note })}\n`,
  );
} finally {
  await browser.close();
  process.kill(-server.pid!);
}
