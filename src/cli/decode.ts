// npm run decode -- --model <bundle-dir> --fmri <file> --out <dir> [...]: reconstructs images from one
// fMRI sample with the same pipeline as the studio, printing a progress line per step.
import { readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { DECODE_MODE_SPEC, decodeMode, parseArgs, usage, UsageError, type FlagSpec } from './args';
import { applyModelSampling, cliRunSettings, DEFAULTS_HELP, readBundleSampling, samplerFlagSpec } from './samplingDefaults';
import { chooseNodeBackend, initNodeBackend } from './nodeBackend';
import { loadModelFromDir } from './nodeModel';
import { formatScores, groundTruthFor, scoreImages } from './groundTruth';
import { conditioningResult, decodeLatents, decodeSteps, decodeTimesteps } from '../engine/pipeline';
import { latentShape } from '../model/config';
import { compareWithTruth, FMRI_INPUT_SPEC, readFmriInputs, readTruthFile, refuseExtraArguments } from './fmriInputs';
import { voxelMismatch } from '../io/modelFit';
import { inModelOrder } from '../io/voxelOrder';
import { FmriShapeError } from '../model/preprocess';
import { parseScale } from '../io/scale';
import { npyToFloat32, readNpy, writeNpy } from '../io/npy';
import { encodePng, toRgb8 } from '../io/png';
import { checkReceiptTimesteps, makeReceipt, parseReceipt, receiptArgs, receiptToJson, type DecodeReceipt } from '../engine/receipt';
import { DEFAULT_RUN_SETTINGS, MAX_SAMPLES, stepPlan, type RunSettings } from '../engine/settings';
import type { BackendName, DecodeOptions, ImageBatch } from '../engine/types';
import { EXPLAIN_SPEC, prepareExplain } from './explainArgs'; // issue 14
import { progressLine } from './progress';

/** The app version in receipts, as the studio writes it (package.json). */
const APP_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const SPEC: Record<string, FlagSpec> = {
  model: { type: 'string', help: 'converted bundle directory (manifest.json + shards)', default: 'public/models/default' },
  // fMRI inputs (issue 13): files, folder, order, stimulus list, mask, scale/convention, dataset, split, roi
  ...FMRI_INPUT_SPEC,
  truth: {
    type: 'string',
    help: "ground-truth images: GOD's images_256.npz layout (train_images/test_images), an .npz/.npy [N,H,W(,3)] uint8, or a folder of images converted by scripts/bold5000_images.py; written as truth.png and compared",
  },
  sample: { type: 'number', help: 'sample (row / trial / volume) index in the file', default: 0 },
  ...samplerFlagSpec(),
  ...DECODE_MODE_SPEC,
  noise: { type: 'string', help: 'x_T as .npy [n,C,h,w] instead of a seed' },
  samples: { type: 'number', help: `samples drawn from the same fMRI, 1 to ${MAX_SAMPLES}`, default: DEFAULT_RUN_SETTINGS.numSamples },
  backend: {
    type: 'string',
    help: "tfjs backend; auto: the faster of webgpu and wasm by a probe at the model's shape, as in the studio",
    default: 'auto',
    choices: ['auto', 'wasm', 'cpu', 'webgpu'],
  },
  out: { type: 'string', help: 'output directory' },
  data: {
    type: 'string',
    default: 'public/data/god-synth',
    help: "data set whose files have ground truth: when --fmri is one of its files (sha256 listed in its meta.json), PCC, SSIM and the CNN's class of each image are printed and written to metrics.json",
  },
  dump: {
    type: 'boolean',
    help: 'also write every stage as .npy (preprocessed fMRI, encoder output, conditioning, per-step x_t/eps/x0, final latent, images; with --init lowlevel the low-level pixels, latent and start latent)',
  },
  receipt: {
    type: 'string',
    help: 'replay a decode receipt (JSON from the studio): sampler, steps, eta, seed, samples, init, strength, guidance, sample index',
  },
  ...EXPLAIN_SPEC, // issue 14: --attention-maps and the counterfactual flags (src/cli/explainArgs.ts)
  help: { type: 'boolean', help: 'show this help' },
};

const stack = (arrays: Float32Array[]): Float32Array => {
  const out = new Float32Array(arrays.reduce((a, x) => a + x.length, 0));
  let o = 0;
  for (const a of arrays) {
    out.set(a, o);
    o += a.length;
  }
  return out;
};

/** A readable file's bytes, or a UsageError naming the flag. */
async function readInput(flag: string, path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    throw new UsageError(`--${flag} ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const args = parseArgs(argv, SPEC);
  if (args.help) {
    process.stdout.write(
      usage('npm run decode --', '--fmri <file or folder> [--fmri <file> …] --out <dir> [options]', SPEC) + DEFAULTS_HELP,
    );
    return;
  }
  refuseExtraArguments(args);
  const typed = new Set(argv.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=')[0]));
  let receipt: DecodeReceipt | undefined;
  if (args.receipt) {
    receipt = parseReceipt(new TextDecoder().decode(await readInput('receipt', String(args.receipt))));
    // The receipt's settings, except where a flag was typed explicitly.
    for (const [k, v] of Object.entries(receiptArgs(receipt))) if (!typed.has(k)) args[k] = v as string | number;
  }
  if (!args.fmri) throw new UsageError('--fmri <file or folder> is required');
  if (!args.out) throw new UsageError('--out <dir> is required');
  // Sampler settings not typed: the receipt's, else the model's own (config.sampling), else the flag defaults.
  const given = new Set([...typed, ...(receipt ? Object.keys(receiptArgs(receipt)) : [])]);
  const fromModel = applyModelSampling(args, given, await readBundleSampling(String(args.model)));
  if (fromModel.note) process.stderr.write(`${fromModel.note}\n`);
  const noise = args.noise ? readNpy(await readInput('noise', String(args.noise))) : undefined;
  if (noise && typed.has('samples') && Number(args.samples) !== noise.shape[0]) {
    throw new UsageError(`--noise holds ${noise.shape[0]} sample(s) but --samples is ${args.samples}`);
  }
  const mode = decodeMode(args);
  // Checked before anything slow happens; the step bound again once the model (its schedule) is loaded.
  const settings: RunSettings = cliRunSettings({
    sampler: args.sampler as RunSettings['sampler'],
    steps: Number(args.steps),
    eta: Number(args.eta),
    seed: Number(args.seed),
    numSamples: noise ? noise.shape[0] : Number(args.samples),
    ...mode,
  });
  // Every file read (progress on stderr), what was recognised printed, the digests kept for the receipt.
  const input = await readFmriInputs(args, (line) => process.stderr.write(`${line}\n`));
  let file = input.file;
  const truth = args.truth ? await readTruthFile(String(args.truth)) : undefined;
  const scale = args.scale === undefined ? undefined : parseScale(String(args.scale));
  const index = Number(args.sample);
  // A sample the file does not have is refused before the model loads (which takes seconds), with the file's count.
  if (!Number.isInteger(index) || index < 0 || index >= file.samples) {
    const range = file.samples === 1 ? 'only sample 0' : `samples 0 to ${file.samples - 1}`;
    throw new UsageError(`--sample ${args.sample}: ${input.name} (split '${file.split}') has ${range}`);
  }
  if (receipt && receipt.fmri.sha256 !== input.sha256) {
    process.stderr.write(`warning: ${input.name} is not the input the receipt was made from (${receipt.fmri.fileName}, sha256 differs)\n`);
  }

  const backend =
    args.backend === 'auto' ? await chooseNodeBackend(String(args.model)) : await initNodeBackend(args.backend as BackendName);
  const loading = progressLine((done, total) => `loading model ${(done / 2 ** 20).toFixed(1)}/${(total / 2 ** 20).toFixed(1)} MiB`);
  const model = await loadModelFromDir(String(args.model), loading.update);
  loading.end();
  if (receipt && receipt.model.sha256 !== model.card.sha256) {
    process.stderr.write(`warning: the model is not the one the receipt was made with (${receipt.model.name}, sha256 differs)\n`);
  }
  // Without --roi, use the model's ROI when the file carries that mask (GOD-layout files carry several).
  const modelRoi = model.config.preprocess.roi;
  if (!args.roi && modelRoi && file.masks?.[modelRoi] && file.roi !== modelRoi) file = file.select({ roi: modelRoi });
  // The file's voxels in the model's order, by their positions where both know them (a refusal names the missing voxels).
  const ordered = inModelOrder(file, model);
  if (ordered.note) process.stderr.write(`${ordered.note}\n`);
  file = ordered.file;
  // A voxel count the model does not take: the real cause (one subject per model), before any work.
  const mismatch = voxelMismatch(file, model.config);
  if (mismatch) throw new FmriShapeError(mismatch, model.config.preprocess.rawVoxels ?? model.config.encoder.numVoxels, file.voxels);
  // Issue 14: the vector decoded is the counterfactual one when an edit is asked for (or recorded in the receipt).
  const explain = await prepareExplain(args, receipt, {
    file,
    fileName: input.name,
    fileSha256: input.sha256,
    index,
    model,
    readInput,
    log: (l) => process.stderr.write(`${l}\n`),
  });
  const raw = explain.input;

  cliRunSettings(settings, model.config.schedule.numTimesteps);
  const opts: DecodeOptions = { ...settings, ...(noise ? { noise: npyToFloat32(noise) } : {}) };
  const plan = stepPlan(opts.steps, model.config.schedule.numTimesteps, mode);
  process.stderr.write(`${plan.note}\n`);
  if (receipt) checkReceiptTimesteps(receipt, decodeTimesteps(model.config, opts), plan.spacing);
  const out = String(args.out);
  await mkdir(out, { recursive: true });
  const [ch, h, w] = latentShape(model.config);
  const n = opts.numSamples;
  const dumps: Record<string, { data: Float32Array; shape: number[] }> = {};
  if (args.dump) {
    const result = await conditioningResult(model, raw);
    const { encoder, cond } = model.config;
    dumps.fmri = { data: result.fmri, shape: [1, encoder.numVoxels] };
    dumps.encoder_out = { data: result.encoderOut, shape: [1, cond.numTokens, encoder.embedDim] };
    dumps.cond = { data: result.cond, shape: [1, cond.outTokens, cond.condDim] };
  }
  const xt: Float32Array[] = [],
    eps: Float32Array[] = [],
    x0: Float32Array[] = [];
  const timesteps: number[] = [];
  const started = performance.now();
  const gen = decodeSteps(model, raw, opts);
  let final: Float32Array;
  let lowLevel: ImageBatch | undefined; // the low-level start as RGB in [0, 1], when the run starts from it
  for (;;) {
    const r = await gen.next();
    if (r.done) {
      final = r.value;
      break;
    }
    const s = r.value;
    if (s.kind === 'init') {
      process.stderr.write(
        `start: low-level latent noised to t=${s.t} (strength ${opts.strength}), ${s.steps} steps follow  ${s.ms.toFixed(0)} ms\n`,
      );
      const res = model.config.vq.resolution;
      lowLevel = {
        n: 1,
        height: res,
        width: res,
        data: Float32Array.from({ length: res * res * 3 }, (_, k) => s.pixels[Math.floor(k / 3)]),
      };
      await writeFile(join(out, 'lowlevel.png'), encodePng(toRgb8(lowLevel.data), res, res));
      if (args.dump) {
        dumps.lowlevel_pixels = { data: s.pixels, shape: [1, res * res] };
        dumps.lowlevel_latent = { data: s.x0.subarray(0, ch * h * w), shape: [1, ch, h, w] };
        dumps.x_start = { data: s.xt, shape: [n, ch, h, w] };
      }
      continue;
    }
    process.stderr.write(`step ${String(s.index + 1).padStart(3)}/${s.total}  t=${String(s.t).padStart(3)}  ${s.ms.toFixed(0)} ms\n`);
    timesteps.push(s.t);
    await explain.onStep(s);
    if (args.dump) {
      xt.push(s.xt);
      eps.push(s.eps);
      x0.push(s.x0);
    }
  }
  const images = await decodeLatents(model, final, n);
  const seconds = (performance.now() - started) / 1000;
  const per = images.height * images.width * 3;
  for (let i = 0; i < n; i++) {
    const png = encodePng(toRgb8(images.data.subarray(i * per, (i + 1) * per)), images.width, images.height);
    await writeFile(join(out, `sample_${i}.png`), png);
  }
  // Scores against the stimulus whenever the file has one (the bundled SIMULATED data set's files).
  const gt = await groundTruthFor(String(args.data), input.sha256, file, index);
  if (gt) {
    const scores = await scoreImages(images, gt);
    // The low-level image the sampler started from (lowlevel.png, before the VQ round trip), scored the same way.
    if (lowLevel) scores.push({ ...(await scoreImages(lowLevel, gt))[0], name: 'low-level start' });
    process.stdout.write(formatScores(gt, scores));
    await writeFile(
      join(out, 'metrics.json'),
      `${JSON.stringify({ groundTruth: { source: gt.source, className: gt.className, data: gt.dataLabel }, scores }, null, 2)}\n`,
    );
  }
  if (truth) {
    // Ground truth given: written beside the samples and compared (scores of a single decode, not a benchmark).
    const cmp = compareWithTruth(truth, file, index, images, n);
    if (!cmp) {
      const label = file.labels?.[index];
      process.stderr.write(
        `ground truth: ${
          label !== undefined
            ? `stimulus ${label} (sample ${index} of split '${file.split}') is not among the images of ${truth.name}`
            : `${truth.name} does not say which image sample ${index} of split '${file.split}' shows`
        }\n`,
      );
    } else {
      await writeFile(join(out, 'truth.png'), cmp.png);
      process.stderr.write(
        `ground truth: ${cmp.how} → truth.png; pixel correlation ${cmp.pearson.map((x) => x.toFixed(3)).join(', ')}; SSIM ${cmp.ssim.map((x) => x.toFixed(3)).join(', ')}\n`,
      );
    }
  }
  await explain.finish(out, images, opts);
  explain.dispose();
  if (args.dump) {
    const S = timesteps.length;
    dumps.x_t = { data: stack(xt), shape: [S, n, ch, h, w] };
    dumps.eps = { data: stack(eps), shape: [S, n, ch, h, w] };
    dumps.x0 = { data: stack(x0), shape: [S, n, ch, h, w] };
    dumps.final = { data: final, shape: [n, ch, h, w] };
    dumps.image = { data: images.data, shape: [n, images.height, images.width, 3] };
    for (const [name, d] of Object.entries(dumps)) await writeFile(join(out, `${name}.npy`), writeNpy(d.data, d.shape));
    await writeFile(join(out, 'timesteps.npy'), writeNpy(Int32Array.from(timesteps), [S]));
  }
  const written = makeReceipt({
    appVersion: APP_VERSION,
    model: { name: model.config.name, sha256: model.card.sha256 ?? '', synthetic: model.config.synthetic ?? false },
    fmri: {
      fileName: input.name,
      sha256: input.sha256,
      split: file.split,
      sampleIndex: index,
      ...(file.roi ? { roi: file.roi } : {}),
      ...(scale !== undefined && Number.isFinite(scale) ? { scale } : {}),
      ...(input.inputs.length > 1 ? { inputs: input.inputs } : {}),
    },
    sampler: opts.sampler,
    steps: opts.steps,
    eta: opts.eta,
    seed: opts.seed,
    numSamples: n,
    backend: backend as BackendName,
    init: mode.init,
    strength: mode.strength,
    guidance: mode.guidance,
    timesteps,
    spacing: plan.spacing,
    ...(explain.edit ? { counterfactual: explain.edit } : {}),
  });
  await writeFile(join(out, 'receipt.json'), receiptToJson(written));
  process.stderr.write(`wrote ${n} image(s) to ${out} in ${seconds.toFixed(1)} s on ${backend}\n`);
  model.dispose();
  tf.disposeVariables();
}

main().catch((e: Error) => {
  process.stderr.write(`\nerror: ${e.message}\n`);
  if (e instanceof UsageError) process.stderr.write(`(see npm run decode -- --help)\n`);
  process.exitCode = 1;
});
