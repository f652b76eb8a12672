import { describe, expect, it } from 'vitest';
import { progressLine } from './progress';

function capture(isTTY: boolean) {
  const out: string[] = [];
  return { out, stream: { isTTY, write: (t: string) => out.push(t) } };
}

describe('progressLine', () => {
  it('on a terminal rewrites one line and ends it once', () => {
    const { out, stream } = capture(true);
    const p = progressLine((d, t) => `decoded ${d}/${t}`, { stream });
    for (let d = 1; d <= 3; d++) p.update(d, 3);
    p.end();
    expect(out.join('')).toBe('\rdecoded 1/3\rdecoded 2/3\rdecoded 3/3\n');
  });

  it('in a log writes whole lines, one per tenth reached, the last always', () => {
    const { out, stream } = capture(false);
    const p = progressLine((d, t) => `decoded ${d}/${t}`, { stream });
    for (let d = 0; d <= 50; d++) p.update(d, 50);
    p.end();
    expect(out).toEqual([0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50].map((d) => `decoded ${d}/50\n`));
    expect(out.join('')).not.toContain('\r');
  });

  it('a zero total reports once', () => {
    const { out, stream } = capture(false);
    const p = progressLine(() => 'writing', { stream });
    p.update(0, 0);
    p.update(0, 0);
    expect(out).toEqual(['writing\n']);
  });

  it('on a terminal with ttyPercent rewrites only when the percentage crosses a step; end() writes nothing when nothing was', () => {
    const { out, stream } = capture(true);
    const p = progressLine((d) => `${d}`, { stream, ttyPercent: 10 });
    for (let d = 0; d <= 100; d++) p.update(d, 100);
    p.end();
    expect(out.join('')).toBe(`${[0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100].map((d) => `\r${d}`).join('')}\n`);
    const idle = capture(true);
    progressLine(() => 'x', { stream: idle.stream }).end();
    expect(idle.out).toEqual([]);
  });
});
