// npm run bench:published-page (issue 15, item 3; a benchmark, not a test, not in CI): the published-size model
// (random weights, the authors' GOD sbj_3 shapes, fp16 bundle from scripts/make-published-bundle.ts) loaded by the
// built studio in Debian's Chromium through ?model=, on WebGPU (the override, as a user picks it under "Run on"),
// then one DDIM step of one sample decoded through the fused kernels. Prints the download bytes, the load time,
// tfjs's GPU memory counts (in use and allocated, with peaks), the page's memory (the browser's processes' resident
// memory, and performance.measureUserAgentSpecificMemory where it answers), the time per step, the machine and the
// versions; writes the same as JSON under .cache/bench-published-page/.
//
//   npm run bench:published-page -- [--weights auto|f16|f32] [--load-only] [--steps 1] [--no-build] [--port 4391]
//                                   [--timeout-min 90]
// --weights: how the device keeps the weights (?weights=; 'auto' packs the large matrices as f16 above 2 GiB of
// float32, which the published model is); --weights f32 --load-only measures the float32 weights' memory.
// On a software adapter (SwiftShader, 2 cores) expect tens of minutes: every shader pipeline is compiled at load.
import { chromium } from 'playwright';
import { execFileSync, execSync, spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { cpus, freemem, loadavg, tmpdir, totalmem } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import { parseArgs, usage, type FlagSpec } from '../src/cli/args';
import type { MemoryReport } from '../src/engine/protocol';
import { chromiumLaunchOptions, setSwiftShaderEnv } from './chromium-webgpu.mjs';
import { treeMemory } from './process-memory';

const SPEC: Record<string, FlagSpec> = {
  weights: { type: 'string', help: 'weights on the device (?weights=)', default: 'auto', choices: ['auto', 'f16', 'f32'] },
  'load-only': { type: 'boolean', help: 'load the model and measure memory, without decoding' },
  steps: { type: 'number', help: 'DDIM steps of the decode (1 sample)', default: 1 },
  'no-build': { type: 'boolean', help: 'serve the existing dist/ (default: vite build first)' },
  port: { type: 'number', help: 'port of the static server', default: Number(process.env.E2E_PORT ?? 4391) },
  bundle: {
    type: 'string',
    help: 'bundle folder (made by scripts/make-published-bundle.ts when missing)',
    default: '.cache/published-bundle',
  },
  'timeout-min': { type: 'number', help: 'limit for the load and for the decode, each, in minutes', default: 90 },
  help: { type: 'boolean', help: 'show this help' },
};

const args = parseArgs(process.argv.slice(2), SPEC);
if (args.help) {
  process.stdout.write(usage('npm run bench:published-page --', '[options]', SPEC));
  process.exit(0);
}
const root = resolve(import.meta.dirname, '..');
const bundleDir = resolve(root, String(args.bundle));
const dist = join(root, 'dist');
const port = Number(args.port);
const timeoutMs = Number(args['timeout-min']) * 60_000;
const steps = Number(args.steps);
if (!(Number.isInteger(steps) && steps >= 1)) throw new Error(`--steps must be a positive integer (got ${args.steps})`);
setSwiftShaderEnv();

const log = (s: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${s}`);
const mib = (b: number | undefined): string => (b === undefined ? '–' : `${(b / 2 ** 20).toFixed(0)} MiB`);

// ---- the bundle and the app -----------------------------------------------------------------------------------------
if (!existsSync(join(bundleDir, 'manifest.json'))) {
  log(`no bundle in ${bundleDir}: writing it (scripts/make-published-bundle.ts)`);
  execFileSync('npx', ['tsx', join(root, 'scripts/make-published-bundle.ts'), '--out', bundleDir], { stdio: 'inherit', cwd: root });
}
const manifest = JSON.parse(readFileSync(join(bundleDir, 'manifest.json'), 'utf8')) as {
  config: { name: string; description?: string; preprocess: { rawVoxels?: number }; encoder: { numVoxels: number } };
  dtype: string;
  shards: { nbytes: number }[];
  tensors: { shape: number[] }[];
};
const params = manifest.tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
const bundleBytes = manifest.shards.reduce((a, s) => a + s.nbytes, 0) + statSync(join(bundleDir, 'manifest.json')).size;
if (!args['no-build']) {
  log('vite build');
  execFileSync('npx', ['vite', 'build', '--logLevel', 'error'], { stdio: 'inherit', cwd: root });
}
if (!existsSync(join(dist, 'index.html'))) throw new Error('dist/index.html is missing: run without --no-build');

// ---- a static server: dist/ at /, the bundle at /published-bundle/, counting the bundle's bytes ----------------------
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain',
  '.md': 'text/markdown',
};
const served = { bundleBytes: 0, firstBundleByteAt: 0, lastBundleByteAt: 0 };
function serve(): Promise<Server> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]);
    const inBundle = path.startsWith('/published-bundle/');
    const base = inBundle ? bundleDir : dist;
    let file = join(base, normalize(inBundle ? path.slice('/published-bundle'.length) : path));
    if (!file.startsWith(base)) {
      res.writeHead(403).end();
      return;
    }
    if (!inBundle && (!existsSync(file) || statSync(file).isDirectory())) file = join(dist, 'index.html');
    if (!existsSync(file) || statSync(file).isDirectory()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Content-Length': statSync(file).size,
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Cache-Control': 'no-store',
    });
    const stream = createReadStream(file);
    if (inBundle) {
      stream.on('data', (chunk) => {
        served.bundleBytes += chunk.length;
        served.firstBundleByteAt ||= Date.now();
        served.lastBundleByteAt = Date.now();
      });
    }
    stream.pipe(res);
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok(server));
  });
}

/** A float32 .npy of one row of `n` values (the published model's 4643 voxels): the fMRI sample decoded. */
function npyRow(n: number): Buffer {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (1, ${n}), }`;
  header += ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const data = new Float32Array(n).map((_, i) => Math.sin(i * 0.37) + 0.1 * Math.cos(i * 0.011));
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer)]);
}

function machine(): Record<string, string | number> {
  const version = (cmd: string, a: string[]): string => {
    const r = spawnSync(cmd, a, { encoding: 'utf8' });
    return (r.stdout || r.stderr || '').trim().split('\n')[0];
  };
  const pkg = (name: string): string =>
    (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  return {
    cpu: cpus()[0]?.model ?? '?',
    cores: cpus().length,
    memoryGiB: +(totalmem() / 2 ** 30).toFixed(1),
    freeGiB: +(freemem() / 2 ** 30).toFixed(1),
    loadAverage: loadavg()
      .map((x) => x.toFixed(2))
      .join(' '),
    node: process.version,
    chromium: version('/usr/bin/chromium', ['--version']),
    tfjs: pkg('@tensorflow/tfjs-core'),
    tfjsWebgpu: pkg('@tensorflow/tfjs-backend-webgpu'),
    playwright: pkg('playwright'),
    app: (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version,
    commit: version('git', ['-C', root, 'rev-parse', '--short', 'HEAD']),
  };
}

// ---- the run ------------------------------------------------------------------------------------------------------------
const startedAt = new Date();
const result: Record<string, unknown> = {
  date: startedAt.toISOString(),
  what: `${manifest.config.name} (${manifest.dtype} bundle, ${(params / 1e6).toFixed(1)} M parameters): ${manifest.config.description ?? ''}`,
  weights: args.weights,
  machine: machine(),
};
const server = await serve();
// The e2e configuration's flags (scripts/chromium-webgpu.mjs), and no GPU watchdog: on a software adapter one dispatch
// of the published VQ decoder's convolutions can run for seconds.
const browser = await chromium.launch(chromiumLaunchOptions(['--disable-gpu-watchdog']));
const browserPids = execSync(`pgrep -P ${process.pid} chromium || pgrep -P ${process.pid} || true`)
  .toString()
  .trim()
  .split('\n')
  .filter(Boolean)
  .map(Number);
// The browser's memory: resident memory of its process trees (RSS and PSS), sampled.
const mem = (): { rss: number; pss: number } => treeMemory(browserPids, true);
const rss = (): number => mem().rss;
let peakRss = 0,
  peakPss = 0;
const sampler = setInterval(() => {
  const m = mem();
  peakRss = Math.max(peakRss, m.rss);
  peakPss = Math.max(peakPss, m.pss);
}, 1000);
try {
  const page = await browser.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') log(`page console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => log(`page error: ${e.message}`));
  await page.addInitScript(() => {
    if (location.protocol.startsWith('http'))
      localStorage.setItem('decoding-studio.backend', JSON.stringify({ override: 'webgpu', cache: {} }));
  });
  await page.goto('about:blank');
  const idle = mem();
  result.browserIdleRssBytes = idle.rss;
  result.browserIdlePssBytes = idle.pss;
  const url = `http://127.0.0.1:${port}/?model=/published-bundle/&testHooks=1&weights=${args.weights}`;
  log(`open ${url}`);
  const t0 = Date.now();
  await page.goto(url);
  const memory = (): Promise<MemoryReport> =>
    page.evaluate(() => (window as unknown as { __studioTest: { memory(): Promise<MemoryReport> } }).__studioTest.memory());
  const progress = setInterval(() => {
    void page
      .getByTestId('model-status')
      .textContent({ timeout: 1000 })
      .then((s) => log(`  ${s?.trim()} · bundle bytes served ${mib(served.bundleBytes)} · browser RSS ${mib(rss())}`))
      .catch(() => undefined);
  }, 60_000);
  try {
    await Promise.race([
      page.getByTestId('model-status').filter({ hasText: 'Ready' }).waitFor({ timeout: timeoutMs }),
      page
        .getByTestId('model-error')
        .waitFor({ timeout: timeoutMs })
        .then(async () => {
          throw new Error(`the model did not load: ${await page.getByTestId('model-error').textContent()}`);
        }),
    ]);
  } finally {
    clearInterval(progress);
  }
  const loadMs = Date.now() - t0;
  const afterDownloadMs = Date.now() - served.lastBundleByteAt;
  const backend = (await page.getByTestId('backend').textContent())?.trim();
  const afterLoad = await memory();
  Object.assign(result, {
    backend,
    choice: (await page.getByTestId('backend-reason').textContent())?.trim(),
    adapter: await page.evaluate(async () => {
      const a = await navigator.gpu?.requestAdapter();
      return a ? `${a.info.vendor}/${a.info.architecture} ${a.info.description}`.trim() : null;
    }),
    downloadBytes: served.bundleBytes,
    bundleBytes,
    downloadMs: served.lastBundleByteAt - served.firstBundleByteAt,
    loadMs,
    afterDownloadMs,
    deviceWeights: (await page.getByTestId('model-device-bytes').textContent())?.trim(),
    memoryAfterLoad: afterLoad,
    browserRssAfterLoadBytes: rss(),
    browserPssAfterLoadBytes: mem().pss,
  });
  log(`loaded in ${(loadMs / 1000).toFixed(1)} s on ${backend}; ${result.deviceWeights}; GPU in use ${mib(afterLoad.gpuBytesInUse)}`);
  if (backend !== 'webgpu') throw new Error(`the studio runs on ${backend}, not WebGPU`);

  if (!args['load-only']) {
    const dir = join(tmpdir(), `published-page-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    const npy = join(dir, 'published-sample.npy');
    writeFileSync(npy, npyRow(manifest.config.preprocess.rawVoxels ?? manifest.config.encoder.numVoxels));
    await page.getByTestId('fmri-input').setInputFiles(npy);
    await page.getByTestId('file-info').filter({ hasText: 'published-sample.npy' }).waitFor({ timeout: 120_000 });
    await page.getByLabel('Sampler').selectOption('ddim');
    await page.getByLabel('Steps', { exact: true }).fill(String(steps));
    await page.getByLabel('Samples', { exact: true }).fill('1');
    const runButton = page.getByRole('button', { name: 'Run', exact: true });
    await runButton.waitFor({ state: 'visible' });
    await page.waitForFunction(() => !(document.querySelector('button[type=submit].primary') as HTMLButtonElement | null)?.disabled, null, {
      timeout: 120_000,
    });
    log(`decode: DDIM ${steps} step(s), 1 sample`);
    const t1 = Date.now();
    await runButton.click();
    await Promise.race([
      page.getByTestId('run-status').filter({ hasText: /Done/ }).waitFor({ timeout: timeoutMs }),
      page
        .locator('[data-testid=run-status][role=alert]')
        .waitFor({ timeout: timeoutMs })
        .then(async () => {
          throw new Error(`the run failed: ${await page.getByTestId('run-status').textContent()}`);
        }),
    ]);
    const runMs = Date.now() - t1;
    Object.assign(result, {
      steps,
      runWallMs: runMs,
      msPerStep: (await page.getByTestId('ms-per-step').textContent())?.trim(),
      runStatus: (await page.getByTestId('run-status').textContent())?.trim(),
      memoryAfterRun: await memory(),
    });
    log(`decoded in ${(runMs / 1000).toFixed(1)} s; ms/step ${result.msPerStep}`);
  }
  result.pageMemory = await page
    .evaluate(async () => {
      const p = performance as Performance & { measureUserAgentSpecificMemory?: () => Promise<{ bytes: number }> };
      if (!p.measureUserAgentSpecificMemory || !crossOriginIsolated) return null;
      const m = await Promise.race([p.measureUserAgentSpecificMemory(), new Promise<null>((r) => setTimeout(() => r(null), 60_000))]);
      return m ? m.bytes : null;
    })
    .catch(() => null);
} catch (e) {
  result.error = (e as Error).message;
  log(`FAILED: ${(e as Error).message}`);
  process.exitCode = 1;
} finally {
  clearInterval(sampler);
  const end = mem();
  result.browserPeakRssBytes = Math.max(peakRss, end.rss);
  result.browserPeakPssBytes = Math.max(peakPss, end.pss);
  result.finishedAt = new Date().toISOString();
  result.loadAverageAtEnd = loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  await browser.close();
  server.close();
}

const out = join(root, '.cache/bench-published-page');
mkdirSync(out, { recursive: true });
const file = join(out, `result-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify(result, null, 1)}\n`);
const m = result.machine as Record<string, string | number>;
const ml = result.memoryAfterLoad as MemoryReport | undefined;
const mr = result.memoryAfterRun as MemoryReport | undefined;
const rows: [string, string][] = [
  ['date', String(result.date)],
  ['machine', `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB; load average ${m.loadAverage} → ${result.loadAverageAtEnd}`],
  [
    'versions',
    `node ${m.node}, ${m.chromium}, tfjs ${m.tfjs} (webgpu ${m.tfjsWebgpu}), playwright ${m.playwright}, app ${m.app} @ ${m.commit}`,
  ],
  ['model', String(result.what)],
  ['backend', `${result.backend ?? '–'} on ${result.adapter ?? '?'} (${result.choice ?? ''})`],
  ['weights on the device', `${result.deviceWeights ?? '–'} (?weights=${result.weights})`],
  [
    'download',
    `${mib(result.downloadBytes as number)} served (bundle ${mib(bundleBytes)}) in ${((result.downloadMs as number) / 1000).toFixed(1)} s`,
  ],
  [
    'load (page open → model ready)',
    result.loadMs
      ? `${((result.loadMs as number) / 1000).toFixed(1)} s, of which ${((result.afterDownloadMs as number) / 1000).toFixed(1)} s after the last byte (weights to the GPU, re-layout, packing, shader compilation)`
      : '–',
  ],
  ['GPU memory after load (tfjs: in use / allocated)', `${mib(ml?.gpuBytesInUse)} / ${mib(ml?.gpuBytesAllocated)}`],
  ['GPU memory peak (tfjs: in use / allocated)', `${mib((mr ?? ml)?.peakGpuBytesInUse)} / ${mib((mr ?? ml)?.peakGpuBytesAllocated)}`],
  ['page memory (measureUserAgentSpecificMemory)', mib((result.pageMemory as number | null) ?? undefined)],
  [
    "browser processes' PSS (idle / after load / peak)",
    `${mib(result.browserIdlePssBytes as number)} / ${mib(result.browserPssAfterLoadBytes as number)} / ${mib(result.browserPeakPssBytes as number)}`,
  ],
  [
    "browser processes' RSS summed (idle / after load / peak)",
    `${mib(result.browserIdleRssBytes as number)} / ${mib(result.browserRssAfterLoadBytes as number)} / ${mib(result.browserPeakRssBytes as number)}`,
  ],
  [
    'decode',
    result.runWallMs ? `DDIM ${steps} step(s), 1 sample: ${((result.runWallMs as number) / 1000).toFixed(1)} s wall, Run → Done` : '–',
  ],
  ['time per step (studio: ms / step)', String(result.msPerStep ?? '–')],
];
if (result.error) rows.push(['error', String(result.error)]);
for (const [k, v] of rows) console.log(`${k.padEnd(50)} ${v}`);
console.log(`(JSON: ${file})`);
