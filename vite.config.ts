import { readFileSync } from 'node:fs';
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
    transformIndexHtml: (html) => html
      .replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")
      .replace("connect-src 'self'", "connect-src 'self' ws: wss:"),
  };
}

/**
 * The static server (sirv) labels every *.gz file `Content-Encoding: gzip`, so browsers hand fetch()
 * the decompressed bytes. A .nii.gz is a file, not a transfer encoding: serve it as stored (and keep
 * the compression middleware off it), so its sha256 (decode receipts, bundled-set detection) is the
 * same as the file's on disk.
 */
function gzFilesAsStored(): Plugin {
  const middleware = (req: { url?: string }, res: { setHeader: (k: string, v: unknown) => unknown }, next: () => void) => {
    if (req.url && /\.gz(\?|$)/.test(req.url)) {
      const setHeader = res.setHeader.bind(res);
      res.setHeader = (k: string, v: unknown) => {
        const key = k.toLowerCase();
        if (key === 'content-encoding') return res;
        return setHeader(k, key === 'cache-control' ? `${String(v)}, no-transform` : v);
      };
      setHeader('Cache-Control', 'no-transform');
    }
    next();
  };
  return {
    name: 'studio-gz-as-stored',
    configureServer: (server) => { server.middlewares.use(middleware as never); },
    configurePreviewServer: (server) => { server.middlewares.use(middleware as never); },
  };
}

export default defineConfig({
  plugins: [react(), devCsp(), gzFilesAsStored()],
  define: { __APP_VERSION__: JSON.stringify(version) },
  server: { headers: isolation },
  preview: { headers: isolation },
  worker: { format: 'es' },
  build: { target: 'es2022', chunkSizeWarningLimit: 2000 },
});
