// `npm run decode` prints PCC / SSIM and the CNN's class whenever the fMRI file has ground truth (a file of
// the bundled SIMULATED data set), checked against an independent oracle: test/oracles/reference_decode_metrics.py reads
// the written PNGs with zlib, the stimulus from images_32.npz with numpy, and runs the CNN in PyTorch.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PYTHON, REPO_ROOT } from '../../test/golden';
import { npyToFloat32, readNpy, writeNpy } from '../io/npy';
import type { ModelConfig } from '../model/config';

const run = promisify(execFile);
const TSX = join(REPO_ROOT, 'node_modules/.bin/tsx');
const DATA = join(REPO_ROOT, 'public/data/god-synth');
const MODEL = join(REPO_ROOT, 'public/models/default');

interface Score {
  name: string;
  pcc: number;
  ssim: number;
  cnnClass?: string;
}

async function decode(out: string, args: string[], model = MODEL): Promise<{ stdout: string; stderr: string }> {
  return run(
    TSX,
    [
      'src/cli/decode.ts',
      '--model',
      model,
      '--out',
      out,
      '--backend',
      'cpu',
      '--sampler',
      'ddim',
      '--guidance',
      '1',
      '--init',
      'noise',
      '--strength',
      '1',
      ...args,
    ],
    { cwd: REPO_ROOT, timeout: 240_000 },
  );
}

async function oracle(out: string, n: number, split: 'train' | 'test', image: number): Promise<Score[]> {
  const { stdout } = await run(PYTHON, ['test/oracles/reference_decode_metrics.py', out, String(n), DATA, split, String(image)], {
    cwd: REPO_ROOT,
    timeout: 120_000,
  });
  return JSON.parse(stdout) as Score[];
}

function expectScores(ours: Score[], ref: Score[]): void {
  expect(ours.map((s) => s.name)).toEqual(ref.map((s) => s.name));
  ours.forEach((s, i) => {
    expect(Math.abs(s.pcc - ref[i].pcc), `${s.name} PCC`).toBeLessThanOrEqual(1e-6);
    expect(Math.abs(s.ssim - ref[i].ssim), `${s.name} SSIM`).toBeLessThanOrEqual(1e-6);
    expect(s.cnnClass, `${s.name} CNN class`).toBe(ref[i].cnnClass);
  });
}

describe('npm run decode: metrics against the ground truth (SIMULATED data set)', () => {
  let tmp = '';
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'decode-metrics-'));
  });
  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('a single-sample file of the data set: every sample and their pixel mean scored, as the oracle scores the PNGs', async () => {
    const out = join(tmp, 'single');
    const { stdout } = await decode(out, ['--fmri', join(DATA, 'sample_test0.npy'), '--steps', '3', '--samples', '2', '--dump']);
    const written = JSON.parse(await readFile(join(out, 'metrics.json'), 'utf8')) as {
      groundTruth: { source: string; className: string };
      scores: Score[];
    };
    expect(written.groundTruth).toMatchObject({ source: 'test image 0 of images_32.npz' });
    expectScores(written.scores, await oracle(out, 2, 'test', 0));
    // Printed, one line per image, with the SIMULATED label.
    expect(stdout).toMatch(/^ground truth: test image 0 of images_32\.npz \(.+\); data set SYNTHETIC/m);
    for (const s of written.scores)
      expect(stdout).toContain(`PCC ${s.pcc.toFixed(3)} · SSIM ${s.ssim.toFixed(3)} · CNN class ${s.cnnClass}`);
    expect(stdout).toMatch(/SIMULATED data set, not brain data/);
  }, 300_000);

  it('a GOD-layout file: the stimulus of the chosen training sample (arr_3), not of another row', async () => {
    const out = join(tmp, 'train');
    await decode(out, ['--fmri', join(DATA, 'sbj_3.npz'), '--split', 'train', '--sample', '5', '--steps', '2']);
    const { stdout: idx } = await run(PYTHON, ['-c', `import numpy as np; print(int(np.load('${join(DATA, 'sbj_3.npz')}')['arr_3'][5]))`]);
    const image = Number(idx.trim());
    const written = JSON.parse(await readFile(join(out, 'metrics.json'), 'utf8')) as { groundTruth: { source: string }; scores: Score[] };
    expect(written.groundTruth.source).toBe(`train image ${image} of images_32.npz`);
    expectScores(written.scores, await oracle(out, 1, 'train', image));
  }, 300_000);

  it('a run from the low-level start scores that start too (lowlevel.png), as the oracle scores it', async () => {
    const out = join(tmp, 'lowlevel');
    const { stdout } = await decode(out, [
      '--fmri',
      join(DATA, 'sample_test0.npy'),
      '--steps',
      '20',
      '--init',
      'lowlevel',
      '--strength',
      '0.1',
    ]);
    const written = JSON.parse(await readFile(join(out, 'metrics.json'), 'utf8')) as { scores: Score[] };
    expect(written.scores.map((s) => s.name)).toEqual(['sample 0', 'low-level start']);
    expectScores(written.scores, await oracle(out, 1, 'test', 0));
    expect(stdout).toMatch(/^ {2}low-level start +PCC \d\.\d{3} · SSIM/m);
  }, 300_000);

  it('refuses a sample the file does not have before loading the model', async () => {
    const r = await decode(join(tmp, 'no-such-sample'), ['--fmri', join(DATA, 'sample_test0.npy'), '--sample', '5']).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(r?.code).toBe(1);
    expect(r?.stderr).toContain("--sample 5: sample_test0.npy (split 'all') has only sample 0");
    expect(r?.stderr).not.toMatch(/loading model/);
  }, 120_000);

  it("the NIfTI sample through its mask decodes as the .npy does (its voxels put into the model's order); a mask lacking a model voxel is refused", async () => {
    const args = ['--steps', '2', '--samples', '1'];
    const npy = join(tmp, 'order-npy');
    const nii = join(tmp, 'order-nii');
    await decode(npy, ['--fmri', join(DATA, 'sample_test0.npy'), ...args]);
    const { stderr } = await decode(nii, [
      '--fmri',
      join(DATA, 'sample_test0.nii.gz'),
      '--mask',
      join(DATA, 'sample_mask.nii.gz'),
      ...args,
    ]);
    expect(stderr).toContain(
      "voxel order: put into the model's (its 4,511 voxels' positions matched in mm through sample_mask.nii.gz's sform)",
    );
    const scores = async (out: string) => (JSON.parse(await readFile(join(out, 'metrics.json'), 'utf8')) as { scores: Score[] }).scores;
    expect(await scores(nii)).toEqual(await scores(npy));
    expect((await readFile(join(nii, 'sample_0.png'))).equals(await readFile(join(npy, 'sample_0.png')))).toBe(true);
    // The mask less the model's first voxel (numpy/nibabel): refused before any decoding, exit code 1.
    const mask = join(tmp, 'mask_less_one.nii.gz');
    await run(PYTHON, [
      '-c',
      'import sys, numpy as np, nibabel as nib\n' +
        "m = nib.load(sys.argv[1] + '/sample_mask.nii.gz'); x = np.load(sys.argv[1] + '/sbj_3.npz')['voxel_xyz'][0]\n" +
        'i, j, k = np.round(np.linalg.inv(m.affine) @ np.r_[x, 1])[:3].astype(int); d = m.get_fdata().astype(np.uint8); d[i, j, k] = 0\n' +
        'nib.Nifti1Image(d, m.affine).to_filename(sys.argv[2])',
      DATA,
      mask,
    ]);
    const err = await decode(join(tmp, 'order-refused'), ['--fmri', join(DATA, 'sample_test0.nii.gz'), '--mask', mask, ...args]).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(1);
    expect(err?.stderr).toContain(
      'error: 1 of the 4,511 voxels the model default-god-synth-sbj3 takes are not among the 4,510 voxels of sample_test0.nii.gz, ' +
        "the first at (-29, -97, 5) mm; the mask is not the one the model was trained on: use the model's own mask",
    );
  }, 300_000);

  it("a model that does not record its voxels' positions (the authors' checkpoints): the grid's order, as before, and a note says so", async () => {
    // The default bundle without the positions' manifest entry (the shard is the same file).
    const bare = join(tmp, 'no-positions');
    await mkdir(bare);
    const manifest = JSON.parse(await readFile(join(MODEL, 'manifest.json'), 'utf8')) as { tensors: { name: string }[] };
    manifest.tensors = manifest.tensors.filter((t) => t.name !== 'decoding_studio.voxels.xyz_mm');
    await writeFile(join(bare, 'manifest.json'), JSON.stringify(manifest));
    await copyFile(join(MODEL, 'shard-000.bin'), join(bare, 'shard-000.bin'));
    const args = ['--steps', '2', '--samples', '1'];
    const nii = join(tmp, 'unchecked-nii');
    const { stderr } = await decode(
      nii,
      ['--fmri', join(DATA, 'sample_test0.nii.gz'), '--mask', join(DATA, 'sample_mask.nii.gz'), '--dump', ...args],
      bare,
    );
    expect(stderr).toContain(
      "voxel order: the grid's C order over (x, y, z); the model does not record its voxels' positions, so this must be the order the model was trained on",
    );
    // The vector decoded is the grid's C order (nibabel: data[mask > 0]), not the model's (the .npy).
    const { stdout } = await run(PYTHON, [
      '-c',
      'import sys, json, nibabel as nib\n' +
        "d = nib.load(sys.argv[1] + '/sample_test0.nii.gz').get_fdata(); m = nib.load(sys.argv[1] + '/sample_mask.nii.gz').get_fdata()\n" +
        'print(json.dumps(d[m > 0].astype("float32").tolist()))',
      DATA,
    ]);
    const dumped = npyToFloat32(readNpy(new Uint8Array(await readFile(join(nii, 'fmri.npy')))));
    const { config } = JSON.parse(await readFile(join(MODEL, 'manifest.json'), 'utf8')) as { config: ModelConfig };
    const { mean, std } = config.preprocess;
    const gridOrder = JSON.parse(stdout) as number[];
    gridOrder.forEach((x, v) => expect(Math.abs(dumped[v] - (x - mean!) / std!), `voxel ${v}`).toBeLessThan(1e-5));
  }, 300_000);

  it("prints no metrics for a file that is not the data set's (no ground truth known), nor for single test trials", async () => {
    const arr = readNpy(new Uint8Array(await readFile(join(DATA, 'sample_test0.npy'))));
    const own = join(tmp, 'own.npy');
    await writeFile(
      join(own),
      writeNpy(
        npyToFloat32(arr).map((v) => v * 1.01),
        arr.shape,
      ),
    );
    const out = join(tmp, 'own');
    const { stdout } = await decode(out, ['--fmri', own, '--steps', '1']);
    expect(stdout).not.toMatch(/PCC|ground truth/);
    expect(existsSync(join(out, 'metrics.json'))).toBe(false);
    expect(existsSync(join(out, 'sample_0.png'))).toBe(true);
    const single = join(tmp, 'single-trial');
    const r = await decode(single, ['--fmri', join(DATA, 'sbj_3.npz'), '--split', 'test-single', '--sample', '0', '--steps', '1']);
    expect(r.stdout).not.toMatch(/PCC/);
  }, 300_000);
});
