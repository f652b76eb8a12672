// Fused WGSL attention vs the composed tfjs ops, side by side on the tfjs WebGPU backend.
// Run (Node, Dawn on SwiftShader or a real GPU; needs libvulkan.so.1, see docs/kernels.md):
//   npm run bench:attention -- [--quick] [--reps N] [--f16] [--only TEXT]
//   (= VK_ICD_FILENAMES=… tsx --import ./test/setup-webgpu.ts src/cli/benchAttention.ts …)
// Prints one markdown table: median ms over the timed reps (after one warm-up of each path, which also
// compiles the pipelines), GFLOP/s, composed/fused ratio, and the fused-vs-composed max relative difference.
// A second table (issue 14) times the cross-attention cases with attention maps off (the normal fused kernel,
// which the maps feature leaves unchanged) and on (its weight-writing variant, and the composed ops with weights).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgpu';
import { attentionComposed, attentionWeightsComposed } from '../kernels/attention';
import { fusedAttention, fusedAttentionWithWeights, type AttentionPrecision } from '../kernels/fusedAttention';

interface BenchCase {
  name: string;
  batch: number;
  queries: number;
  keys: number;
  width: number;
  heads: number;
}

// The UNet's attention at a 64×64 latent: one head as wide as the channels; attn2 attends to 77 tokens.
const unetCases: BenchCase[] = [
  { name: 'unet self 64²', batch: 1, queries: 1024, keys: 1024, width: 384, heads: 1 },
  { name: 'unet cross 64²', batch: 1, queries: 1024, keys: 77, width: 384, heads: 1 },
  { name: 'unet self 32²', batch: 1, queries: 256, keys: 256, width: 576, heads: 1 },
  { name: 'unet cross 32²', batch: 1, queries: 256, keys: 77, width: 576, heads: 1 },
  { name: 'unet self 16²', batch: 1, queries: 64, keys: 64, width: 960, heads: 1 },
  { name: 'unet cross 16²', batch: 1, queries: 64, keys: 77, width: 960, heads: 1 },
];
const smallCases: BenchCase[] = [
  { name: 'encoder self 16×64', batch: 1, queries: 64, keys: 64, width: 1024, heads: 16 },
  { name: 'tiny self', batch: 2, queries: 64, keys: 64, width: 32, heads: 1 },
  { name: 'tiny cross', batch: 2, queries: 64, keys: 77, width: 32, heads: 1 },
];

function parseArgs(argv: string[]): { reps: number; precision: AttentionPrecision; only: string } {
  let reps = 5;
  let precision: AttentionPrecision = 'f32';
  let only = '';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') reps = 2;
    else if (a === '--f16') precision = 'f16';
    else if (a === '--only') only = argv[++i] ?? '';
    else if (a === '--reps') {
      reps = Number(argv[++i]);
      if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps expects a positive integer, found ${argv[i]}`);
    } else throw new Error(`benchAttention: unknown argument ${a} (expected --quick, --reps N, --f16, --only TEXT)`);
  }
  return { reps, precision, only };
}

async function timeOnce(run: () => tf.Tensor): Promise<{ ms: number; values: Float32Array }> {
  const t0 = performance.now();
  const out = run();
  const values = (await out.data()) as Float32Array; // waits for the GPU work
  const ms = performance.now() - t0;
  out.dispose();
  return { ms, values };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let diff = 0,
    scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / scale;
}

async function main(): Promise<void> {
  const { reps, precision, only } = parseArgs(process.argv.slice(2));
  if (!(await tf.setBackend('webgpu'))) {
    throw new Error(
      'benchAttention: tf.setBackend("webgpu") failed; preload ./test/setup-webgpu.ts and make sure a ' +
        'Vulkan loader and ICD are found (see docs/kernels.md)',
    );
  }
  const info = (tf.backend() as unknown as { adapterInfo: { vendor: string; architecture: string } }).adapterInfo;
  console.log(`device: ${info.vendor}/${info.architecture}; fused precision ${precision}; median of ${reps} reps`);
  console.log('| case | B | N | M | C | heads | composed ms | fused ms | composed GFLOP/s | fused GFLOP/s | speed-up | max rel diff |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const c of [...unetCases, ...smallCases].filter((x) => x.name.includes(only))) {
    const q = tf.randomNormal([c.batch, c.queries, c.width], 0, 1, 'float32', 1);
    const k = tf.randomNormal([c.batch, c.keys, c.width], 0, 1, 'float32', 2);
    const v = tf.randomNormal([c.batch, c.keys, c.width], 0, 1, 'float32', 3);
    const opts = { numHeads: c.heads };
    const scale = (c.width / c.heads) ** -0.5;
    const fused = () => {
      const out = fusedAttention(q, k, v, c.heads, scale, precision);
      if (!out) throw new Error(`benchAttention: no fused kernel for ${c.name}`);
      return out;
    };
    const composed = () => attentionComposed(q, k, v, opts);
    const ref = await timeOnce(composed); // warm-up (compiles) and the values to compare with
    const got = await timeOnce(fused);
    const times = { fused: [] as number[], composed: [] as number[] };
    for (let r = 0; r < reps; r++) {
      // interleaved so that both paths see the same machine load
      times.composed.push((await timeOnce(composed)).ms);
      times.fused.push((await timeOnce(fused)).ms);
    }
    const gflop = (4 * c.batch * c.queries * c.keys * c.width) / 1e9;
    const [tc, tf_] = [median(times.composed), median(times.fused)];
    console.log(
      `| ${c.name} | ${c.batch} | ${c.queries} | ${c.keys} | ${c.width} | ${c.heads} | ${tc.toFixed(1)} | ` +
        `${tf_.toFixed(1)} | ${((gflop / tc) * 1e3).toFixed(2)} | ${((gflop / tf_) * 1e3).toFixed(2)} | ` +
        `${(tc / tf_).toFixed(2)}× | ${maxRelDiff(got.values, ref.values).toExponential(1)} |`,
    );
    tf.dispose([q, k, v]);
  }
  await mapsTable(
    [...unetCases, ...smallCases].filter((x) => x.name.includes(only) && x.name.includes('cross')),
    reps,
  );
}

/** Issue 14: maps off (normal fused kernel) vs maps on (fused variant writing its weights; composed with weights). */
async function mapsTable(cases: BenchCase[], reps: number): Promise<void> {
  console.log('\nattention maps (f32): the normal path is the same kernel as above; "maps on" runs only when maps are asked for');
  console.log(
    '| case | maps off: fused ms | maps on: fused+weights ms | maps on: composed ms | on/off (fused) | composed/fused (maps on) | weights max rel diff |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const c of cases) {
    const q = tf.randomNormal([c.batch, c.queries, c.width], 0, 1, 'float32', 1);
    const k = tf.randomNormal([c.batch, c.keys, c.width], 0, 1, 'float32', 2);
    const v = tf.randomNormal([c.batch, c.keys, c.width], 0, 1, 'float32', 3);
    const scale = (c.width / c.heads) ** -0.5;
    const both = (r: { out: tf.Tensor; weights: tf.Tensor }) => {
      const flat = tf.concat([tf.reshape(r.out, [-1]), tf.reshape(r.weights, [-1])]);
      tf.dispose([r.out, r.weights]);
      return flat;
    };
    const off = () => fusedAttention(q, k, v, c.heads, scale)!;
    const on = () => {
      const r = fusedAttentionWithWeights(q, k, v, c.heads, scale);
      if (!r) throw new Error(`benchAttention: no fused weights kernel for ${c.name}`);
      return both(r);
    };
    const onComposed = () => both(attentionWeightsComposed(q, k, v, c.heads, scale));
    await timeOnce(off);
    const got = await timeOnce(on),
      ref = await timeOnce(onComposed);
    const times = { off: [] as number[], on: [] as number[], composed: [] as number[] };
    for (let r = 0; r < reps; r++) {
      times.off.push((await timeOnce(off)).ms);
      times.on.push((await timeOnce(on)).ms);
      times.composed.push((await timeOnce(onComposed)).ms);
    }
    const [t0, t1, t2] = [median(times.off), median(times.on), median(times.composed)];
    console.log(
      `| ${c.name} | ${t0.toFixed(1)} | ${t1.toFixed(1)} | ${t2.toFixed(1)} | ${(t1 / t0).toFixed(2)}× | ${(t2 / t1).toFixed(2)}× | ` +
        `${maxRelDiff(got.values, ref.values).toExponential(1)} |`,
    );
    tf.dispose([q, k, v]);
  }
}

await main();
