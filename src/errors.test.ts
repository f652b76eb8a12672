// Every error class in src/ derives from StudioError (src/errors.ts), and its code is its own class name: read from
// the sources, so a new hand-written `extends Error` or a code that drifted from its class fails here.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { errorClass, StudioError } from './errors';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return sources(p);
    return /\.tsx?$/.test(n) && !/\.test\.tsx?$/.test(n) ? [p] : [];
  });
}

describe('error classes', () => {
  const files = sources('src').map((f) => ({ f, s: readFileSync(f, 'utf8') }));

  it('none extends Error directly outside src/errors.ts', () => {
    const direct = files.filter(({ f, s }) => f !== join('src', 'errors.ts') && /class \w+ extends Error\b/.test(s));
    expect(direct.map(({ f }) => f)).toEqual([]);
  });

  it('each code is its class name', () => {
    const found: [string, string][] = [];
    for (const { s } of files) {
      for (const m of s.matchAll(/class (\w+) extends errorClass\(\s*'(\w+)'/g)) found.push([m[1], m[2]]);
      for (const m of s.matchAll(/class (\w+) extends StudioError \{[^]*?super\(\s*('(\w+)'|[^,]+),/g)) {
        found.push([m[1], m[3] ?? `(computed: ${m[2]})`]);
      }
    }
    expect(found.length).toBeGreaterThan(20);
    // EngineCallError re-raises the worker's error on the main thread under that error's own code.
    const wrong = found.filter(([cls, code]) => cls !== code && cls !== 'EngineCallError');
    expect(wrong).toEqual([]);
  });

  it('errorClass gives instanceof, name, code and the message prefix', () => {
    class DemoError extends errorClass('DemoError', 'demo: ') {}
    const e = new DemoError('broken', { cause: 1 });
    expect(e).toBeInstanceOf(StudioError);
    expect(e).toBeInstanceOf(Error);
    expect([e.name, e.code, e.message, e.cause]).toEqual(['DemoError', 'DemoError', 'demo: broken', 1]);
  });
});
