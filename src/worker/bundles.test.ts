import { describe, expect, it } from 'vitest';
import { explainingFetch } from './bundles';

const page = 'http://127.0.0.1:4173';
const failing = (async () => {
  throw new TypeError('Failed to fetch');
}) as typeof fetch;

describe('explainingFetch', () => {
  it('says what another host must send when a cross-origin request fails', async () => {
    await expect(explainingFetch(failing, page)('https://models.example.org/b/manifest.json')).rejects.toThrow(
      /Failed to fetch.*https:\/\/models\.example\.org must send Access-Control-Allow-Origin \(CORS\) and Cross-Origin-Resource-Policy/,
    );
    await expect(explainingFetch(failing, page)('http://models.example.org/b/manifest.json')).rejects.toThrow(/must be served over https/);
    await expect(explainingFetch(failing, page)('/models/default/manifest.json')).rejects.toThrow(
      /network error or the server is unreachable/,
    );
  });

  it('passes answers and cancellations through', async () => {
    const ok = new Response('{}');
    await expect(explainingFetch((async () => ok) as typeof fetch, page)('https://x.org/m.json')).resolves.toBe(ok);
    const abort = new DOMException('aborted', 'AbortError');
    await expect(
      explainingFetch(
        (async () => {
          throw abort;
        }) as typeof fetch,
        page,
      )('https://x.org/m.json'),
    ).rejects.toBe(abort);
  });
});
