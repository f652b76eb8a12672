// npm run decode -- --model <bundle-dir> --fmri <file> --out <dir> [...]: reconstructs images from one
// fMRI sample with the same pipeline as the studio, printing a progress line per step.
import { readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { DECODE_MODE_SPEC, decodeMode, parseArgs, usage, UsageError, type FlagSpec } from './args';
import { applyModelSampling, readBundleSampling } from './samplingDefaults';
import { initNodeBackend } from './nodeBackend';
import { loadModelFromDir } from './nodeModel';
import { conditioningResult, decodeLatents, decodeSteps, decodeTimesteps } from '../engine/pipeline';
import { latentShape } from '../model/config';
import { compareWithTruth, FMRI_INPUT_SPEC, readFmriInputs, readTruthFile, refuseExtraArguments } from './fmriInputs';
import { voxelMismatch } from '../io/modelFit';
import { FmriShapeError } from '../model/preprocess';
import { npyToFloat32, readNpy, writeNpy } from '../io/npy';
import { encodePng, toRgb8 } from '../io/png';
import { checkReceiptTimesteps, makeReceipt, MAX_SAMPLES, MAX_SEED, parseReceipt, receiptToJson, type DecodeReceipt } from '../engine/receipt';
import type { BackendName, DecodeOptions, SamplerName } from '../engine/types';

/** The app version in receipts, as the studio writes it (package.json). */
const APP_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const SPEC: Record<string, FlagSpec> = {
  model: { type: 'string', help: 'converted bundle directory (manifest.json + shards)', default: 'public/models/default' },
  // fMRI inputs (issue 13): files, folder, order, stimulus list, mask, scale/convention, dataset, split, roi
  ...FMRI_INPUT_SPEC,
  truth: { type: 'string', help: "ground-truth images: GOD's images_256.npz layout (train_images/test_images), an .npz/.npy [N,H,W(,3)] uint8, or a folder of images converted by scripts/bold5000_images.py; written as truth.png and compared" },
  sample: { type: 'number', help: 'sample (row / trial / volume) index in the file', default: 0 },
  steps: { type: 'number', help: "sampler steps S (the uniform discretisation may run a few more). --sampler/--steps/--init/--strength/--guidance default to the model's config.sampling when it has one", default: 50 },
  sampler: { type: 'string', help: 'sampler', default: 'plms', choices: ['plms', 'ddim'] },
  eta: { type: 'number', help: 'DDIM eta (PLMS requires 0)', default: 0 },
  seed: { type: 'number', help: 'seed of x_T (and of DDIM noise)', default: 0 },
  ...DECODE_MODE_SPEC,
  noise: { type: 'string', help: 'x_T as .npy [n,C,h,w] instead of a seed' },
  samples: { type: 'number', help: 'samples drawn from the same fMRI', default: 1 },
  backend: { type: 'string', help: 'tfjs backend', default: 'wasm', choices: ['wasm', 'cpu', 'webgpu'] },
  out: { type: 'string', help: 'output directory' },
  dump: { type: 'boolean', help: 'also write every stage as .npy (preprocessed fMRI, encoder output, conditioning, per-step x_t/eps/x0, final latent, images; with --init lowlevel the low-level pixels, latent and start latent)' },
  receipt: { type: 'string', help: 'replay a decode receipt (JSON from the studio): sampler, steps, eta, seed, samples, init, strength, guidance, sample index' },
  help: { type: 'boolean', help: 'show this help' },
};

const stack = (arrays: Float32Array[]): Float32Array => {
  const out = new Float32Array(arrays.reduce((a, x) => a + x.length, 0));
  let o = 0;
  for (const a of arrays) { out.set(a, o); o += a.length; }
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

/** Checks the sampler settings against what a receipt can record, before anything slow happens. */
function checkSettings(o: { steps: number; eta: number; seed: number; samples: number; sampler: string }): void {
  if (!(Number.isInteger(o.steps) && o.steps >= 1 && o.steps <= 1000)) throw new UsageError(`--steps must be an integer in 1..1000 (got ${o.steps})`);
  if (!(o.eta >= 0 && o.eta <= 1)) throw new UsageError(`--eta must be in [0, 1] (got ${o.eta})`);
  if (o.sampler === 'plms' && o.eta !== 0) throw new UsageError(`PLMS needs --eta 0 (got ${o.eta}); use --sampler ddim for eta > 0`);
  if (!(Number.isInteger(o.seed) && o.seed >= 0 && o.seed <= MAX_SEED)) throw new UsageError(`--seed must be an integer in 0..${MAX_SEED} (got ${o.seed})`);
  if (!(Number.isInteger(o.samples) && o.samples >= 1 && o.samples <= MAX_SAMPLES)) {
    throw new UsageError(`--samples must be an integer in 1..${MAX_SAMPLES} (got ${o.samples})`);
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const args = parseArgs(argv, SPEC);
  if (args.help) { process.stdout.write(usage('npm run decode --', '--fmri <file or folder> [--fmri <file> …] --out <dir> [options]', SPEC)); return; }
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
  const settings = {
    sampler: String(args.sampler), steps: Number(args.steps), eta: Number(args.eta), seed: Number(args.seed),
    samples: noise ? noise.shape[0] : Number(args.samples),
  };
  checkSettings(settings);
  const mode = decodeMode(args);
  // Every file read (progress on stderr), what was recognised printed, the digests kept for the receipt.
  const input = await readFmriInputs(args, (line) => process.stderr.write(`${line}\n`));
  let file = input.file;
  const truth = args.truth ? await readTruthFile(String(args.truth)) : undefined;
  const index = Number(args.sample);
  if (receipt && receipt.fmri.sha256 !== input.sha256) {
    process.stderr.write(`warning: ${input.name} is not the input the receipt was made from (${receipt.fmri.fileName}, sha256 differs)\n`);
  }

  const backend = await initNodeBackend(args.backend as BackendName);
  const model = await loadModelFromDir(String(args.model), (done, total) => {
    process.stderr.write(`\rloading model ${(done / 2 ** 20).toFixed(1)}/${(total / 2 ** 20).toFixed(1)} MiB`);
  });
  process.stderr.write('\n');
  if (receipt && receipt.model.sha256 !== model.card.sha256) {
    process.stderr.write(`warning: the model is not the one the receipt was made with (${receipt.model.name}, sha256 differs)\n`);
  }
  // Without --roi, use the model's ROI when the file carries that mask (GOD-layout files carry several).
  const modelRoi = model.config.preprocess.roi;
  if (!args.roi && modelRoi && file.masks?.[modelRoi] && file.roi !== modelRoi) file = file.select({ roi: modelRoi });
  // A voxel count the model does not take: the real cause (one subject per model), before any work.
  const mismatch = voxelMismatch(file, model.config);
  if (mismatch) throw new FmriShapeError(mismatch, model.config.preprocess.rawVoxels ?? model.config.encoder.numVoxels, file.voxels);
  const raw = file.getSample(index);

  const opts: DecodeOptions = {
    sampler: settings.sampler as SamplerName, steps: settings.steps, eta: settings.eta, seed: settings.seed, numSamples: settings.samples,
    ...(noise ? { noise: npyToFloat32(noise) } : {}), ...mode,
  };
  if (receipt) checkReceiptTimesteps(receipt, decodeTimesteps(model.config, opts));
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
  const xt: Float32Array[] = [], eps: Float32Array[] = [], x0: Float32Array[] = [];
  const timesteps: number[] = [];
  const started = performance.now();
  const gen = decodeSteps(model, raw, opts);
  let final: Float32Array;
  for (;;) {
    const r = await gen.next();
    if (r.done) { final = r.value; break; }
    const s = r.value;
    if (s.kind === 'init') {
      process.stderr.write(`start: low-level latent noised to t=${s.t} (strength ${opts.strength}), ${s.steps} steps follow  ${s.ms.toFixed(0)} ms\n`);
      const res = model.config.vq.resolution;
      await writeFile(join(out, 'lowlevel.png'), encodePng(toRgb8(Float32Array.from({ length: res * res * 3 }, (_, k) => s.pixels[Math.floor(k / 3)])), res, res));
      if (args.dump) {
        dumps.lowlevel_pixels = { data: s.pixels, shape: [1, res * res] };
        dumps.lowlevel_latent = { data: s.x0.subarray(0, ch * h * w), shape: [1, ch, h, w] };
        dumps.x_start = { data: s.xt, shape: [n, ch, h, w] };
      }
      continue;
    }
    process.stderr.write(`step ${String(s.index + 1).padStart(3)}/${s.total}  t=${String(s.t).padStart(3)}  ${s.ms.toFixed(0)} ms\n`);
    timesteps.push(s.t);
    if (args.dump) { xt.push(s.xt); eps.push(s.eps); x0.push(s.x0); }
  }
  const images = await decodeLatents(model, final, n);
  const seconds = (performance.now() - started) / 1000;
  const per = images.height * images.width * 3;
  for (let i = 0; i < n; i++) {
    const png = encodePng(toRgb8(images.data.subarray(i * per, (i + 1) * per)), images.width, images.height);
    await writeFile(join(out, `sample_${i}.png`), png);
  }
  if (truth) {
    // Ground truth given: written beside the samples and compared (scores of a single decode, not a benchmark).
    const cmp = compareWithTruth(truth, file, index, images, n);
    if (!cmp) {
      const label = file.labels?.[index];
      process.stderr.write(`ground truth: ${label !== undefined ? `stimulus ${label} (sample ${index} of split '${file.split}') is not among the images of ${truth.name}`
        : `${truth.name} does not say which image sample ${index} of split '${file.split}' shows`}\n`);
    }
    else {
      await writeFile(join(out, 'truth.png'), cmp.png);
      process.stderr.write(`ground truth: ${cmp.how} → truth.png; pixel correlation ${cmp.pearson.map((x) => x.toFixed(3)).join(', ')}; SSIM ${cmp.ssim.map((x) => x.toFixed(3)).join(', ')}\n`);
    }
  }
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
      fileName: input.name, sha256: input.sha256, split: file.split, sampleIndex: index, ...(file.roi ? { roi: file.roi } : {}),
      ...(input.inputs.length > 1 ? { inputs: input.inputs } : {}),
    },
    sampler: opts.sampler, steps: opts.steps, eta: opts.eta, seed: opts.seed, numSamples: n, backend: backend as BackendName,
    init: mode.init, strength: mode.strength, guidance: mode.guidance, timesteps,
  });
  await writeFile(join(out, 'receipt.json'), receiptToJson(written));
  process.stderr.write(`wrote ${n} image(s) to ${out} in ${seconds.toFixed(1)} s on ${backend}\n`);
  model.dispose();
  tf.disposeVariables();
}

/** Settings of a decode receipt, as CLI flags (the file itself is still given with --fmri). */
function receiptArgs(r: DecodeReceipt): Record<string, unknown> {
  return {
    sampler: r.sampler, steps: r.steps, eta: r.eta, seed: r.seed, samples: r.numSamples, init: r.init, strength: r.strength, guidance: r.guidance,
    sample: r.fmri.sampleIndex, split: r.fmri.split, ...(r.fmri.roi ? { roi: r.fmri.roi } : {}),
  };
}

main().catch((e: Error) => {
  process.stderr.write(`\nerror: ${e.message}\n`);
  if (e instanceof UsageError) process.stderr.write(`(see npm run decode -- --help)\n`);
  process.exitCode = 1;
});
