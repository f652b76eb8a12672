// npm run fuzz -- [--n 10000] [--seed s] [--only name,name]: every reader against n fast-check inputs
// (test/fuzz/harness.ts). Prints counts per reader and per outcome; exits 1 on any crash or slow input.
import { fuzzReader, readers } from '../test/fuzz/harness';

const argv = process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : fallback;
};
const n = Number(flag('n', '10000'));
const seed = Number(flag('seed', '11'));
const only = flag('only', '').split(',').filter(Boolean);
if (!Number.isInteger(n) || n < 1 || !Number.isInteger(seed))
  throw new Error('usage: npm run fuzz -- [--n 10000] [--seed s] [--only reader,reader]');

let bad = 0;
let peakRss = 0;
for (const r of await readers()) {
  if (only.length && !only.includes(r.name)) continue;
  const t0 = performance.now();
  const s = await fuzzReader(r, n, seed);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  const counts = Object.entries(s.counts)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  process.stdout.write(
    `${r.name.padEnd(16)} ${String(s.inputs).padStart(6)} inputs  ${((performance.now() - t0) / 1000).toFixed(1)} s  max ${s.maxMs.toFixed(0)} ms  ${counts}\n`,
  );
  for (const c of s.crashes) process.stdout.write(`  CRASH ${c.message}\n    plan ${c.plan}\n`);
  bad += (s.counts.CRASH ?? 0) + s.slow;
}
process.stdout.write(
  `seed ${seed}; peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB; ${bad ? `${bad} crashes or slow inputs` : 'no crash, hang or untyped error'}\n`,
);
process.exit(bad ? 1 : 0);
