// The layout docs/ARCHITECTURE.md promises, read from the sources: the converter wing is imported only by its CLI
// (and tests), and the fMRI/bundle readers in src/io/ depend on src/model/ for config types only.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return sources(p);
    return /\.tsx?$/.test(n) && !/\.test\.tsx?$/.test(n) ? [p] : [];
  });
}

/** Repository-relative paths that `file` imports (relative specifiers only). */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+'(\.{1,2}\/[^']+)'/gm)].map((m) =>
    relative('.', resolve(dirname(file), m[1])),
  );
}

describe('module structure', () => {
  const files = sources('src');

  it('only the convert CLI imports src/convert/ from outside it', () => {
    const offenders = files
      .filter((f) => !f.startsWith(join('src', 'convert')) && f !== join('src', 'cli', 'convert.ts'))
      .flatMap((f) =>
        imports(f)
          .filter((i) => i.startsWith(join('src', 'convert')))
          .map((i) => `${f} → ${i}`),
      );
    expect(offenders).toEqual([]);
  });

  it('src/io/ takes only config types from src/model/', () => {
    const offenders = files
      .filter((f) => f.startsWith(join('src', 'io')))
      .flatMap((f) =>
        imports(f)
          .filter((i) => i.startsWith(join('src', 'model')) && i !== join('src', 'model', 'config'))
          .map((i) => `${f} → ${i}`),
      );
    expect(offenders).toEqual([]);
  });

  it('finds the imports it checks (the check can fail)', () => {
    expect(imports(join('src', 'cli', 'convert.ts'))).toContain(join('src', 'convert', 'convert'));
  });
});
