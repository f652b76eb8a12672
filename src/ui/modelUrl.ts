// ?model=<url>: the studio opens with the bundle at that URL instead of the embedded default (e.g. a published-size
// bundle served beside the app: `?model=/published-bundle/`). Checked before anything is fetched, so a mistyped
// value gets an error naming the parameter rather than a failed download.
import type { ModelSourceSpec } from '../engine/protocol';

/** What the page's query asks for: no model parameter, a bundle URL to load, or why the value is refused. */
export type ModelFromQuery =
  | { kind: 'none' }
  | { kind: 'load'; source: ModelSourceSpec & { kind: 'url' } }
  | { kind: 'error'; message: string };

/**
 * Reads `model` from a query string (location.search) against the page's address (location.href).
 * A relative value is resolved against the page; the result must be http(s), and on another origin https (the page's
 * content-security policy refuses plain http elsewhere). The base is kept as a folder URL (trailing slash).
 */
export function modelFromQuery(search: string, pageHref: string): ModelFromQuery {
  const q = new URLSearchParams(search);
  if (!q.has('model')) return { kind: 'none' };
  const all = q.getAll('model');
  if (all.length > 1) return { kind: 'error', message: `?model= is given ${all.length} times; give one bundle URL` };
  const raw = all[0].trim();
  if (!raw) return { kind: 'error', message: '?model= is empty; give the URL of a bundle folder (the one holding manifest.json)' };
  let url: URL;
  try {
    url = new URL(raw, pageHref);
  } catch {
    return { kind: 'error', message: `?model=${raw} is not a URL; give the URL of a bundle folder (the one holding manifest.json)` };
  }
  const page = new URL(pageHref);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { kind: 'error', message: `?model=${raw}: only http(s) URLs are loaded (found ${url.protocol})` };
  }
  if (url.origin !== page.origin && url.protocol !== 'https:') {
    return { kind: 'error', message: `?model=${raw}: bundles on other hosts must be served over https` };
  }
  if (url.username || url.password) return { kind: 'error', message: `?model=${raw}: URLs with a user name or password are not loaded` };
  url.hash = '';
  // A bundle is a folder: …/manifest.json given directly is taken as its folder.
  if (url.pathname.endsWith('/manifest.json')) url.pathname = url.pathname.slice(0, -'manifest.json'.length);
  if (!url.pathname.endsWith('/')) url.pathname = `${url.pathname}/`;
  return { kind: 'load', source: { kind: 'url', base: url.href, label: raw } };
}
