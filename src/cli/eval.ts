// npm run eval -- --data public/data/god-synth (--baseline ridge|shuffled | --model <bundle> [--baseline lowlevel]) [--json out.json]
// Scores reconstructions of the 50 test images of the SYNTHETIC god-synth set (simulated responses,
// not brain data) with the authors' metrics (src/eval/metrics.ts), prints a table and writes JSON.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DECODE_MODE_SPEC, decodeMode, parseArgs, usage, UsageError, type FlagSpec } from './args';
import { applyModelSampling, cliRunSettings, DEFAULTS_HELP, readBundleSampling, samplerFlagSpec, typedFlags } from './samplingDefaults';
import { DEFAULT_RUN_SETTINGS, MAX_SAMPLES } from '../engine/settings';
import { parseScale } from '../io/scale';
import { loadReferenceModels, loadSynthDataset, readCnnWeights, SYNTHETIC_LABEL, type SynthDataset } from '../eval/data';
import { derangement, runBaselines, testFmri, testGroundTruth, trainGallery, type BaselineName } from '../eval/baselines';
import { meanMetrics, type GreyImage, type PixelClassifier, type ReconstructionMetrics } from '../eval/metrics';
import { evaluateWithExtras, scoreSamples, type SampleScoreOptions } from '../eval/samples';
import { loadCnnClassifier, stackGrey } from '../eval/cnn';
import type { SamplerName } from '../engine/types';
import { progressLine } from './progress';

const SPEC: Record<string, FlagSpec> = {
  data: {
    type: 'string',
    help: 'synthetic data set directory (meta.json, sbj_N.npz, images_32.npz, classifier.npz, pca64.npz), or your own GOD-layout directory (sbj_N.npz + images_256.npz; --model only)',
    default: 'public/data/god-synth',
  },
  roi: { type: 'string', help: "GOD-layout directory: ROI mask of sbj_N.npz (default: the model's ROI)" },
  subject: { type: 'number', help: 'subject N of sbj_N.npz (default: meta.json default_subject)' },
  scale: {
    type: 'string',
    help: "multiply the fMRI values by this instead of the data set's own 'scale' member (e.g. 1/300); default: the member",
  },
  model: { type: 'string', help: 'converted model bundle directory to evaluate, e.g. public/models/default' },
  baseline: {
    type: 'string',
    help: "evaluate a reference decoder instead of a model; 'lowlevel' is the --model's own low-level decoder alone (its ridge image, no diffusion)",
    choices: ['ridge', 'shuffled', 'lowlevel'],
  },
  shuffle: {
    type: 'boolean',
    help: "model: the shuffled control through the model's whole path (low-level start and guidance included): each test image is decoded from another test image's fMRI (a derangement seeded by --seed)",
  },
  permutations: {
    type: 'number',
    help: 'shuffled control: number of random pairings averaged (one pairing alone moves by about ±0.05)',
    default: 10,
  },
  alpha: {
    type: 'string',
    help: "baselines: ridge penalty, a number or 'loo' (leave-one-out choice on the training set); 300 is the calibration reference of the data spec §3.9",
    default: '300',
  },
  ...samplerFlagSpec('model: '),
  samples: {
    type: 'number',
    default: DEFAULT_RUN_SETTINGS.numSamples,
    help: `model: samples per fMRI, 1 to ${MAX_SAMPLES}; with >1 each metric is the mean over samples, and the pixel mean of the samples is scored too`,
  },
  seed: { type: 'number', help: 'model: sampler seed; shuffled baseline: permutation seed', default: DEFAULT_RUN_SETTINGS.seed },
  ...Object.fromEntries(Object.entries(DECODE_MODE_SPEC).map(([k, s]) => [k, { ...s, help: `model: ${s.help}` }])),
  backend: {
    type: 'string',
    help: 'tfjs backend (the model, and the CNN of the CNN-class metric)',
    default: 'wasm',
    choices: ['wasm', 'cpu', 'webgpu'],
  },
  json: { type: 'string', help: 'write the results as JSON to this file' },
  help: { type: 'boolean', help: 'show this help' },
};

/** Table rows: metric key, printed name, chance level. */
const ROWS: [keyof ReconstructionMetrics, string, string][] = [
  ['top1_50way', '50-way top-1', '0.02'],
  ['pair2way_pcc', '2-way PCC', '0.50'],
  ['pair2way_ssim', '2-way SSIM', '0.50'],
  ['cnn_class_acc', 'CNN class', '0.10'],
  ['class_acc', 'pixel-logistic class', '0.10'],
  ['novelty_top1', 'novelty top-1', '0.0008'],
  ['novelty_percentile', 'novelty percentile', '0.50'],
  ['pcc', 'pcc', '–'],
  ['ssim', 'ssim', '–'],
];

export interface EvalReport extends ReconstructionMetrics {
  method: string;
  data: 'synthetic';
  data_label: string;
  subject: number;
  /** Per fMRI the best of its samples, then the mean over fMRI (equals the main figures for one sample). */
  max_over_samples: ReconstructionMetrics;
  /** The CNN's top-1 on the TRUE test images against the true labels: the ceiling of the CNN class column. */
  cnn_ceiling: number;
  details: Record<string, unknown>;
}

interface Scored {
  metrics: ReconstructionMetrics;
  maxOver: ReconstructionMetrics;
  sampleMean: ReconstructionMetrics | null;
  details: Record<string, unknown>;
}

async function evaluateModel(
  ds: SynthDataset,
  gt: GreyImage[],
  clf: PixelClassifier,
  extras: SampleScoreOptions,
  args: Record<string, unknown>,
): Promise<Scored> {
  // Imported on demand so the baselines run without loading the engine.
  const { reconstructBatch } = await import('./reconstruct');
  const opts = cliRunSettings({
    sampler: args.sampler as SamplerName,
    steps: Number(args.steps),
    seed: Number(args.seed),
    numSamples: Number(args.samples),
    eta: Number(args.eta),
    ...decodeMode(args),
  });
  const numSamples = opts.numSamples;
  const t0 = performance.now();
  const fmri = testFmri(ds);
  const pairing = args.shuffle ? derangement(fmri.length, Number(args.seed)) : undefined;
  const progress = progressLine((d, t) => `decoded ${d}/${t}`);
  const images = await reconstructBatch(String(args.model), pairing ? pairing.map((j) => fmri[j]) : fmri, {
    ...opts,
    onProgress: progress.update,
  });
  progress.end();
  const seconds = (performance.now() - t0) / 1000;
  const scores = await scoreSamples(images, numSamples, gt, ds.testLabels, clf, extras);
  return {
    metrics: scores.meanOverSamples,
    maxOver: scores.maxOverSamples,
    sampleMean: scores.sampleMean,
    details: {
      model: args.model,
      ...opts,
      seconds,
      ...(pairing ? { shuffled_pairing: pairing } : {}),
      per_sample: numSamples > 1 ? scores.perSample : undefined,
      sample_mean: scores.sampleMean ?? undefined,
    },
  };
}

function table(r: EvalReport, sampleMean: ReconstructionMetrics | null): string {
  const num = (v: number | undefined): string => (typeof v === 'number' ? v.toFixed(3) : '–').padStart(11);
  const multi = sampleMean !== null;
  const head = `  ${'metric'.padEnd(21)} ${(multi ? 'mean/sample' : 'value').padStart(11)}${multi ? ` ${'max/sample'.padStart(11)} sample mean` : ''}   ${'chance'.padStart(6)}`;
  const rows = ROWS.filter(([k]) => r[k] !== undefined).map(
    ([k, name, chance]) =>
      `  ${name.padEnd(21)} ${num(r[k] as number)}${multi ? ` ${num(r.max_over_samples[k] as number)} ${num(sampleMean[k] as number)}` : ''}   ${chance.padStart(6)}`,
  );
  const notes = [
    `  CNN class: ${r.cnn_n_way ?? 10}-way top-1 of the Fashion-MNIST CNN (eval_metrics.py n_way_top_k_acc), label = its class of the true image;`,
    `  ceiling: the CNN labels ${(100 * r.cnn_ceiling).toFixed(0)}% of the true test images correctly (${r.cnn_ceiling.toFixed(3)})`,
    ...(r.novelty_candidates
      ? [
          `  novelty: rank of the true image by PCC among ${r.novelty_candidates} candidates (test + training images; Shirakawa et al. 2024)`,
        ]
      : []),
    ...(multi
      ? [
          "  mean/sample: each metric on every sample set, averaged (the authors' protocol);",
          '  max/sample: per fMRI its best sample (correct when any sample is), averaged over fMRI;',
          '  sample mean: the pixel mean of the samples scored as one reconstruction',
        ]
      : []),
  ];
  return (
    [`${r.data_label}`, `method ${r.method}, subject ${r.subject}, ${r.n_test} test images (trial-averaged)`, head, ...rows, ...notes].join(
      '\n',
    ) + '\n'
  );
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), SPEC);
  if (args.help) {
    process.stdout.write(
      usage('npm run eval --', '[--data <dir>] (--baseline ridge|shuffled | --model <bundle> [--baseline lowlevel]) [options]', SPEC) +
        DEFAULTS_HELP,
    );
    return;
  }
  if (args.baseline === 'lowlevel' ? !args.model : !args.model === !args.baseline) {
    throw new UsageError('give exactly one of --model <bundle> or --baseline ridge|shuffled, or --baseline lowlevel with --model <bundle>');
  }
  if (args.shuffle && (!args.model || args.baseline))
    throw new UsageError('--shuffle applies to --model evaluation (use --baseline shuffled for ridge)');
  if (args.model && !args.baseline) {
    // Sampler settings not typed: the model's own (config.sampling), else the flag defaults.
    const fromModel = applyModelSampling(args, typedFlags(process.argv.slice(2)), await readBundleSampling(String(args.model)));
    if (fromModel.note) process.stderr.write(`${fromModel.note}\n`);
  }
  const scale = args.scale === undefined ? undefined : parseScale(String(args.scale));
  if (scale !== undefined && Number.isNaN(scale))
    throw new UsageError(`--scale ${String(args.scale)}: expected a non-zero number or fraction such as 1/300`);
  // issue 13: the user's own GOD-layout directory (no meta.json), scored against its own test images.
  if (!existsSync(join(String(args.data), 'meta.json'))) {
    const { evalGodLayout } = await import('./evalUser');
    await evalGodLayout(args, scale);
    return;
  }
  const ds = await loadSynthDataset(String(args.data), {
    subject: args.subject as number | undefined,
    ...(scale !== undefined ? { scale } : {}),
  });
  if (scale !== undefined) process.stderr.write(`fMRI values × scale ${scale} (given; the data set's own 'scale' member is not used)\n`);
  const refs = await loadReferenceModels(ds.dir, ds.meta);
  const gt = testGroundTruth(ds);
  // The CNN runs on the chosen tfjs backend for the baselines too (the model shares it).
  const { initNodeBackend } = await import('./nodeBackend');
  await initNodeBackend(args.backend as 'wasm' | 'cpu' | 'webgpu');
  const cnn = loadCnnClassifier(await readCnnWeights(ds.dir, ds.meta));
  const cnnGt = await cnn.classify(stackGrey(gt, cnn.imageSize), gt.length);
  const cnnCeiling = cnnGt.reduce((s, c, i) => s + (c === ds.testLabels[i] ? 1 : 0), 0) / gt.length;
  const extras: SampleScoreOptions = { cnn, gallery: trainGallery(ds) };
  let metrics: ReconstructionMetrics, maxOver: ReconstructionMetrics, details: Record<string, unknown>, method: string;
  let sampleMean: ReconstructionMetrics | null = null;
  if (args.baseline === 'lowlevel') {
    const { lowLevelBatch } = await import('./reconstruct');
    const images = await lowLevelBatch(String(args.model), testFmri(ds));
    const scores = await scoreSamples(images, 1, gt, ds.testLabels, refs.classifier, extras);
    ({ meanOverSamples: metrics, maxOverSamples: maxOver } = scores);
    details = {
      model: args.model,
      note: "the model's low-level decoder alone: ridge → 64 image PCs on the preprocessed fMRI, no diffusion",
    };
    method = `low-level decoder of ${args.model}`;
  } else if (args.baseline) {
    const name = args.baseline as BaselineName;
    const loo = args.alpha === 'loo';
    const alpha = Number(args.alpha);
    if (!loo && !(Number.isFinite(alpha) && alpha > 0))
      throw new UsageError(`--alpha must be a positive number or 'loo' (got '${args.alpha}')`);
    const seed = Number(args.seed);
    const perms = name === 'shuffled' ? Number(args.permutations) : 1;
    if (!(Number.isInteger(perms) && perms >= 1))
      throw new UsageError(`--permutations must be a positive integer (got ${args.permutations})`);
    const runs = Array.from(
      { length: perms },
      (_, i) => runBaselines(ds, refs, [name], { seed: seed + i, alphas: loo ? undefined : [alpha] })[0],
    );
    const scored: ReconstructionMetrics[] = [];
    for (const run of runs) scored.push(await evaluateWithExtras(run.recons, gt, ds.testLabels, refs.classifier, extras, cnnGt));
    metrics = meanMetrics(scored);
    maxOver = metrics; // one deterministic reconstruction per fMRI (the permutations are separate controls)
    details = {
      alpha: runs.map((r) => r.alpha),
      alpha_choice: loo ? 'leave-one-out on the training set' : 'fixed',
      loo_mse: runs.map((r) => r.looMse),
      target: '64 image PCs (fitted on pretraining-pool images)',
      ...(name === 'shuffled' ? { seeds: runs.map((_, i) => seed + i), note: `mean over ${perms} random pairings` } : {}),
    };
    method = name === 'ridge' ? 'ridge→64 PCs' : 'ridge→64 PCs, shuffled pairing (control)';
  } else {
    ({ metrics, maxOver, sampleMean, details } = await evaluateModel(ds, gt, refs.classifier, extras, args));
    method = `model ${args.model}${args.shuffle ? ', shuffled fMRI (control)' : ''}`;
  }
  cnn.dispose();
  const report: EvalReport = {
    method,
    data: 'synthetic',
    data_label: SYNTHETIC_LABEL,
    subject: ds.subject,
    ...metrics,
    max_over_samples: maxOver,
    cnn_ceiling: cnnCeiling,
    details,
  };
  process.stdout.write(table(report, sampleMean));
  if (args.json) await writeFile(String(args.json), JSON.stringify(report, null, 1) + '\n');
}

main().catch((e: unknown) => {
  const err = e as Error;
  process.stderr.write(`eval: ${err.name === 'UsageError' ? '' : `${err.name}: `}${err.message}\n`);
  if (err.name === 'UsageError') process.stderr.write(`run with --help for the options\n`);
  process.exit(err.name === 'UsageError' ? 2 : 1);
});
