// Measures the built studio (dist/, served by vite preview) in Debian chromium: time to a chosen backend,
// time to a loaded model, and ms per step of the default run (the model's sampling defaults) on the test0
// sample. Not a test: it prints figures. Usage:
//   npx vite build && node scripts/measure-studio.mjs [--backend auto|webgpu|wasm] [--port 4199]
//       [--compare 'QUERY;QUERY;…' --rounds N] [--samples N]
// --samples: fill the Samples field before the run (default: the studio's own default, 1 sample).
// --compare: URL queries to measure side by side (an empty one is the default studio), e.g.
// 'wasmThreads=off;' for WebAssembly without against with threads; each round opens every one in turn (a
// fresh page each, the order rotating per round), so load from other jobs falls on all of them alike. It
// prints each page's figures, then per query the median, min and max ms per step and the ratio of medians
// to the first query.
import { spawn } from 'node:child_process';
import { chromium } from 'playwright';
import { chromiumLaunchOptions, setSwiftShaderEnv } from './chromium-webgpu.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const backend = arg('backend', 'auto');
const compare = arg('compare', null);
const rounds = Number(arg('rounds', 1));
const samples = arg('samples', null);
const queries = compare === null ? [''] : compare.split(';').map((q) => q.trim());
const port = Number(arg('port', process.env.E2E_PORT ?? 4199));
setSwiftShaderEnv();

const server = spawn('npx', ['vite', 'preview', '--host', '127.0.0.1', '--port', String(port), '--strictPort'], {
  stdio: 'ignore',
  detached: true,
});
const stop = () => {
  try {
    process.kill(-server.pid);
  } catch {
    /* gone */
  }
};
process.on('exit', stop);
for (let i = 0; ; i++) {
  try {
    if ((await fetch(`http://127.0.0.1:${port}/`)).ok) break;
  } catch {
    /* not yet */
  }
  if (i > 100) throw new Error('vite preview did not start');
  await new Promise((r) => setTimeout(r, 200));
}

const browser = await chromium.launch(chromiumLaunchOptions());
/** One page: open the studio with `query`, wait for the model, run the default decode on test0. */
async function measureOnce(query) {
  const page = await browser.newPage();
  try {
    if (backend !== 'auto') {
      await page.addInitScript((b) => localStorage.setItem('decoding-studio.backend', JSON.stringify({ override: b, cache: {} })), backend);
    }
    const t0 = Date.now();
    await page.goto(`http://127.0.0.1:${port}/${query ? `?${query}` : ''}`);
    await page.getByTestId('model-card').waitFor({ timeout: 300_000 });
    await page.getByTestId('model-status').filter({ hasText: 'Ready' }).waitFor({ timeout: 300_000 });
    const loadS = (Date.now() - t0) / 1000;
    const chosen = await page.getByTestId('backend').textContent();
    const threads = await page.getByTestId('backend').getAttribute('title');
    const reason = await page.getByTestId('backend-reason').textContent();
    await page.getByRole('button', { name: 'test0 .npy' }).click();
    await page.getByTestId('file-info').filter({ hasText: 'sample_test0.npy' }).waitFor({ timeout: 60_000 });
    if (samples !== null) await page.getByLabel('Samples', { exact: true }).fill(samples);
    const settings = await page.evaluate(() =>
      Array.from(document.querySelectorAll('.settings input, .settings select'))
        .map((e) => `${e.closest('.field')?.querySelector('label')?.textContent ?? '?'}=${e.value}`)
        .join(' '),
    );
    const t1 = Date.now();
    await page.getByRole('button', { name: 'Run' }).click();
    await page.getByTestId('run-status').filter({ hasText: /Done/ }).waitFor({ timeout: 600_000 });
    const runS = (Date.now() - t1) / 1000;
    const perStep = await page.getByTestId('ms-per-step').textContent();
    const status = await page.getByTestId('run-status').textContent();
    const note = (await page.getByTestId('wasm-threads').count()) ? await page.getByTestId('wasm-threads').textContent() : null;
    return {
      query,
      asked: backend,
      chosen,
      threads,
      note,
      reason,
      loadToReadyS: loadS,
      settings,
      runWallS: runS,
      msPerStep: perStep,
      status,
    };
  } finally {
    await page.close();
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

try {
  const steps = new Map(queries.map((q) => [q, []]));
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < queries.length; k++) {
      const q = queries[(k + r) % queries.length];
      const m = await measureOnce(q);
      console.log(JSON.stringify({ round: r + 1, ...m }, null, compare === null ? 1 : 0));
      steps.get(q).push(Number.parseFloat(m.msPerStep));
    }
  }
  if (compare !== null) {
    const base = median(steps.get(queries[0]));
    for (const q of queries) {
      const xs = steps.get(q);
      console.log(
        `${JSON.stringify(q || '(default)')}: ms/step median ${median(xs)}, min ${Math.min(...xs)}, max ${Math.max(...xs)} (n = ${xs.length}); ratio to ${JSON.stringify(queries[0] || '(default)')} ${(median(xs) / base).toFixed(2)}`,
      );
    }
  }
} finally {
  await browser.close();
  stop();
}
