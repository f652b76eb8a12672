// Markdown table of `npm run eval --json` reports: per sample (mean over samples) and, for models with several
// samples, the max over samples (the paper quotes both). Usage: node scripts/eval-table.mjs <dir> <name>...
import { readFileSync } from 'node:fs';

const [dir, ...names] = process.argv.slice(2);
const cols = [
  ['top1_50way', '50-way top-1'],
  ['pair2way_pcc', '2-way PCC'],
  ['pair2way_ssim', '2-way SSIM'],
  ['cnn_class_acc', 'CNN class'],
  ['class_acc', 'pixel-logistic class'],
  ['novelty_top1', 'novelty top-1'],
  ['novelty_percentile', 'novelty percentile'],
  ['pcc', 'PCC'],
  ['ssim', 'SSIM'],
];
const f = (v) => (typeof v === 'number' ? v.toFixed(3) : '–');
console.log(`| decoder | ${cols.map(([, n]) => n).join(' | ')} |`);
console.log(`|---|${cols.map(() => '---').join('|')}|`);
let ceiling;
for (const name of names) {
  const r = JSON.parse(readFileSync(`${dir}/${name}.json`, 'utf8'));
  ceiling = r.cnn_ceiling;
  const multi = r.details?.numSamples > 1;
  console.log(
    `| ${name}${multi ? ', mean / max over samples' : ''} | ${cols
      .map(([k]) => (multi && k !== 'pcc' && k !== 'ssim' ? `${f(r[k])} / ${f(r.max_over_samples?.[k])}` : f(r[k])))
      .join(' | ')} |`,
  );
}
console.log(`\nCNN ceiling (its accuracy on the true test images): ${f(ceiling)}`);
