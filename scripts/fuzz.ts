// npm run fuzz -- [--n 10000] [--seed s] [--only name,name] [--hang-ms 20000] [--dump reader:index file]:
// every reader against n fast-check inputs (test/fuzz/harness.ts). Prints counts per reader and per outcome
// (ok, the typed error's class, CRASH for an untyped error, SLOW over 2 s, HANG for an input that never
// returned); exits 1 on any CRASH, SLOW or HANG.
//
// Each reader runs in a child process under a watchdog: an input that does not return within --hang-ms (code
// stuck in a loop inside WebAssembly cannot be interrupted from its own thread) is counted as a HANG, the
// child is killed, and a fresh child resumes at the next input (the plans are the same for the same seed).
// After an input that made WebAssembly trap inside HDF5 (it reads as a typed error, and HDF5 is unusable until a
// reload), a fresh child goes on too; those inputs are listed. Progress goes to stderr every 1,000 inputs. `--dump .h5:5736 out.h5` writes one input's bytes to a file.
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { hdf5Usable } from '../src/io/h5';
import { count, fuzzInput, fuzzOne, type FuzzStats, type InputResult, planText, plansFor, readers, warmUp } from '../test/fuzz/harness';

const argv = process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : fallback;
};
const n = Number(flag('n', '10000'));
const seed = Number(flag('seed', '11'));
const hangMs = Number(flag('hang-ms', '20000'));
const only = flag('only', '').split(',').filter(Boolean);
const LIMIT_MS = 2000;
if (!Number.isInteger(n) || n < 1 || !Number.isInteger(seed) || !(hangMs > LIMIT_MS))
  throw new Error('usage: npm run fuzz -- [--n 10000] [--seed s] [--only reader,reader] [--hang-ms ms > 2000] [--dump reader:index file]');

/** The child's exit code when HDF5 is unusable after an input (a reload of the page, for the studio). */
const RELOAD = 3;

type FromChild = { kind: 'start'; i: number } | { kind: 'done'; i: number; res: InputResult; rss: number };

/** Child: reads inputs `from`… of one reader, telling the parent before and after each. */
async function child(name: string, from: number): Promise<void> {
  const r = (await readers()).find((x) => x.name === name);
  if (!r) throw new Error(`no reader ${name}`);
  const plans = plansFor(n, seed);
  const send = (m: FromChild) => new Promise<void>((ok) => process.send!(m, () => ok()));
  await warmUp(r);
  for (let i = from; i < n; i++) {
    await send({ kind: 'start', i });
    const res = await fuzzOne(r, plans[i], LIMIT_MS);
    await send({ kind: 'done', i, res, rss: process.memoryUsage().rss });
    // WebAssembly trapped inside HDF5: the studio says to reload the page; here a fresh child goes on.
    if (!hdf5Usable()) process.exit(RELOAD);
  }
  process.disconnect();
}

/** Parent: one reader through children under the watchdog. */
async function run(name: string): Promise<FuzzStats & { hangs: number[]; slowAt: number[]; reloads: number[]; peakRss: number }> {
  const plans = plansFor(n, seed);
  const stats: FuzzStats & { hangs: number[]; slowAt: number[]; reloads: number[]; peakRss: number } = {
    reader: name,
    inputs: 0,
    counts: {},
    crashes: [],
    slow: 0,
    maxMs: 0,
    hangs: [],
    slowAt: [],
    reloads: [],
    peakRss: 0,
  };
  let next = 0;
  const self = fileURLToPath(import.meta.url);
  while (next < n) {
    next = await new Promise<number>((done, fail) => {
      const c = fork(self, [...argv, '--child', name, String(next)], { execArgv: process.execArgv, stdio: 'inherit' });
      let current = next;
      let timer: NodeJS.Timeout | undefined;
      let hung = false;
      c.on('message', (m: FromChild) => {
        if (m.kind === 'start') {
          current = m.i;
          timer = setTimeout(() => {
            hung = true;
            c.kill('SIGKILL');
          }, hangMs);
          return;
        }
        clearTimeout(timer);
        count(stats, m.res, plans[m.i]);
        if (m.res.outcome === 'SLOW') stats.slowAt.push(m.i);
        stats.peakRss = Math.max(stats.peakRss, m.rss);
        if (stats.inputs % 1000 === 0) process.stderr.write(`  ${name} ${stats.inputs}/${n}\n`);
      });
      c.on('exit', (code, signal) => {
        clearTimeout(timer);
        if (hung) {
          stats.hangs.push(current);
          count(stats, { outcome: 'HANG', ms: hangMs, message: `no result after ${hangMs} ms (input ${current})` }, plans[current]);
          done(current + 1);
        } else if (code === RELOAD) {
          stats.reloads.push(current);
          done(current + 1);
        } else if (code === 0 && stats.inputs >= n) done(n);
        else fail(new Error(`the ${name} child exited (${signal ?? code}) at input ${current}`));
      });
    });
  }
  return stats;
}

const childAt = argv.indexOf('--child');
const dump = flag('dump', '');
if (childAt >= 0) {
  await child(argv[childAt + 1], Number(argv[childAt + 2]));
} else if (dump) {
  const [name, index] = [dump.slice(0, dump.lastIndexOf(':')), Number(dump.slice(dump.lastIndexOf(':') + 1))];
  const r = (await readers()).find((x) => x.name === name);
  const out = argv[argv.indexOf('--dump') + 2];
  if (!r || !Number.isInteger(index) || index < 0 || index >= n || !out) throw new Error('usage: --dump reader:index file (index < n)');
  const plan = plansFor(n, seed)[index];
  writeFileSync(out, await fuzzInput(r, plan));
  process.stdout.write(`${name} input ${index} (plan ${planText(plan)}) written to ${out}\n`);
} else {
  let bad = 0;
  for (const r of await readers()) {
    if (only.length && !only.includes(r.name)) continue;
    const t0 = performance.now();
    const s = await run(r.name);
    const counts = Object.entries(s.counts)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    process.stdout.write(
      `${r.name.padEnd(16)} ${String(s.inputs).padStart(6)} inputs  ${((performance.now() - t0) / 1000).toFixed(1)} s  max ${s.maxMs.toFixed(0)} ms  ` +
        `peak RSS ${(s.peakRss / 2 ** 20).toFixed(0)} MiB  ${counts}\n`,
    );
    for (const c of s.crashes) process.stdout.write(`  ${c.message}\n    plan ${c.plan}\n`);
    if (s.reloads.length)
      process.stdout.write(
        `  WebAssembly trapped inside HDF5 at inputs ${s.reloads.join(', ')} (a typed error; HDF5 unusable until a reload)\n`,
      );
    if (s.slowAt.length) process.stdout.write(`  SLOW at inputs ${s.slowAt.slice(0, 20).join(', ')}\n`);
    if (s.hangs.length) process.stdout.write(`  HANG at inputs ${s.hangs.join(', ')} (--dump '${r.name}:${s.hangs[0]}' FILE writes one)\n`);
    bad += (s.counts.CRASH ?? 0) + s.slow + s.hangs.length;
  }
  process.stdout.write(`seed ${seed}; ${bad ? `${bad} crashes, slow inputs or hangs` : 'no crash, hang, slow input or untyped error'}\n`);
  process.exit(bad ? 1 : 0);
}
