// A published-size bundle with random weights (issue 15, item 3): the authors' GOD sbj_3 shapes
// (PUBLISHED_GOD_SBJ3: fMRI encoder 151 M parameters, UNet 401 M, VQ-f4 decoder 33 M), fp16 storage, written
// by the converter's bundle writer one shard at a time (each tensor's values are drawn when its shard is
// written), so memory stays near one shard. For the page benchmark (scripts/bench-published-page.ts); the
// values are random, so its decodes are noise. Usage:
//   npx tsx scripts/make-published-bundle.ts [--out .cache/published-bundle] [--dtype float16|float32] [--seed 1]
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs, usage, type FlagSpec } from '../src/cli/args';
import { randomValues } from '../src/cli/randomWeights';
import { PUBLISHED_GOD_SBJ3, type ModelConfig } from '../src/model/config';
import { expectedShapes } from '../src/model/layout';
import { writeBundleToDir } from '../src/io/bundle/node';
import type { BundleTensor } from '../src/io/bundle/writer';
import type { StorageDtype } from '../src/io/bundle/manifest';

const SPEC: Record<string, FlagSpec> = {
  out: { type: 'string', help: 'bundle folder (replaced)', default: '.cache/published-bundle' },
  dtype: { type: 'string', help: 'storage precision of rank ≥ 2 tensors', default: 'float16', choices: ['float16', 'float32'] },
  seed: { type: 'number', help: 'seed of the random values', default: 1 },
  force: { type: 'boolean', help: 'rewrite even when the folder already holds this bundle' },
  help: { type: 'boolean', help: 'show this help' },
};

/** The published configuration, named and described as random so that the studio and receipts say so. */
const PUBLISHED_RANDOM: ModelConfig = {
  ...PUBLISHED_GOD_SBJ3,
  name: 'cad-god-sbj3-random',
  description:
    'Untrained stand-in: the published GOD sbj_3 shapes (CAD, Sun et al. 2023) with RANDOM weights, for load and speed measurements. Outputs are noise, not reconstructions.',
};

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), SPEC);
  if (args.help) {
    process.stdout.write(usage('npx tsx scripts/make-published-bundle.ts', '[options]', SPEC));
    return;
  }
  const out = String(args.out);
  const dtype = args.dtype as StorageDtype;
  const seed = Number(args.seed);
  const stamp = `${PUBLISHED_RANDOM.name} ${dtype} seed ${seed}`;
  const manifestPath = join(out, 'manifest.json');
  if (!args.force && existsSync(manifestPath)) {
    const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as { card?: { generated?: string } };
    if (m.card?.generated === stamp) {
      console.log(`${out} already holds ${stamp} (--force rewrites it)`);
      return;
    }
  }
  await rm(out, { recursive: true, force: true });
  const shapes = expectedShapes(PUBLISHED_RANDOM);
  const tensors: Record<string, BundleTensor> = {};
  let params = 0;
  for (const [name, shape] of Object.entries(shapes)) {
    tensors[name] = { shape: [...shape], read: () => randomValues(name, shape, seed) };
    params += shape.reduce((a, b) => a * b, 1);
  }
  const t0 = performance.now();
  let last = 0;
  const manifest = await writeBundleToDir(out, PUBLISHED_RANDOM, tensors, {
    dtype,
    card: { generated: stamp, note: 'untrained stand-in: random weights (scripts/make-published-bundle.ts)', params },
    onProgress: (done, total) => {
      if (done === total || performance.now() - last > 5000) {
        last = performance.now();
        console.log(`  ${(done / 2 ** 20).toFixed(0)} / ${(total / 2 ** 20).toFixed(0)} MiB`);
      }
    },
  });
  const bytes = manifest.shards.reduce((a, s) => a + s.nbytes, 0);
  console.log(
    `wrote ${out}: ${manifest.tensors.length} tensors, ${(params / 1e6).toFixed(1)} M parameters, ${manifest.shards.length} shards, ` +
      `${(bytes / 2 ** 20).toFixed(1)} MiB (${dtype}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
}

main().catch((e: Error) => {
  console.error(`error: ${e.message}`);
  process.exitCode = 1;
});
