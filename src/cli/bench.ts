// npm run bench: timings of the decoder on random weights (speed does not depend on the values).
// Prints medians and ratios measured side by side in one run; it judges nothing.
//   small      the embedded default model's config (or the tiny test preset): UNet step, full decode
//   published  GOD sbj_3 sizes (spec §4): fMRI encoder, one UNet step, VQ decode — one network in memory at a time
import * as tf from '@tensorflow/tfjs-core';
import { readFile } from 'node:fs/promises';
import { parseArgs, usage, type FlagSpec } from './args';
import { initNodeBackend } from './nodeBackend';
import { PUBLISHED_GOD_SBJ3, latentShape, type ModelConfig } from '../model/config';
import { expectedShapes } from '../model/layout';
import { prepareFmriEncoder, fmriEncoder } from '../model/fmriEncoder';
import { condStage, prepareCondStage } from '../model/condStage';
import { prepareUNet, unet } from '../model/unet';
import { prepareVQ, vqDecode } from '../model/vq';
import { modelFromWeights, decodeSteps, decodeLatents, disposeDerived, releaseRelaidWeights, runToEnd } from '../engine/pipeline';
import type { BackendName } from '../engine/types';
import { randomInit } from './randomWeights';

const SPEC: Record<string, FlagSpec> = {
  backend: { type: 'string', help: 'tfjs backend', default: 'wasm', choices: ['wasm', 'cpu', 'webgpu'] },
  reps: { type: 'number', help: 'timed repetitions per measurement (after one warm-up)', default: 5 },
  steps: { type: 'number', help: 'sampler steps of the full small decode', default: 50 },
  published: { type: 'boolean', help: 'also time the published sizes (needs ~3 GB of memory, minutes on 2 cores)' },
  help: { type: 'boolean', help: 'show this help' },
};

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

let peakRss = 0;
const sampleMemory = (): void => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
};

/** Median wall time of `fn` (which must finish its GPU/wasm work before resolving). */
async function time(reps: number, fn: () => Promise<void>): Promise<number> {
  await fn();
  sampleMemory();
  const xs: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    xs.push(performance.now() - t0);
    sampleMemory();
  }
  return median(xs);
}

/** Random weights (src/cli/randomWeights.ts's rule) drawn on the backend. */
function randomWeights(cfg: ModelConfig, filter: (name: string) => boolean): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const [name, shape] of Object.entries(expectedShapes(cfg))) {
    if (!filter(name)) continue;
    const init = randomInit(name, shape);
    out[name] = init.ones ? tf.ones(shape) : tf.randomNormal(shape, 0, init.std, 'float32', 1);
  }
  return out;
}

const dispose = (w: Record<string, tf.Tensor>): void => {
  for (const t of Object.values(w)) if (!t.isDisposed) t.dispose();
};

/** Runs one measurement, prints its row at once, and reports a failure (e.g. out of memory) as such. */
async function measure(rows: [string, number][], name: string, fn: () => Promise<number>): Promise<void> {
  try {
    const ms = await fn();
    rows.push([name, ms]);
    console.log(`${name.padEnd(48)} ${fmt(ms).padStart(10)}   (peak RSS ${(peakRss / 2 ** 30).toFixed(2)} GiB)`);
  } catch (e) {
    console.log(`${name.padEnd(48)} failed: ${(e as Error).message || String(e)}`);
  }
}

const fmt = (ms: number): string => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);

async function smallConfig(): Promise<{ cfg: ModelConfig; source: string }> {
  try {
    const m = JSON.parse(await readFile('public/models/default/manifest.json', 'utf8'));
    return { cfg: m.config as ModelConfig, source: 'public/models/default (embedded default model config)' };
  } catch {
    const m = JSON.parse(await readFile('.cache/golden/tiny/model_config.json', 'utf8'));
    return { cfg: m as ModelConfig, source: 'tiny test preset' };
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), SPEC);
  if (args.help) {
    process.stdout.write(usage('npm run bench --', '[options]', SPEC));
    return;
  }
  const backend = await initNodeBackend(args.backend as BackendName);
  const reps = Number(args.reps);
  if (!(Number.isInteger(reps) && reps >= 1)) throw new Error(`--reps must be a positive integer (got ${args.reps})`);
  const rows: [string, number][] = [];
  console.log(`backend ${backend}, ${reps} reps after a warm-up, medians`);

  const { cfg, source } = await smallConfig();
  console.log(`small config: ${source}`);
  const model = modelFromWeights(
    cfg,
    randomWeights(cfg, () => true),
  );
  const [ch, h, w] = latentShape(cfg);
  const c = tf.randomNormal([1, cfg.cond.outTokens, cfg.cond.condDim]) as tf.Tensor3D;
  const x = tf.randomNormal([1, ch, h, w]) as tf.Tensor4D;
  await measure(rows, 'small: UNet step (batch 1)', () =>
    time(reps, async () => {
      const y = unet(cfg, model.unet, x, 500, c);
      await y.data();
      y.dispose();
    }),
  );
  const raw = new Float32Array(cfg.preprocess.rawVoxels ?? cfg.encoder.numVoxels).map((_, i) => Math.sin(i));
  const steps = Number(args.steps);
  await measure(rows, `small: full decode (PLMS ${steps} steps, 1 sample)`, () =>
    time(Math.min(reps, 3), async () => {
      await decodeLatents(model, await runToEnd(decodeSteps(model, raw, { sampler: 'plms', steps, eta: 0, seed: 0, numSamples: 1 })), 1);
    }),
  );
  tf.dispose([c, x]);
  model.dispose();

  if (args.published) {
    // One network in memory at a time; the UNet last, since running out of wasm memory ends the module.
    const P = PUBLISHED_GOD_SBJ3;
    const [pc, ph, pw] = latentShape(P);
    await measure(rows, 'published: VQ decode 256×256', async () => {
      const vw = randomWeights(P, (n) => n.startsWith('first_stage_model.'));
      const vp = prepareVQ(P, vw);
      releaseRelaidWeights(vw, vp);
      const z = tf.randomNormal([1, pc, ph, pw]) as tf.Tensor4D;
      try {
        return await time(Math.min(reps, 3), async () => {
          const y = vqDecode(P, vp, z);
          await y.data();
          y.dispose();
        });
      } finally {
        z.dispose();
        disposeDerived(vp, vw);
        dispose(vw);
      }
    });
    await measure(rows, 'published: fMRI encoder + mappers', async () => {
      const enc = randomWeights(P, (n) => n.startsWith('cond_stage_model.'));
      const encP = prepareFmriEncoder(P, enc);
      const condP = prepareCondStage(P, enc);
      releaseRelaidWeights(enc, [encP, condP]);
      const v = tf.randomNormal([1, P.encoder.numVoxels]) as tf.Tensor2D;
      try {
        return await time(Math.min(reps, 3), async () => {
          const y = tf.tidy(() => condStage(P, condP, fmriEncoder(P, encP, v)));
          await y.data();
          y.dispose();
        });
      } finally {
        v.dispose();
        disposeDerived([encP, condP], enc);
        dispose(enc);
      }
    });
    await measure(rows, 'published: UNet step (batch 1)', async () => {
      const uw = randomWeights(P, (n) => n.startsWith('model.diffusion_model.'));
      const up = prepareUNet(P, uw);
      releaseRelaidWeights(uw, up);
      const px = tf.randomNormal([1, pc, ph, pw]) as tf.Tensor4D;
      const pctx = tf.randomNormal([1, 77, P.cond.condDim]) as tf.Tensor3D;
      try {
        return await time(Math.min(reps, 3), async () => {
          const y = unet(P, up, px, 500, pctx);
          await y.data();
          y.dispose();
        });
      } finally {
        tf.dispose([px, pctx]);
        disposeDerived(up, uw);
        dispose(uw);
      }
    });
  }

  const get = (prefix: string) => rows.find(([n]) => n.startsWith(prefix))?.[1];
  const smallStep = get('small: UNet step');
  const smallDecode = get('small: full decode');
  if (smallStep !== undefined && smallDecode !== undefined) {
    console.log(`ratio small full decode / small UNet step: ${(smallDecode / smallStep).toFixed(1)}`);
  }
  const pubStep = get('published: UNet step');
  if (pubStep !== undefined && smallStep !== undefined) {
    console.log(`ratio published UNet step / small UNet step: ${(pubStep / smallStep).toFixed(0)}`);
    console.log(`published PLMS-250 decode (251 UNet calls, 1 sample) ≈ ${fmt(251 * pubStep)} extrapolated from the step median`);
  }
  console.log(`peak RSS ${(peakRss / 2 ** 30).toFixed(2)} GiB`);
}

main().catch((e: Error) => {
  console.error(`error: ${e.message}`);
  process.exitCode = 1;
});
