import { describe, expect, it } from 'vitest';
import { modelFromQuery } from './modelUrl';

const page = 'http://127.0.0.1:4173/?x=1';

describe('?model= (modelFromQuery)', () => {
  it('no parameter: the embedded default', () => {
    expect(modelFromQuery('', page)).toEqual({ kind: 'none' });
    expect(modelFromQuery('?wasmThreads=off', page)).toEqual({ kind: 'none' });
  });

  it('a same-origin path, relative or absolute, becomes a folder URL', () => {
    expect(modelFromQuery('?model=/published-bundle', page)).toEqual({
      kind: 'load',
      source: { kind: 'url', base: 'http://127.0.0.1:4173/published-bundle/', label: '/published-bundle' },
    });
    const m = modelFromQuery('?model=models/default/manifest.json', page);
    expect(m.kind === 'load' && m.source.base).toBe('http://127.0.0.1:4173/models/default/');
    const h = modelFromQuery(`?model=${encodeURIComponent('https://example.org/b/?v=2#top')}`, page);
    expect(h.kind === 'load' && h.source.base).toBe('https://example.org/b/?v=2');
  });

  it('refuses other schemes, plain http elsewhere, credentials, empty and repeated values, naming the parameter', () => {
    for (const q of [
      '?model=',
      '?model=%20',
      '?model=javascript:alert(1)',
      '?model=data:text/plain,x',
      '?model=file:///etc/passwd',
      '?model=http://example.org/b/',
      '?model=https://u:p@example.org/b/',
      '?model=/a/&model=/b/',
      '?model=http://[::1',
    ]) {
      const m = modelFromQuery(q, page);
      expect(m.kind, q).toBe('error');
      expect(m.kind === 'error' && m.message, q).toMatch(/\?model=/);
    }
  });
});
