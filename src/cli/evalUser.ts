// `npm run eval -- --data <GOD-layout dir> --model <bundle>`: the user's own data set (sbj_N.npz +
// images_256.npz) decoded with a model and scored against its test images (eval/userData.ts). Called by
// eval.ts when the directory is not the bundled synthetic set (it has no meta.json).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseManifest, MANIFEST_FILE } from '../io/bundle/manifest';
import { voxelMismatch } from '../io/modelFit';
import { inModelOrder } from '../io/voxelOrder';
import { readVoxelPositions } from './nodeModel';
import type { ModelConfig } from '../model/config';
import { loadGodLayout, scoreAgainstImages } from '../eval/userData';
import type { SamplerName } from '../engine/types';
import { decodeMode, UsageError } from './args';
import { describeFile } from './fmriInputs';
import { progressLine } from './progress';

export async function evalGodLayout(args: Record<string, unknown>, scale: number | undefined): Promise<void> {
  if (!args.model || args.baseline || args.shuffle) {
    throw new UsageError(
      `${String(args.data)} is a GOD-layout directory (no meta.json): evaluate a --model on it; the baselines and --shuffle need the bundled set's reference models`,
    );
  }
  const modelDir = String(args.model);
  const config = parseManifest(await readFile(join(modelDir, MANIFEST_FILE), 'utf8')).config as ModelConfig;
  const set = await loadGodLayout(String(args.data), {
    ...(args.subject !== undefined ? { subject: Number(args.subject) } : {}),
    ...(args.roi ? { roi: String(args.roi) } : config.preprocess.roi ? { roi: config.preprocess.roi } : {}),
    ...(scale !== undefined ? { scale } : {}),
  });
  process.stderr.write(`${set.subjectFile}: ${describeFile(set.fmri)}\n`);
  // The file's voxels in the model's order, by their positions where both know them (voxel_xyz, the bundle's).
  const ordered = inModelOrder(set.fmri, { config, voxelXyzMm: await readVoxelPositions(modelDir) });
  if (ordered.note) process.stderr.write(`${ordered.note}\n`);
  const fmriFile = ordered.file;
  const mismatch = voxelMismatch(fmriFile, config);
  if (mismatch) throw new UsageError(mismatch);
  const numSamples = Number(args.samples);
  const opts = {
    sampler: args.sampler as SamplerName,
    steps: Number(args.steps),
    seed: Number(args.seed),
    numSamples,
    eta: Number(args.eta),
    ...decodeMode(args),
  };
  const { reconstructBatch } = await import('./reconstruct');
  const { initNodeBackend } = await import('./nodeBackend');
  await initNodeBackend(args.backend as 'wasm' | 'cpu' | 'webgpu');
  const fmri = Array.from({ length: fmriFile.samples }, (_, i) => fmriFile.getSample(i));
  const progress = progressLine((d, t) => `decoded ${d}/${t}`);
  const images = await reconstructBatch(modelDir, fmri, { ...opts, onProgress: progress.update });
  progress.end();
  // Each fMRI's first sample, grey (the decoded RGB [side, side, 3] in [0, 1]).
  const side = Math.sqrt(images[0].length / (3 * numSamples));
  const recons = images.map((img) => {
    const data = new Float64Array(side * side);
    for (let p = 0; p < data.length; p++) data[p] = (img[3 * p] + img[3 * p + 1] + img[3 * p + 2]) / 3;
    return { height: side, width: side, data };
  });
  const m = scoreAgainstImages(recons, set.gt);
  const rows: [string, number, string][] = [
    [`${m.n_test}-way top-1 (PCC)`, m.top1_nway, (1 / m.n_test).toFixed(3)],
    ['2-way PCC', m.pair2way_pcc, '0.50'],
    ['2-way SSIM', m.pair2way_ssim, '0.50'],
    ['pcc', m.pcc, '–'],
    ['ssim', m.ssim, '–'],
  ];
  process.stdout.write(
    [
      `${set.dir}: ${set.subjectFile} test-avg (averaged over trials) vs ${set.imagesFile}; model ${modelDir}${config.synthetic ? ' (trained on SIMULATED data)' : ''}`,
      `  ${'metric'.padEnd(22)} ${'value'.padStart(7)}   chance`,
      ...rows.map(([k, v, c]) => `  ${k.padEnd(22)} ${v.toFixed(3).padStart(7)}   ${c}`),
      "  first sample of each fMRI; reconstructions resized to the images' resolution, grey",
    ].join('\n') + '\n',
  );
  if (args.json)
    await writeFile(
      String(args.json),
      JSON.stringify({ data: set.dir, subject_file: set.subjectFile, model: modelDir, ...opts, ...m }, null, 1) + '\n',
    );
}
