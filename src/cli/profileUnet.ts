// npm run profile:unet -- [--config default|mid] [--reps n] [--batch n]: where the milliseconds of one UNet step go
// on tfjs-wasm (1 thread, as in Node), by tfjs kernel and by kind of work, from tf.profile. Random weights; batch 2
// by default (the studio's default run: one sample, guidance ≠ 1, so conditional + unconditional rows), t = 500; the
// context-only work (cross-attention K/V, time condition) is prepared once, as the pipeline does per run. The "between kernels" row is the wall time of an unprofiled step minus the summed kernel times: JS
// dispatch, tensor bookkeeping and memory management, which no kernel fusion inside a kernel can remove.
import * as tf from '@tensorflow/tfjs-core';
import { readFile } from 'node:fs/promises';
import { parseArgs, usage, type FlagSpec } from './args';
import { initNodeBackend } from './nodeBackend';
import { MID_CONFIG } from './benchConfigs';
import { latentShape, type ModelConfig } from '../model/config';
import { unetShapes } from '../model/layout';
import { prepareUNet, unet, unetContext } from '../model/unet';
import { releaseRelaidWeights } from '../engine/pipeline';

const SPEC: Record<string, FlagSpec> = {
  config: { type: 'string', help: 'UNet configuration', default: 'default', choices: ['default', 'mid'] },
  batch: { type: 'number', help: 'UNet rows per step (2 = one sample with classifier-free guidance)', default: 2 },
  reps: { type: 'number', help: 'profiled steps (their kernel times are summed per kernel, then divided by reps)', default: 3 },
  help: { type: 'boolean', help: 'show this help' },
};

/** Kind of work of a tfjs kernel name (tfjs-core kernel_names.ts). */
function kind(name: string): string {
  if (/Conv2D/.test(name)) return 'convolution';
  if (/MatMul/.test(name)) return 'matmul (linear layers, attention scores)';
  if (/^(Transpose|Reshape|Pad|Concat|Slice|StridedSlice|Tile|Cast|Identity|ResizeNearestNeighbor|GatherV2)$/.test(name))
    return 'layout (transpose, pad, concat, slice, reshape, resize)';
  if (/^(Mean|Sum|Max|Min|Prod|Softmax|Moments)$/.test(name)) return 'reductions (norm statistics, softmax)';
  return 'element-wise (add, mul, sub, div, sqrt, erf, sigmoid, …)';
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[(s.length - 1) >> 1];
};

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), SPEC);
  if (args.help) {
    process.stdout.write(usage('npm run profile:unet --', '[options]', SPEC));
    return;
  }
  const reps = Number(args.reps);
  if (!(Number.isInteger(reps) && reps >= 1)) throw new Error(`--reps must be a positive integer (got ${args.reps})`);
  const batch = Number(args.batch);
  if (!(Number.isInteger(batch) && batch >= 1)) throw new Error(`--batch must be a positive integer (got ${args.batch})`);
  await initNodeBackend('wasm');
  const cfg: ModelConfig =
    args.config === 'mid'
      ? MID_CONFIG
      : (JSON.parse(await readFile('public/models/default/manifest.json', 'utf8')) as { config: ModelConfig }).config;
  const w: Record<string, tf.Tensor> = {};
  for (const [n, s] of Object.entries(unetShapes(cfg))) w[n] = tf.randomNormal(s, 0, 0.05, 'float32', 1);
  const p = prepareUNet(cfg, w);
  releaseRelaidWeights(w, p);
  const [c, h, ww] = latentShape(cfg);
  const x = tf.randomNormal([batch, c, h, ww], 0, 1, 'float32', 2) as tf.Tensor4D;
  const ctx = tf.randomNormal([batch, cfg.cond.outTokens, cfg.cond.condDim], 0, 1, 'float32', 3) as tf.Tensor3D;
  const context = unetContext(cfg, p, ctx);
  const step = async (): Promise<void> => {
    const y = unet(cfg, p, x, 500, context);
    await y.data();
    y.dispose();
  };
  for (let i = 0; i < 2; i++) await step();
  const walls: number[] = [];
  for (let i = 0; i < Math.max(5, reps); i++) {
    const t0 = performance.now();
    await step();
    walls.push(performance.now() - t0);
  }
  const byName = new Map<string, { ms: number; calls: number }>();
  let kernelMs = 0,
    calls = 0;
  for (let r = 0; r < reps; r++) {
    const prof = await tf.profile(step);
    for (const k of prof.kernels) {
      // "name__op" records are op scopes (ops with a custom gradient) around the kernels already listed.
      if (k.name.endsWith('__op')) continue;
      const ms = Number(await k.kernelTimeMs) / reps;
      const e = byName.get(k.name) ?? { ms: 0, calls: 0 };
      e.ms += ms;
      e.calls += 1 / reps;
      byName.set(k.name, e);
      kernelMs += ms;
      calls += 1 / reps;
    }
  }
  const wall = median(walls);
  const pct = (ms: number): string => `${((100 * ms) / wall).toFixed(1)}%`;
  console.log(
    `UNet step, ${args.config} config (${cfg.unet.modelChannels} ch × [${cfg.unet.channelMult}], latent ${c}×${h}×${ww}, batch ${batch}), tfjs-wasm ${tf.version_core}, 1 thread`,
  );
  console.log(
    `wall (unprofiled) median ${wall.toFixed(1)} ms (min ${Math.min(...walls).toFixed(1)}, max ${Math.max(...walls).toFixed(1)}, n ${walls.length}); ${calls.toFixed(0)} kernel calls`,
  );
  const byKind = new Map<string, { ms: number; calls: number }>();
  for (const [n, e] of byName) {
    const k = byKind.get(kind(n)) ?? { ms: 0, calls: 0 };
    k.ms += e.ms;
    k.calls += e.calls;
    byKind.set(kind(n), k);
  }
  console.log('\n| kind | ms | calls | share of wall |\n|---|---|---|---|');
  for (const [k, e] of [...byKind].sort((a, b) => b[1].ms - a[1].ms))
    console.log(`| ${k} | ${e.ms.toFixed(2)} | ${e.calls.toFixed(0)} | ${pct(e.ms)} |`);
  console.log(`| between kernels (wall − Σ kernels) | ${(wall - kernelMs).toFixed(2)} | | ${pct(wall - kernelMs)} |`);
  console.log('\n| kernel | ms | calls | share of wall |\n|---|---|---|---|');
  for (const [n, e] of [...byName].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15))
    console.log(`| ${n} | ${e.ms.toFixed(2)} | ${e.calls.toFixed(0)} | ${pct(e.ms)} |`);
  context.dispose();
  tf.dispose([x, ctx]);
}

main().catch((e: Error) => {
  console.error(`error: ${e.message}`);
  process.exitCode = 1;
});
