// npm run decode -- --model <bundle-dir> --fmri <file> --out <dir> [...]: reconstructs images from one
// fMRI sample with the same pipeline as the studio, printing a progress line per step.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs, usage, UsageError, type FlagSpec } from './args';
import { initNodeBackend } from './nodeBackend';
import { loadModelFromDir } from './nodeModel';
import { conditioningResult, decodeLatents, decodeSteps } from '../engine/pipeline';
import { latentShape } from '../model/config';
import { readFmriFile } from '../io/fmriFile';
import { npyToFloat32, readNpy, writeNpy } from '../io/npy';
import { encodePng, toRgb8 } from '../io/png';
import { makeReceipt, parseReceipt, receiptToJson, type DecodeReceipt } from '../engine/receipt';
import type { BackendName, DecodeOptions, SamplerName } from '../engine/types';

const APP_VERSION = '0.1.0';

const SPEC: Record<string, FlagSpec> = {
  model: { type: 'string', help: 'converted bundle directory (manifest.json + shards)', default: 'public/models/default' },
  fmri: { type: 'string', help: 'fMRI file: .npy .npz .h5/.hdf5 .nii/.nii.gz .csv/.tsv' },
  sample: { type: 'number', help: 'sample (row / trial / volume) index in the file', default: 0 },
  split: { type: 'string', help: 'for GOD-layout .npz: train | test-avg | test-single (default: the file\'s test average or only split)' },
  roi: { type: 'string', help: 'ROI mask to apply for .npz files that carry masks (default: the model\'s ROI)' },
  mask: { type: 'string', help: 'mask volume for a 3-D/4-D NIfTI file' },
  steps: { type: 'number', help: 'sampler steps S (the uniform discretisation may run a few more)', default: 50 },
  sampler: { type: 'string', help: 'sampler', default: 'plms', choices: ['plms', 'ddim'] },
  eta: { type: 'number', help: 'DDIM eta (PLMS requires 0)', default: 0 },
  seed: { type: 'number', help: 'seed of x_T (and of DDIM noise)', default: 0 },
  noise: { type: 'string', help: 'x_T as .npy [n,C,h,w] instead of a seed' },
  samples: { type: 'number', help: 'samples drawn from the same fMRI', default: 1 },
  backend: { type: 'string', help: 'tfjs backend', default: 'wasm', choices: ['wasm', 'cpu', 'webgpu'] },
  out: { type: 'string', help: 'output directory' },
  dump: { type: 'boolean', help: 'also write every stage as .npy (preprocessed fMRI, encoder output, conditioning, per-step x_t/eps/x0, final latent, images)' },
  receipt: { type: 'string', help: 'replay a decode receipt (JSON from the studio): sampler, steps, eta, seed, samples, sample index' },
  help: { type: 'boolean', help: 'show this help' },
};

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const stack = (arrays: Float32Array[]): Float32Array => {
  const out = new Float32Array(arrays.reduce((a, x) => a + x.length, 0));
  let o = 0;
  for (const a of arrays) { out.set(a, o); o += a.length; }
  return out;
};

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), SPEC);
  if (args.help) { process.stdout.write(usage('npm run decode --', '--fmri <file> --out <dir> [options]', SPEC)); return; }
  if (args.receipt) Object.assign(args, receiptArgs(parseReceipt(await readFile(String(args.receipt), 'utf8'))));
  if (!args.fmri) throw new UsageError('--fmri <file> is required');
  if (!args.out) throw new UsageError('--out <dir> is required');

  const backend = await initNodeBackend(args.backend as BackendName);
  const modelDir = String(args.model);
  const model = await loadModelFromDir(modelDir, (done, total) => {
    process.stderr.write(`\rloading model ${(done / 2 ** 20).toFixed(1)}/${(total / 2 ** 20).toFixed(1)} MiB`);
  });
  process.stderr.write('\n');
  const fmriPath = String(args.fmri);
  const fmriBytes = new Uint8Array(await readFile(fmriPath));
  const maskBytes = args.mask ? new Uint8Array(await readFile(String(args.mask))) : undefined;
  let file = await readFmriFile(basename(fmriPath), fmriBytes, {
    split: args.split as string | undefined, roi: args.roi as string | undefined, mask: maskBytes,
  });
  // Without --roi, use the model's ROI when the file carries that mask (GOD-layout files carry several).
  const modelRoi = model.config.preprocess.roi;
  if (!args.roi && modelRoi && file.masks?.[modelRoi] && file.roi !== modelRoi) file = file.select({ roi: modelRoi });
  const index = Number(args.sample);
  const raw = file.getSample(index);

  const numSamples = Number(args.samples);
  const opts: DecodeOptions = {
    sampler: args.sampler as SamplerName, steps: Number(args.steps), eta: Number(args.eta), seed: Number(args.seed), numSamples,
  };
  if (args.noise) {
    const arr = readNpy(new Uint8Array(await readFile(String(args.noise))));
    opts.noise = npyToFloat32(arr);
    opts.numSamples = arr.shape[0];
  }
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
    process.stderr.write(`step ${String(s.index + 1).padStart(3)}/${s.total}  t=${String(s.t).padStart(3)}  ${s.ms.toFixed(0)} ms\n`);
    if (args.dump) { xt.push(s.xt); eps.push(s.eps); x0.push(s.x0); timesteps.push(s.t); }
  }
  const images = await decodeLatents(model, final, n);
  const seconds = (performance.now() - started) / 1000;
  const per = images.height * images.width * 3;
  for (let i = 0; i < n; i++) {
    const png = encodePng(toRgb8(images.data.subarray(i * per, (i + 1) * per)), images.width, images.height);
    await writeFile(join(out, `sample_${i}.png`), png);
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
  const receipt = makeReceipt({
    appVersion: APP_VERSION,
    model: { name: model.config.name, sha256: model.card.sha256 ?? '', synthetic: model.config.synthetic ?? false },
    fmri: { fileName: basename(fmriPath), sha256: sha256(fmriBytes), split: file.split, sampleIndex: index, ...(file.roi ? { roi: file.roi } : {}) },
    sampler: opts.sampler, steps: opts.steps, eta: opts.eta, seed: opts.seed, numSamples: n, backend: backend as BackendName,
  });
  await writeFile(join(out, 'receipt.json'), receiptToJson(receipt));
  process.stderr.write(`wrote ${n} image(s) to ${out} in ${seconds.toFixed(1)} s on ${backend}\n`);
  model.dispose();
  tf.disposeVariables();
}

/** Settings of a decode receipt, as CLI flags (the file itself is still given with --fmri). */
function receiptArgs(r: DecodeReceipt): Record<string, unknown> {
  return {
    sampler: r.sampler, steps: r.steps, eta: r.eta, seed: r.seed, samples: r.numSamples,
    sample: r.fmri.sampleIndex, split: r.fmri.split, ...(r.fmri.roi ? { roi: r.fmri.roi } : {}),
  };
}

main().catch((e: Error) => {
  process.stderr.write(`\nerror: ${e.message}\n`);
  if (e instanceof UsageError) process.stderr.write(`(see npm run decode -- --help)\n`);
  process.exitCode = 1;
});
