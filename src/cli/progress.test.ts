import { describe, expect, it } from 'vitest';
import { progressLine } from './progress';

function capture(isTTY: boolean) {
  const out: string[] = [];
  return { out, stream: { isTTY, write: (t: string) => out.push(t) } };
}

describe('progressLine', () => {
  it('on a terminal rewrites one line and ends it once', () => {
    const { out, stream } = capture(true);
    const p = progressLine((d, t) => `decoded ${d}/${t}`, stream);
    for (let d = 1; d <= 3; d++) p.update(d, 3);
    p.end();
    expect(out.join('')).toBe('\rdecoded 1/3\rdecoded 2/3\rdecoded 3/3\n');
  });

  it('in a log writes whole lines, one per tenth reached, the last always', () => {
    const { out, stream } = capture(false);
    const p = progressLine((d, t) => `decoded ${d}/${t}`, stream);
    for (let d = 0; d <= 50; d++) p.update(d, 50);
    p.end();
    expect(out).toEqual([0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50].map((d) => `decoded ${d}/50\n`));
    expect(out.join('')).not.toContain('\r');
  });

  it('a zero total reports once', () => {
    const { out, stream } = capture(false);
    const p = progressLine(() => 'writing', stream);
    p.update(0, 0);
    p.update(0, 0);
    expect(out).toEqual(['writing\n']);
  });
});
