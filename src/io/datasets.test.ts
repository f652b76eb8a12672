// Data sets as researchers hold them (issue 13): BOLD5000 per-ROI files and stimulus lists, NSD betas with
// nsdgeneral masks (values −1/0/1, int16 × 300; .nii.gz streamed and .hdf5 [T, Z, Y, X]), bdpy test trials
// averaged by Label, ground-truth image files. Oracles: numpy/h5py/nibabel in test/fixtures/make_dataset_fixtures.py.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PUBLISHED_GOD_SBJ3, type ModelConfig } from '../model/config';
import { parseArgs, UsageError } from '../cli/args';
import { makeReceipt, parseReceipt, receiptToJson } from '../engine/receipt';
import { FMRI_INPUT_SPEC, readFmriInputs, refuseExtraArguments } from '../cli/fmriInputs';
import { readFmriFile, type FmriFile, type PhaseProgress } from './fmriFile';
import { readMask } from './mask';
import { voxelMismatch } from './modelFit';
import { npyToFloat32, readNpy } from './npy';
import { readNpz } from './npz';
import { readFmriStream } from './stream';
import { nativeInflate, readStudioInput } from './studioInput';
import { concatenateParts, readStimulusList } from './subject';
import { readTruthImages, truthFor, truthFromList } from './truthImages';
import { loadGodLayout, scoreAgainstImages } from '../eval/userData';

const here = dirname(fileURLToPath(import.meta.url));
const GEN = resolve(here, '..', '..', 'test', 'fixtures', 'make_dataset_fixtures.py');
let dir = '';
const P = (...n: string[]) => join(dir, ...n);
const bytes = (...n: string[]) => new Uint8Array(readFileSync(P(...n)));
const ref = (name: string) => {
  const a = readNpy(bytes(`ref_${name}.npy`));
  return { shape: a.shape, data: npyToFloat32(a) };
};
const AUTHORS = ['EarlyVis', 'LOC', 'OPA', 'PPA', 'RSC'].flatMap((r) => [`LH${r}`, `RH${r}`]);
const partFile = (p: string) => `CSI1_GLMbetas-TYPED-FITHRF-GLMDENOISE-RR_allses_${p}.npy`;

function matrix(f: FmriFile): Float32Array {
  const out = new Float32Array(f.samples * f.voxels);
  for (let i = 0; i < f.samples; i++) out.set(f.getSample(i), i * f.voxels);
  return out;
}

/** Equal to the oracle: exactly (rel 0) or within `rel` relative (float32 rounding of a product or mean). */
function expectRef(f: FmriFile, name: string, rel = 0): void {
  const e = ref(name);
  expect([f.samples, f.voxels]).toEqual(e.shape);
  const got = matrix(f);
  if (rel === 0) {
    expect(Array.from(got)).toEqual(Array.from(e.data));
    return;
  }
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - e.data[i]) / Math.max(1e-3, Math.abs(e.data[i])));
  expect(worst).toBeLessThan(rel);
}

async function* chunksOf(b: Uint8Array, size = 7): AsyncGenerator<Uint8Array> {
  for (let o = 0; o < b.length; o += size) yield b.slice(o, o + size);
}
const stream = (name: string, opts = {}) => readFmriStream(name, bytes(name).length, () => chunksOf(bytes(name), 333), opts);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'datasets-'));
  execFileSync('/usr/bin/python3', [GEN, dir], { stdio: 'pipe' });
}, 120_000);
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('BOLD5000: a subject of ten per-ROI files', () => {
  const parts = async (order: string[]) =>
    Promise.all(order.map(async (p) => readFmriFile(partFile(p), bytes('bold5000', 'CSI1', partFile(p)))));

  it("concatenates in the authors' order (EarlyVis…RSC, LH before RH) whatever the order given", async () => {
    const f = concatenateParts('CSI1', await parts([...AUTHORS].sort().reverse()));
    expect(f.parts).toEqual(AUTHORS.map(partFile));
    expectRef(f, 'bold5000_all');
    expect(f.note).toMatch(/authors' BOLD5000 order/);
    expect(Object.keys(f.masks ?? {})).toEqual(AUTHORS);
    // Each part is an ROI over the concatenated voxels: RHLOC is the 4th block.
    const rhloc = f.select({ roi: 'RHLOC' });
    const all = ref('bold5000_all');
    const sizes = AUTHORS.map((p) => readNpy(bytes('bold5000', 'CSI1', partFile(p))).shape[1]);
    const start = sizes.slice(0, 3).reduce((a, b) => a + b, 0);
    expect(Array.from(rhloc.getSample(5))).toEqual(
      Array.from(all.data.subarray(5 * all.shape[1] + start, 5 * all.shape[1] + start + sizes[3])),
    );
  });

  it('takes another order when asked (file names or labels) and refuses an incomplete one', async () => {
    const ps = await parts(AUTHORS);
    expectRef(concatenateParts('CSI1', ps, { order: [...AUTHORS].sort() }), 'bold5000_alphabetical');
    expect(() => concatenateParts('CSI1', ps, { order: AUTHORS.slice(1) })).toThrow(/leaves out .*LHEarlyVis/);
    expect(() => concatenateParts('CSI1', ps, { order: [...AUTHORS, 'LHV1'] })).toThrow(/'LHV1' is none of the files/);
  });

  it('stimulus list: repeated images averaged into test-avg (np.unique order), single trials and train kept', async () => {
    const labels = readStimulusList('CSI1_stim_lists.txt', bytes('bold5000', 'CSI1', 'CSI1_stim_lists.txt'));
    const f = concatenateParts('CSI1', await parts(AUTHORS), { stimuli: { name: 'CSI1_stim_lists.txt', labels } });
    expect(f.split).toBe('test-avg');
    expect(f.splitKinds).toMatchObject({ 'test-avg': 'averaged', 'test-single': 'single', train: 'single' });
    expect(f.labels).toEqual(['rep_a.jpg', 'rep_b.jpg']);
    expectRef(f, 'bold5000_test_avg', 1e-6);
    expectRef(f.select({ split: 'test-single' }), 'bold5000_test_single');
    expectRef(f.select({ split: 'train' }), 'bold5000_train');
    expect(() => concatenateParts('CSI1', [f.select({ split: 'train' })], { stimuli: { name: 'l.txt', labels } })).toThrow(
      /14 names, the data 8 trials/,
    );
  });

  it('refuses parts with different trial counts, naming each', async () => {
    const ps = await parts(AUTHORS.slice(0, 2));
    const short = { ...ps[1], name: 'short.npy', samples: 3 };
    expect(() => concatenateParts('CSI1', [ps[0], short as FmriFile])).toThrow(/not have the same number of samples: .*14, short.npy 3/);
  });

  it('an .npz with one member per ROI is concatenated the same way', async () => {
    const f = await readFmriFile('bold5000_rois.npz', bytes('bold5000_rois.npz'));
    expectRef(f, 'bold5000_all');
    expect(f.parts).toEqual(AUTHORS);
    expect(f.note).toMatch(/10 ROI members concatenated/);
  });
});

describe('NSD: nsdgeneral mask values and int16 × 300', () => {
  it('mask values −1/0/1: only 1 is inside (not every non-zero value)', async () => {
    const m = await readMask('nsdgeneral.nii.gz', bytes('nsdgeneral.nii.gz'));
    expect(m.count).toBe(ref('nsd_masked_raw').shape[1]);
    expect(m.count).toBeLessThan(ref('nsd_nonzero_count').data[0]);
    expect(m.note).toMatch(/NSD mask values recognised/);
  });

  it.each([
    ['whole file', false],
    ['streamed', true],
  ])('betas_session01.nii.gz (%s): masked and scaled by 1/300, and said', async (_, streamed) => {
    const opts = { mask: bytes('nsdgeneral.nii.gz'), maskName: 'nsdgeneral.nii.gz' };
    const f = streamed
      ? await stream('betas_session01.nii.gz', opts)
      : await readFmriFile('betas_session01.nii.gz', bytes('betas_session01.nii.gz'), opts);
    expectRef(f, 'nsd_masked_scaled', 1e-6);
    expect(f.note).toMatch(/NSD convention recognised .*× 1\/300/);
  });

  it("the e2e pair (20×20×20 grid, 4,511 voxels inside) streams to numpy's values", async () => {
    const b = bytes('nsd4511', 'betas_session01.nii.gz');
    const f = await readFmriStream('betas_session01.nii.gz', b.length, () => chunksOf(b, 4096), {
      mask: bytes('nsd4511', 'nsdgeneral.nii.gz'),
    });
    expectRef(f, 'nsd4511', 1e-6);
  });

  it('the convention is not guessed from other names, can be asked for, or turned off', async () => {
    const opts = { mask: bytes('nsdgeneral.nii.gz'), maskName: 'nsdgeneral.nii.gz' };
    const plain = await stream('plain_int16.nii.gz', opts);
    expectRef(plain, 'nsd_masked_raw');
    expect(plain.note).toMatch(/int16 values used unscaled/);
    expectRef(await stream('plain_int16.nii.gz', { ...opts, convention: 'nsd' }), 'nsd_masked_scaled', 1e-6);
    expectRef(await stream('betas_session01.nii.gz', { ...opts, convention: 'none' }), 'nsd_masked_raw');
    expectRef(await stream('betas_session01.nii.gz', { ...opts, scale: 1 }), 'nsd_masked_raw');
  });

  it('betas_session01.hdf5 (/betas [T, Z, Y, X], one chunk per voxel) read through the mask', async () => {
    const f = await readFmriFile('betas_session01.hdf5', bytes('betas_session01.hdf5'), {
      mask: bytes('nsdgeneral.nii.gz'),
      maskName: 'nsdgeneral.nii.gz',
    });
    expectRef(f, 'nsd_masked_scaled', 1e-6);
    expect(f.note).toMatch(/\[T, Z, Y, X\] volumes read through mask nsdgeneral.nii.gz/);
    await expect(readFmriFile('betas_session01.hdf5', bytes('betas_session01.hdf5'))).rejects.toThrow(
      /4-D volume series 6×3×4×5: give a mask/,
    );
  });

  it('a 4-D [X, Y, Z, T] HDF5 (a nibabel array saved by h5py) read through the mask', async () => {
    const f = await readFmriFile('volumes_xyzt.h5', bytes('volumes_xyzt.h5'), {
      mask: bytes('nsdgeneral.nii.gz'),
      maskName: 'nsdgeneral.nii.gz',
    });
    expectRef(f, 'xyzt_masked');
  });

  it("every NSD path through the mask carries each voxel's (i, j, k) on its grid, row v = voxel v (numpy's argwhere order)", async () => {
    const mask = { mask: bytes('nsdgeneral.nii.gz'), maskName: 'nsdgeneral.nii.gz' };
    const want = Array.from(ref('nsd_mask_ijk').data);
    // NIfTI's own (i fastest) order lists the same voxels otherwise on this 5×4×3 grid: the check can tell.
    expect(Array.from(ref('nsd_mask_ijk_fortran').data)).not.toEqual(want);
    const blob = (n: string) => ({ name: n, file: new Blob([bytes(n)]) });
    const files = [
      await readFmriFile('betas_session01.nii.gz', bytes('betas_session01.nii.gz'), mask),
      await stream('betas_session01.nii.gz', mask),
      (await readStudioInput({ ...blob('betas_session01.nii.gz'), mask: blob('nsdgeneral.nii.gz') })).file,
      await readFmriFile('betas_session01.hdf5', bytes('betas_session01.hdf5'), mask),
      await readFmriFile('volumes_xyzt.h5', bytes('volumes_xyzt.h5'), mask),
    ];
    for (const f of files) {
      expect(f.coords).toMatchObject({ space: 'grid', step: 1, dims: [5, 4, 3] });
      expect(Array.from(f.coords!.xyz)).toEqual(want);
    }
  });

  it('streamed big-endian float NIfTI with scl_slope equals nibabel', async () => {
    expectRef(await stream('be_slope.nii', { mask: bytes('nsdgeneral.nii.gz'), maskName: 'nsdgeneral.nii.gz' }), 'be_slope_masked', 1e-6);
  });

  it('streaming reports byte progress up to the file size and can be cancelled', async () => {
    const seen: number[] = [];
    const size = bytes('betas_session01.nii.gz').length;
    await stream('betas_session01.nii.gz', {
      mask: bytes('nsdgeneral.nii.gz'),
      onProgress: (p: PhaseProgress) => seen.push(p.phase === 'bytes' ? p.done : Number.NaN),
    });
    expect(seen.at(-1)).toBe(size);
    expect(seen.every((v, i) => i === 0 || v > seen[i - 1])).toBe(true);
    const ac = new AbortController();
    ac.abort();
    await expect(stream('betas_session01.nii.gz', { mask: bytes('nsdgeneral.nii.gz'), signal: ac.signal })).rejects.toMatchObject({
      name: 'AbortError',
    });
  });

  it('a grid that does not match the mask, and a truncated stream, are named', async () => {
    const b = bytes('betas_session01.nii.gz');
    await expect(
      readFmriStream('betas_session01.nii.gz', b.length, () => chunksOf(b.subarray(0, b.length - 40), 999), {
        mask: bytes('nsdgeneral.nii.gz'),
      }),
    ).rejects.toThrow(/truncated/);
    const other = new Uint8Array(5 * 4 * 2).fill(1);
    await expect(stream('betas_session01.nii.gz', { mask: other, maskName: 'small' })).rejects.toThrow(/mask has 40 entries, expected 60/);
  });
});

describe("the studio's reads (Blobs, sha256 on the way, native gzip with fflate as fallback)", () => {
  const blob = (...n: string[]) => ({ name: n.at(-1)!, file: new Blob([bytes(...n)]) });
  it.each(['betas_session01.nii.gz', 'multi_betas_session01.nii.gz'])(
    '%s with nsdgeneral.nii.gz equals nibabel; sha256 as node:crypto',
    async (name) => {
      const seen: number[] = [];
      const r = await readStudioInput({ ...blob(name), mask: blob('nsdgeneral.nii.gz') }, { onProgress: (p) => seen.push(p.done) });
      expectRef(r.file, 'nsd_masked_scaled', 1e-6);
      expect(r.sha256).toBe(createHash('sha256').update(bytes(name)).digest('hex'));
      expect(r.inputs.map((x) => x.role)).toEqual(['data', 'mask']);
      expect(seen.at(-1)).toBe(bytes(name).length);
    },
  );
  it('a BOLD5000 selection: parts in the authors order, the digest of the digests in order', async () => {
    const parts = [...AUTHORS].reverse().map((p) => blob('bold5000', 'CSI1', partFile(p)));
    const r = await readStudioInput({ name: 'CSI1', file: parts[0].file, parts, stimuli: blob('bold5000', 'CSI1', 'CSI1_stim_lists.txt') });
    expectRef(r.file, 'bold5000_test_avg', 1e-6);
    const digests = AUTHORS.map((p) =>
      createHash('sha256')
        .update(bytes('bold5000', 'CSI1', partFile(p)))
        .digest('hex'),
    );
    expect(r.sha256).toBe(createHash('sha256').update(digests.join('\n')).digest('hex'));
  });
  it('native inflate yields what gunzip gives', async () => {
    const out: Uint8Array[] = [];
    for await (const c of nativeInflate(chunksOf(bytes('betas_session01.nii.gz'), 100))) out.push(c);
    expect(Buffer.concat(out).equals(gunzipSync(bytes('betas_session01.nii.gz')))).toBe(true);
  });
});

describe('bdpy/BData: test trials averaged by Label', () => {
  it('test-avg is the mean over the trials of each Label, in sorted Label order, named as averaged', async () => {
    const f = await readFmriFile('bdata_avg.h5', bytes('bdata_avg.h5'));
    expect(f.split).toBe('test-avg');
    expect(f.splitKinds?.['test-avg']).toBe('averaged');
    expect(f.splitKinds?.test).toBe('single');
    expect(f.roi).toBe('VC');
    expectRef(f, 'bdata_test_avg_VC', 1e-5);
    expect(f.labels?.map(Number)).toEqual(Array.from(ref('bdata_test_avg_labels').data));
    expect(f.note).toMatch(/9 test trials averaged by Label into 3 stimuli \(3 trials each\)/);
  });
});

describe('ground truth for your own data', () => {
  it('BOLD5000 images converted to images + names_utf8: matched by stimulus name', async () => {
    const labels = readStimulusList('l.txt', bytes('bold5000', 'CSI1', 'CSI1_stim_lists.txt'));
    const ps = await Promise.all(AUTHORS.map((p) => readFmriFile(partFile(p), bytes('bold5000', 'CSI1', partFile(p)))));
    const f = concatenateParts('CSI1', ps, { stimuli: { name: 'l.txt', labels } });
    const t = readTruthImages('bold5000_images.npz', bytes('bold5000_images.npz'));
    const gt = truthFor(t, f, 1)!;
    expect(gt.how).toMatch(/rep_b.jpg/);
    expect(Array.from(gt.image.data)).toEqual(Array.from(ref('bold5000_truth_rep_b').data));
    expect(truthFor(t, f.select({ split: 'train' }), 0)).toBeUndefined();
  });

  it('scripts/bold5000_images.py turns the pickled img_dict.npy into images + names the reader takes', () => {
    const out = P('converted.npz');
    execFileSync(
      '/usr/bin/python3',
      [resolve(here, '..', '..', 'scripts', 'bold5000_images.py'), P('bold5000', 'CSI1', 'img_dict.npy'), out, '--size', '8'],
      { stdio: 'pipe' },
    );
    const t = readTruthImages('converted.npz', bytes('converted.npz'));
    expect([...(t.names?.keys() ?? [])]).toEqual(['rep_a']);
    expect(t.arrays.images.shape).toEqual([1, 8, 8, 3]);
  });

  it("GOD's images_256.npz layout: bdpy test-avg row i shows test image i", async () => {
    const f = await readFmriFile('bdata_avg.h5', bytes('bdata_avg.h5'));
    const t = readTruthImages('images_god.npz', bytes('images_god.npz'));
    const gt = truthFor(t, f, 2)!;
    expect(gt.image).toMatchObject({ height: 8, width: 8, channels: 3 });
    const test = readNpz(bytes('images_god.npz')).test_images;
    expect(Array.from(gt.image.data)).toEqual(Array.from((test.data as Uint8Array).subarray(2 * 192, 3 * 192)));
    expect(gt.how).toMatch(/test image 2 \(averaged rows in sorted Label order, Label 30.5\)/);
  });

  it('an fMRI file given as images is refused, naming what was expected', () => {
    expect(() => readTruthImages('bdata_avg.h5', bytes('bdata_avg.h5'))).toThrow(/must be an .npz or .npy of uint8 images/);
    expect(() => readTruthImages('bold5000_rois.npz', bytes('bold5000_rois.npz'))).toThrow(/no image array found/);
    expect(() => truthFromList('tiny', [{ name: 'a.png', image: { height: 4, width: 5, channels: 3, data: new Uint8Array(60) } }])).toThrow(
      /4×5 pixels are too small/,
    );
  });
});

describe('npm run eval on a GOD-layout directory', () => {
  it('reads sbj_N.npz test-avg with the ROI and images_256.npz test images; perfect reconstructions score 1', async () => {
    const set = await loadGodLayout(P('god'), { roi: 'VC' });
    expect(set.subjectFile).toBe('sbj_1.npz');
    expectRef(set.fmri, 'god_test_avg_VC');
    expect(set.gt.map((g) => [g.height, g.width])).toEqual([
      [8, 8],
      [8, 8],
      [8, 8],
    ]);
    const m = scoreAgainstImages(set.gt, set.gt);
    expect(m).toMatchObject({ n_test: 3, top1_nway: 1, pair2way_pcc: 1 });
    expect(m.pcc).toBeCloseTo(1, 12);
    const shuffled = scoreAgainstImages([set.gt[1], set.gt[2], set.gt[0]], set.gt);
    expect(shuffled.top1_nway).toBe(0);
    await expect(loadGodLayout(P('bold5000'))).rejects.toThrow(/no sbj_N.npz .*GOD-layout directory holds sbj_N.npz and images_256.npz/);
  });
});

describe('a voxel count the model does not take names the real cause', () => {
  const model = (raw: number): ModelConfig => ({
    ...PUBLISHED_GOD_SBJ3,
    name: 'god-sbj_3-VC',
    encoder: { ...PUBLISHED_GOD_SBJ3.encoder, numVoxels: Math.ceil(raw / 16) * 16 },
    preprocess: { rawVoxels: raw, roi: 'VC' },
  });
  it("names the model's subject and ROI and says a model is trained for one subject", () => {
    const msg = voxelMismatch({ name: 'sbj_1.npz', voxels: 4466, roi: 'VC', masks: { VC: new Uint8Array(4466).fill(1) } }, model(4511));
    expect(msg).toMatch(
      /sbj_1.npz has 4,466 voxels in ROI VC; the model god-sbj_3-VC is trained for subject 3 \(ROI VC\) and takes 4,511 voxels of ROI VC\. A model is trained for one subject/,
    );
    expect(voxelMismatch({ name: 'x', voxels: 4511 }, model(4511))).toBeUndefined();
  });
  it('points to the ROI when the file has one of the right size', () => {
    const masks = { VC: new Uint8Array(10).fill(1), V1: Uint8Array.from({ length: 10 }, (_, i) => (i < 4 ? 1 : 0)) };
    expect(voxelMismatch({ name: 'f', voxels: 10, roi: 'VC', masks }, model(4))).toMatch(/select ROI V1/);
  });
});

describe('CLI inputs', () => {
  const parse = (argv: string[]) => parseArgs(argv, FMRI_INPUT_SPEC);
  const quiet = () => {};

  it('refuses arguments that belong to no flag (a shell glob after --fmri) and keeps every --fmri', () => {
    expect(() => refuseExtraArguments(parse(['--fmri', 'a.npy', 'b.npy', 'c.npy']))).toThrow(UsageError);
    expect(() => refuseExtraArguments(parse(['--fmri', 'a.npy', 'b.npy']))).toThrow(/unexpected argument 'b.npy'.*repeat --fmri/);
    expect(parse(['--fmri', 'a', '--fmri', 'b', '--fmri', 'c']).fmri).toEqual(['a', 'b', 'c']);
    expect(() => parse(['--fmri', 'a', '--bogus'])).toThrow(/unknown option --bogus/);
  });

  it('decode refuses a shell glob and an unknown flag before reading anything (exit code 1, message on stderr)', () => {
    const run = (argv: string[]) => {
      try {
        execFileSync('npx', ['tsx', resolve(here, '..', 'cli', 'decode.ts'), ...argv], { stdio: 'pipe', cwd: resolve(here, '..', '..') });
        return { code: 0, err: '' };
      } catch (e) {
        const x = e as { status: number; stderr: Buffer };
        return { code: x.status, err: x.stderr.toString() };
      }
    };
    const glob = run(['--fmri', P('bold5000', 'CSI1', partFile('LHLOC')), P('bold5000', 'CSI1', partFile('RHLOC')), '--out', P('out')]);
    expect(glob.code).toBe(1);
    expect(glob.err).toMatch(/unexpected argument '.*RHLOC.npy': every value needs its flag/);
    expect(run(['--fmri', P('bold5000'), '--bogus', '--out', P('out')]).err).toMatch(/unknown option --bogus/);
  }, 120_000);

  it('receipts record the inputs and refuse a malformed list', () => {
    const base = {
      appVersion: '0',
      model: { name: 'm', sha256: 'a'.repeat(64), synthetic: true },
      sampler: 'ddim' as const,
      steps: 2,
      eta: 0,
      seed: 0,
      numSamples: 1,
      backend: 'wasm' as const,
    };
    const inputs = [
      { role: 'data' as const, fileName: 'a.npy', sha256: 'b'.repeat(64) },
      { role: 'mask' as const, fileName: 'm.nii.gz', sha256: 'c'.repeat(64) },
    ];
    const r = makeReceipt({ ...base, fmri: { fileName: 'CSI1', sha256: 'd'.repeat(64), split: 'test-avg', sampleIndex: 0, inputs } });
    expect(parseReceipt(JSON.parse(receiptToJson(r))).fmri.inputs).toEqual(inputs);
    expect(() =>
      makeReceipt({
        ...base,
        fmri: {
          fileName: 'x',
          sha256: 'd'.repeat(64),
          split: 's',
          sampleIndex: 0,
          inputs: [{ role: 'weights' as 'data', fileName: 'a', sha256: 'b'.repeat(64) }],
        },
      }),
    ).toThrow(/fmri.inputs\[0\].role must be one of data, mask, stimuli/);
  });

  it('a folder: BOLD5000 parts in the authors order, its stimulus list used, img_dict.npy left out and said', async () => {
    const lines: string[] = [];
    const r = await readFmriInputs(parse(['--fmri', P('bold5000', 'CSI1'), '--split', 'all']), (l) => lines.push(l), { write: quiet });
    expectRef(r.file, 'bold5000_all');
    expect(r.inputs.map((x) => x.fileName)).toEqual([...AUTHORS.map(partFile), 'CSI1_stim_lists.txt']);
    expect(r.inputs.every((x) => /^[0-9a-f]{64}$/.test(x.sha256))).toBe(true);
    expect(lines.join('\n')).toMatch(/ignored: img_dict.npy/);
    expect(lines.join('\n')).toMatch(/split 'all' \(single trials\), 14 samples/);
  });

  it('files in any order, --order, and the errors a user can make', async () => {
    const files = [...AUTHORS].reverse().flatMap((p) => ['--fmri', P('bold5000', 'CSI1', partFile(p))]);
    expectRef((await readFmriInputs(parse(files), quiet, { write: quiet })).file, 'bold5000_all');
    expectRef(
      (await readFmriInputs(parse([...files, '--order', [...AUTHORS].sort().join(',')]), quiet, { write: quiet })).file,
      'bold5000_alphabetical',
    );
    await expect(readFmriInputs(parse([...files, '--order', 'LHLOC']), quiet, { write: quiet })).rejects.toThrow(
      /--order: the order leaves out/,
    );
    await expect(readFmriInputs(parse(['--fmri', P('nope.npy')]), quiet, { write: quiet })).rejects.toThrow(
      /--fmri .*nope.npy: no such file or folder/,
    );
    await expect(
      readFmriInputs(parse(['--fmri', P('bold5000_rois.npz'), '--mask', P('bold5000')]), quiet, { write: quiet }),
    ).rejects.toThrow(/--mask .*a folder, expected a file/);
    await expect(readFmriInputs(parse(['--fmri', P('bold5000_rois.npz'), '--order', 'a,b']), quiet, { write: quiet })).rejects.toThrow(
      /--order needs several/,
    );
  });

  it('an NSD pair: mask and scale recognised, mask recorded with its sha256', async () => {
    const r = await readFmriInputs(parse(['--fmri', P('betas_session01.nii.gz'), '--mask', P('nsdgeneral.nii.gz')]), quiet, {
      write: quiet,
    });
    expectRef(r.file, 'nsd_masked_scaled', 1e-6);
    expect(r.inputs.map((x) => x.role)).toEqual(['data', 'mask']);
    expect(statSync(P('betas_session01.nii.gz')).size).toBeGreaterThan(0);
    await expect(readFmriInputs(parse(['--fmri', P('betas_session01.nii.gz')]), quiet, { write: quiet })).resolves.toMatchObject({
      file: { voxels: 60 },
    });
  });
});
