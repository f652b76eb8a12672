// Resident memory of process trees, read from `ps` and /proc (Linux): the browser's memory in the benchmarks that
// drive Chromium (scripts/bench-published-page.ts, scripts/bench-bigfile-studio.ts).
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Proportional set size of a process (shared pages split among their users), or 0 when it cannot be read. */
function pssBytes(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Resident memory of the processes `roots` and all their descendants, in bytes, from one `ps` snapshot: `rss` sums
 * each process's RSS (shared memory counted in every process that maps it); `pss` splits it (read from /proc only
 * when `withPss`, as it costs a file read per process; 0 otherwise).
 */
export function treeMemory(roots: readonly number[], withPss = false): { rss: number; pss: number } {
  const ps = execSync('ps -e -o pid=,ppid=,rss=')
    .toString()
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number));
  const kids = new Map<number, number[]>();
  for (const [pid, ppid] of ps) kids.set(ppid, [...(kids.get(ppid) ?? []), pid]);
  const rssKiB = new Map(ps.map(([pid, , r]) => [pid, r]));
  let rss = 0,
    pss = 0;
  const stack = [...roots];
  while (stack.length) {
    const p = stack.pop()!;
    rss += (rssKiB.get(p) ?? 0) * 1024;
    if (withPss) pss += pssBytes(p);
    stack.push(...(kids.get(p) ?? []));
  }
  return { rss, pss };
}
