// npm run convert -- <checkpoint>... --out <bundle-dir> [--fp16] [--config overrides.json]
//                    [--raw-voxels N --mean m --std s] [--shard-mb 128]
// Converts the authors' checkpoints (phase-1/2 encoder, phase-3, CompVis LDM, safetensors) into a web
// bundle. The logic lives in src/convert/convert.ts; this file parses flags and prints.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { ModelConfig } from '../model/config';
import { dirSink } from '../io/bundle/node';
import { planConversion, writeConvertedBundle, type ConvertInput, type DeepPartial } from '../convert/convert';
import { readCheckpoint } from '../convert/torch/index';
import { fileAccess } from '../convert/torch/nodeFile';
import { parseArgs, usage, UsageError, type FlagSpec } from './args';
import { progressLine } from './progress';

const SPEC: Record<string, FlagSpec> = {
  out: { type: 'string', help: 'bundle directory to write (manifest.json + shard-NNN.bin)' },
  fp16: { type: 'boolean', help: 'store rank>=2 tensors as float16 (vectors and the VQ codebook stay float32)' },
  config: { type: 'string', help: 'JSON file of ModelConfig overrides, e.g. {"encoder":{"numHeads":16},"name":"cad-god-sbj3"}' },
  'raw-voxels': { type: 'number', help: "subject's voxel count before wrap padding (preprocess.rawVoxels)" },
  mean: { type: 'number', help: 'training-set z-score mean, applied after padding (preprocess.mean)' },
  std: { type: 'number', help: 'training-set z-score std (preprocess.std)' },
  'shard-mb': { type: 'number', help: 'maximum shard size in MiB', default: 128 },
  help: { type: 'boolean', help: 'show this help' },
};

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (c) => h.update(c))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });
}

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
const millions = (n: number) => `${(n / 1e6).toFixed(3)} M`;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), SPEC);
  if (args.help) {
    process.stdout.write(usage('npm run convert --', '<checkpoint.pth|.ckpt|.safetensors>... --out <bundle-dir> [options]', SPEC));
    process.stdout.write(
      '\nLater checkpoints override tensors of earlier ones (reported). Typical: phase3.pth alone, or ldm.ckpt + phase3.pth.\n',
    );
    process.stdout.write(
      'decoding_studio.* tensors (e.g. extras.safetensors from npm run train: the low-level decoder, the null context) pass into\n' +
        'the bundle; with the low-level decoder the VQ encoder is kept too (it is dropped otherwise).\n' +
        'decoding_studio.voxels.xyz_mm [raw-voxels, 3] (voxel_positions.safetensors from npm run train) records the mm position of\n' +
        "each input voxel: the readers then put a masked NIfTI's voxels into the model's order.\n",
    );
    return;
  }
  if (args._.length === 0) throw new UsageError('give at least one checkpoint file');
  if (!args.out) throw new UsageError('--out <bundle-dir> is required');
  const shardMb = Number(args['shard-mb']);
  if (!(shardMb > 0)) throw new UsageError(`--shard-mb must be positive (got ${shardMb})`);
  if ((args.mean === undefined) !== (args.std === undefined)) throw new UsageError('--mean and --std go together');
  if (args.std !== undefined && !(Number(args.std) > 0)) throw new UsageError(`--std must be positive (got ${args.std})`);

  let overrides: DeepPartial<ModelConfig> | undefined;
  if (args.config) {
    try {
      overrides = JSON.parse(await readFile(String(args.config), 'utf8')) as DeepPartial<ModelConfig>;
    } catch (e) {
      throw new UsageError(`--config ${args.config}: ${(e as Error).message}`);
    }
  }
  const preprocess = {
    ...(args['raw-voxels'] !== undefined ? { rawVoxels: Number(args['raw-voxels']) } : {}),
    ...(args.mean !== undefined ? { mean: Number(args.mean), std: Number(args.std) } : {}),
  };

  const files = args._.map((path) => ({ path, access: fileAccess(path) }));
  try {
    const inputs: ConvertInput[] = [];
    for (const { path, access } of files) {
      process.stderr.write(`reading ${path}\n`);
      inputs.push({ checkpoint: readCheckpoint(basename(path), access), sha256: await sha256File(path) });
    }
    const plan = planConversion(inputs, { overrides, preprocess });
    const { report } = plan;
    for (const k of report.kinds) process.stdout.write(`${k.file}: ${k.kind}, ${k.tensors} tensors\n`);
    if (report.overridden.length) {
      const byPair = new Map<string, number>();
      for (const o of report.overridden) byPair.set(`${o.by} overrides ${o.from}`, (byPair.get(`${o.by} overrides ${o.from}`) ?? 0) + 1);
      for (const [pair, n] of byPair) process.stdout.write(`${pair}: ${n} tensors\n`);
    }
    for (const n of report.notes) process.stdout.write(`note: ${n}\n`);
    if (report.extra.length)
      process.stdout.write(
        `ignored ${report.extra.length} unexpected tensors: ${report.extra.slice(0, 10).join(', ')}${report.extra.length > 10 ? ', …' : ''}\n`,
      );
    if (report.extras.length) process.stdout.write(`kept ${report.extras.length} decoding_studio.* tensors: ${report.extras.join(', ')}\n`);
    process.stdout.write(
      report.keptVQEncoder
        ? 'kept the VQ encoder and quant_conv for the low-level decoder\n'
        : 'no low-level decoder (decoding_studio.lowlevel.*): the VQ encoder is not needed and was dropped\n',
    );
    process.stdout.write(
      `dropped ${report.dropped} tensors not used for inference${report.droppedNames.length ? `: ${report.droppedNames.slice(0, 10).join(', ')}${report.droppedNames.length > 10 ? `, … (${report.droppedNames.length - 10} more)` : ''}` : ''}\n`,
    );
    if (plan.config.preprocess.mean === undefined)
      process.stdout.write('note: no --mean/--std: the bundle expects already z-scored input\n');

    const dtype = args.fp16 ? 'float16' : 'float32';
    const out = String(args.out);
    const writing = progressLine((done, total) => `writing ${mib(done)} / ${mib(total)}`);
    const manifest = await writeConvertedBundle(dirSink(out), plan, {
      dtype,
      shardBytes: Math.round(shardMb * 2 ** 20),
      onProgress: writing.update,
    });
    writing.end();
    const bytes = manifest.shards.reduce((a, s) => a + s.nbytes, 0);
    process.stdout.write(`wrote ${out}: ${manifest.tensors.length} tensors, ${manifest.shards.length} shard(s), ${mib(bytes)}, ${dtype}\n`);
    for (const [net, n] of Object.entries(plan.params)) process.stdout.write(`  ${net.padEnd(12)} ${millions(n)} params\n`);
  } finally {
    for (const f of files) f.access.close();
  }
}

main().catch((e: Error) => {
  process.stderr.write(`\nconvert: ${e.name === 'UsageError' ? '' : `${e.name}: `}${e.message}\n`);
  if (e.name === 'UsageError') process.stderr.write('run with --help for the options\n');
  process.exitCode = e.name === 'UsageError' ? 2 : 1;
});
