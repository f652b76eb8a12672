// npm run eval -- --data public/data/god-synth (--baseline ridge|shuffled | --model <bundle>) [--json out.json]
// Scores reconstructions of the 50 test images of the SYNTHETIC god-synth set (simulated responses,
// not brain data) with the authors' metrics (src/eval/metrics.ts), prints a table and writes JSON.
import { writeFile } from 'node:fs/promises';
import { parseArgs, usage, UsageError, type FlagSpec } from './args';
import { loadReferenceModels, loadSynthDataset, SYNTHETIC_LABEL, type SynthDataset } from '../eval/data';
import { runBaselines, testFmri, testGroundTruth, type BaselineName } from '../eval/baselines';
import { evaluateReconstructions, meanMetrics, type GreyImage, type PixelClassifier, type ReconstructionMetrics } from '../eval/metrics';
import { scoreSamples } from '../eval/samples';
import type { SamplerName } from '../engine/types';

const SPEC: Record<string, FlagSpec> = {
  data: { type: 'string', help: 'synthetic data set directory (meta.json, sbj_N.npz, images_32.npz, classifier.npz, pca64.npz)', default: 'public/data/god-synth' },
  subject: { type: 'number', help: 'subject N of sbj_N.npz (default: meta.json default_subject)' },
  model: { type: 'string', help: 'converted model bundle directory to evaluate, e.g. public/models/default' },
  baseline: { type: 'string', help: 'evaluate a reference decoder instead of a model', choices: ['ridge', 'shuffled'] },
  permutations: { type: 'number', help: 'shuffled control: number of random pairings averaged (one pairing alone moves by about ±0.05)', default: 10 },
  alpha: { type: 'string', help: "baselines: ridge penalty, a number or 'loo' (leave-one-out choice on the training set); 300 is the calibration reference of the data spec §3.9", default: '300' },
  steps: { type: 'number', help: 'model: sampler steps', default: 50 },
  sampler: { type: 'string', help: 'model: sampler', default: 'plms', choices: ['plms', 'ddim'] },
  eta: { type: 'number', help: 'model: DDIM eta (PLMS requires 0)', default: 0 },
  samples: { type: 'number', help: 'model: samples per fMRI; with >1 each metric is the mean over samples, and the pixel mean of the samples is scored too', default: 1 },
  seed: { type: 'number', help: 'model: sampler seed; shuffled baseline: permutation seed', default: 0 },
  backend: { type: 'string', help: 'model: tfjs backend', default: 'wasm', choices: ['wasm', 'cpu', 'webgpu'] },
  json: { type: 'string', help: 'write the results as JSON to this file' },
  help: { type: 'boolean', help: 'show this help' },
};

const CHANCE: Record<keyof Omit<ReconstructionMetrics, 'n_test'>, string> = {
  top1_50way: '0.02', pair2way_pcc: '0.50', pair2way_ssim: '0.50', class_acc: '0.10', pcc: '–', ssim: '–',
};

export interface EvalReport extends ReconstructionMetrics {
  method: string;
  data: 'synthetic';
  data_label: string;
  subject: number;
  details: Record<string, unknown>;
}

async function evaluateModel(ds: SynthDataset, gt: GreyImage[], clf: PixelClassifier,
  args: Record<string, unknown>): Promise<{ metrics: ReconstructionMetrics; sampleMean: ReconstructionMetrics | null; details: Record<string, unknown> }> {
  // Imported on demand so the baselines run without loading the engine.
  const { reconstructBatch } = await import('./reconstruct');
  const { initNodeBackend } = await import('./nodeBackend');
  await initNodeBackend(args.backend as 'wasm' | 'cpu' | 'webgpu');
  const numSamples = Number(args.samples);
  if (!Number.isInteger(numSamples) || numSamples < 1) throw new UsageError(`--samples must be a positive integer (got ${args.samples})`);
  const opts = { sampler: args.sampler as SamplerName, steps: Number(args.steps), seed: Number(args.seed), numSamples, eta: Number(args.eta) };
  const t0 = performance.now();
  const images = await reconstructBatch(String(args.model), testFmri(ds), {
    ...opts, onProgress: (d, t) => process.stderr.write(`\rdecoded ${d}/${t}`),
  });
  process.stderr.write('\n');
  const seconds = (performance.now() - t0) / 1000;
  const scores = scoreSamples(images, numSamples, gt, ds.testLabels, clf);
  return {
    metrics: scores.meanOverSamples, sampleMean: scores.sampleMean,
    details: { model: args.model, ...opts, seconds, per_sample: numSamples > 1 ? scores.perSample : undefined,
      sample_mean: scores.sampleMean ?? undefined },
  };
}

function table(r: EvalReport, sampleMean: ReconstructionMetrics | null): string {
  const num = (v: number): string => v.toFixed(3).padStart(11);
  const head = `  ${'metric'.padEnd(14)} ${(sampleMean ? 'per sample' : 'value').padStart(11)}${sampleMean ? ' sample mean' : ''}   ${'chance'.padStart(6)}`;
  const rows = (Object.keys(CHANCE) as (keyof typeof CHANCE)[])
    .map((k) => `  ${k.padEnd(14)} ${num(r[k])}${sampleMean ? ` ${num(sampleMean[k])}` : ''}   ${CHANCE[k].padStart(6)}`);
  const notes = sampleMean ? ['  per sample: each metric on every sample set, averaged (the authors\' protocol);',
    '  sample mean: the pixel mean of the samples scored as one reconstruction'] : [];
  return [`${r.data_label}`, `method ${r.method}, subject ${r.subject}, ${r.n_test} test images (trial-averaged)`,
    head, ...rows, ...notes].join('\n') + '\n';
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), SPEC);
  if (args.help) {
    process.stdout.write(usage('npm run eval --', '[--data <dir>] (--baseline ridge|shuffled | --model <bundle>) [options]', SPEC));
    return;
  }
  if (!args.model === !args.baseline) throw new UsageError('give exactly one of --model <bundle> or --baseline ridge|shuffled');
  const ds = await loadSynthDataset(String(args.data), { subject: args.subject as number | undefined });
  const refs = await loadReferenceModels(ds.dir, ds.meta);
  const gt = testGroundTruth(ds);
  let metrics: ReconstructionMetrics, details: Record<string, unknown>, method: string;
  let sampleMean: ReconstructionMetrics | null = null;
  if (args.baseline) {
    const name = args.baseline as BaselineName;
    const loo = args.alpha === 'loo';
    const alpha = Number(args.alpha);
    if (!loo && !(Number.isFinite(alpha) && alpha > 0)) throw new UsageError(`--alpha must be a positive number or 'loo' (got '${args.alpha}')`);
    const seed = Number(args.seed);
    const perms = name === 'shuffled' ? Number(args.permutations) : 1;
    if (!(Number.isInteger(perms) && perms >= 1)) throw new UsageError(`--permutations must be a positive integer (got ${args.permutations})`);
    const runs = Array.from({ length: perms }, (_, i) => runBaselines(ds, refs, [name], { seed: seed + i, alphas: loo ? undefined : [alpha] })[0]);
    metrics = meanMetrics(runs.map((run) => evaluateReconstructions(run.recons, gt, ds.testLabels, refs.classifier)));
    details = { alpha: runs.map((r) => r.alpha), alpha_choice: loo ? 'leave-one-out on the training set' : 'fixed',
      loo_mse: runs.map((r) => r.looMse), target: '64 image PCs (fitted on pretraining-pool images)',
      ...(name === 'shuffled' ? { seeds: runs.map((_, i) => seed + i), note: `mean over ${perms} random pairings` } : {}) };
    method = name === 'ridge' ? 'ridge→64 PCs' : 'ridge→64 PCs, shuffled pairing (control)';
  } else {
    ({ metrics, sampleMean, details } = await evaluateModel(ds, gt, refs.classifier, args));
    method = `model ${args.model}`;
  }
  const report: EvalReport = { method, data: 'synthetic', data_label: SYNTHETIC_LABEL, subject: ds.subject, ...metrics, details };
  process.stdout.write(table(report, sampleMean));
  if (args.json) await writeFile(String(args.json), JSON.stringify(report, null, 1) + '\n');
}

main().catch((e: unknown) => {
  const err = e as Error;
  process.stderr.write(`eval: ${err.name === 'UsageError' ? '' : `${err.name}: `}${err.message}\n`);
  if (err.name === 'UsageError') process.stderr.write(`run with --help for the options\n`);
  process.exit(err.name === 'UsageError' ? 2 : 1);
});
