import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, normalize, resolve } from 'node:path';
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

// COOP/COEP make the page cross-origin isolated (SharedArrayBuffer, wasm threads).
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { version: string };

/**
 * index.html carries the production CSP. The dev server needs an inline script (React refresh
 * preamble) and a websocket (HMR), so only there the policy is widened.
 */
function devCsp(): Plugin {
  return {
    name: 'studio-dev-csp',
    apply: 'serve',
    transformIndexHtml: (html) =>
      html.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'").replace("connect-src 'self'", "connect-src 'self' ws: wss:"),
  };
}

/**
 * The static server (sirv) labels every *.gz file `Content-Encoding: gzip`, so browsers hand fetch()
 * the decompressed bytes. A .nii.gz is a file, not a transfer encoding: serve *.gz files as stored
 * (no-transform keeps the compression middleware off them too), so their sha256 (decode receipts,
 * bundled-set detection) is the same as on disk.
 */
function gzFilesAsStored(): Plugin {
  const serveFrom = (dir: string) => (req: IncomingMessage, res: ServerResponse, next: () => void) => {
    const path = decodeURIComponent((req.url ?? '').split('?')[0]);
    if (!path.endsWith('.gz')) {
      next();
      return;
    }
    const file = join(dir, normalize(path));
    if (!file.startsWith(dir) || !existsSync(file) || !statSync(file).isFile()) {
      next();
      return;
    }
    res.setHeader('Content-Type', 'application/gzip');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    for (const [k, v] of Object.entries(isolation)) res.setHeader(k, v);
    createReadStream(file).pipe(res);
  };
  return {
    name: 'studio-gz-as-stored',
    configureServer: (server) => {
      server.middlewares.use(serveFrom(resolve(server.config.publicDir)));
    },
    configurePreviewServer: (server) => {
      server.middlewares.use(serveFrom(resolve(server.config.root, server.config.build.outDir)));
    },
  };
}

/**
 * WebAssembly threads: tfjs-backend-wasm starts its pthread workers from the source text of the threaded
 * emscripten factory (factory.toString()), which minification breaks. Its import of that factory resolves
 * to src/worker/wasmThreadedFactory.ts, which hands the workers the file's unminified source instead
 * (the reasons are written there). Needed for the build; the dev server's pre-bundled, unminified copy of
 * tfjs works either way.
 */
function tfjsWasmThreadsSource(): Plugin {
  const shim = resolve(import.meta.dirname, 'src/worker/wasmThreadedFactory.ts');
  return {
    name: 'studio-tfjs-wasm-threads-source',
    enforce: 'pre',
    resolveId: (source, importer) =>
      source === '../wasm-out/tfjs-backend-wasm-threaded-simd.js' &&
      importer?.replaceAll('\\', '/').includes('/@tensorflow/tfjs-backend-wasm/dist/')
        ? shim
        : null,
  };
}

export default defineConfig({
  plugins: [react(), devCsp(), gzFilesAsStored(), tfjsWasmThreadsSource()],
  define: { __APP_VERSION__: JSON.stringify(version) },
  server: { headers: isolation },
  preview: { headers: isolation },
  // config.plugins apply to worker bundles only in dev; the build's worker bundle needs its own.
  worker: { format: 'es', plugins: () => [tfjsWasmThreadsSource()] },
  build: { target: 'es2022', chunkSizeWarningLimit: 2000 },
});
