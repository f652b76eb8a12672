// Health of the bundled SYNTHETIC data set public/data/god-synth (simulated responses, not brain data):
// layout, integrity, quantisation and the signal the simulation is meant to carry (spec data.md §3.9).
import { describe, it, expect, beforeAll } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readNpz } from '../io/npz';
import { readNpy } from '../io/npy';
import { loadSynthDataset, readSynthMeta, ROI_NAMES, SYNTHETIC_LABEL, SynthDataError, type SynthDataset } from './data';
import { permutation } from './baselines';

const DATA = 'public/data/god-synth';
let ds: SynthDataset;

beforeAll(async () => {
  ds = await loadSynthDataset(DATA);
});

/** Mean over the masked voxels of the across-image correlation between two [n, V] matrices. */
function meanVoxelCorrelation(a: Float64Array, b: Float64Array, n: number, V: number, mask: Uint8Array): number {
  let total = 0,
    count = 0;
  for (let v = 0; v < V; v++) {
    if (!mask[v]) continue;
    let ma = 0,
      mb = 0;
    for (let i = 0; i < n; i++) {
      ma += a[i * V + v];
      mb += b[i * V + v];
    }
    ma /= n;
    mb /= n;
    let sab = 0,
      saa = 0,
      sbb = 0;
    for (let i = 0; i < n; i++) {
      const da = a[i * V + v] - ma,
        db = b[i * V + v] - mb;
      sab += da * db;
      saa += da * da;
      sbb += db * db;
    }
    total += sab / Math.sqrt(saa * sbb);
    count++;
  }
  return total / count;
}

describe('synthetic god-synth data set', () => {
  it('is labelled synthetic, with the honesty text and no truth file', async () => {
    const meta = await readSynthMeta(DATA);
    expect(meta.label).toBe(SYNTHETIC_LABEL);
    expect(meta.description).toMatch(/Not real brain data/);
    expect(readFileSync(join(DATA, 'LICENSE-data.txt'), 'utf8')).toMatch(/MIT License[\s\S]*BSD-3-Clause/);
    expect(readdirSync(DATA).filter((f) => /truth/i.test(f))).toEqual([]);
  });

  it('has the MinD-Vis sbj_N layout and shapes', () => {
    const V = ds.numVoxels;
    expect(V).toBeGreaterThan(4000);
    expect([ds.numTrain, ds.numTest, ds.numTestTrials]).toEqual([1200, 50, 5]);
    expect(ds.train.length).toBe(1200 * V);
    expect(ds.testAvg.length).toBe(50 * V);
    expect(ds.testTrials.length).toBe(250 * V);
    expect(ds.voxelXyz.length).toBe(3 * V);
    expect(ds.imageSize).toBe(32);
    expect(ds.trainImages.length).toBe(1200 * 32 * 32);
    expect(ds.testImages.length).toBe(50 * 32 * 32);
  });

  it('ROI masks are consistent and their counts match meta.json', () => {
    const counts = ds.meta.files[`sbj_${ds.subject}.npz`].roi_counts;
    for (const r of ROI_NAMES) expect(ds.masks[r].reduce((a, b) => a + b, 0)).toBe(counts[r]);
    const { V1, V2, V3, LVC, HVC, VC } = ds.masks;
    let bad = 0;
    for (let v = 0; v < ds.numVoxels; v++)
      if (VC[v] !== 1 || V1[v] + V2[v] + V3[v] + HVC[v] !== 1 || LVC[v] !== (V1[v] | V2[v] | V3[v])) bad++;
    expect(bad).toBe(0);
    expect(counts).toMatchObject({ V1: 1111, V2: 1300, V3: 1100, HVC: 1000 });
  });

  it('rejects files whose sha256 differs from meta.json', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'god-synth-'));
    for (const f of readdirSync(DATA)) if (f !== 'meta.json') symlinkSync(resolve(DATA, f), join(dir, f));
    const meta = JSON.parse(readFileSync(join(DATA, 'meta.json'), 'utf8'));
    meta.sha256['images_32.npz'] = '0'.repeat(64);
    writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta));
    await expect(loadSynthDataset(dir)).rejects.toThrow(SynthDataError);
    await expect(loadSynthDataset(dir)).rejects.toThrow(/images_32\.npz: sha256 [0-9a-f]{64} does not match/);
    await expect(loadSynthDataset(dir, { verify: false })).resolves.toBeTruthy();
  });

  it('dequantises int8 × scale exactly (round trip)', () => {
    const raw = readNpz(new Uint8Array(readFileSync(join(DATA, `sbj_${ds.subject}.npz`))), (n) => n === 'arr_2' || n === 'scale');
    const q = raw.arr_2.data as Int8Array,
      scale = Number(raw.scale.data[0]);
    expect(scale).toBe(1 / 32);
    let mismatches = 0;
    for (let i = 0; i < q.length; i++) if (ds.testAvg[i] !== q[i] * scale || Math.round(ds.testAvg[i] / scale) !== q[i]) mismatches++;
    expect(q.length).toBe(50 * ds.numVoxels);
    expect(mismatches).toBe(0);
  });

  it('training data are z-scored: mean ≈ 0, sd ≈ 1', () => {
    let s = 0,
      ss = 0;
    for (const x of ds.train) {
      s += x;
      ss += x * x;
    }
    const mean = s / ds.train.length,
      sd = Math.sqrt(ss / ds.train.length - mean * mean);
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(sd - 1)).toBeLessThan(0.02);
  });

  it('split-half reliability of the shipped test trials is positive in V1 (and absent with shuffled images)', () => {
    const V = ds.numVoxels,
      n = ds.numTest;
    const half = (trials: number[], order?: Int32Array): Float64Array => {
      const out = new Float64Array(n * V);
      for (let i = 0; i < n; i++)
        for (const r of trials) {
          const src = (r * n + (order ? order[i] : i)) * V;
          for (let v = 0; v < V; v++) out[i * V + v] += ds.testTrials[src + v] / trials.length;
        }
      return out;
    };
    const a = half([0, 2, 4]),
      b = half([1, 3]);
    const reliability = meanVoxelCorrelation(a, b, n, V, ds.masks.V1);
    const nulls = [11, 12, 13, 14, 15].map((seed) => meanVoxelCorrelation(a, half([1, 3], permutation(n, seed)), n, V, ds.masks.V1));
    expect(reliability).toBeGreaterThan(0.03);
    for (const r0 of nulls) expect(Math.abs(r0)).toBeLessThan(reliability / 2);
  });

  it('test images come only from t10k and train images from the train split, class-balanced', () => {
    const rows = (f: string): number[][] =>
      readFileSync(join(DATA, f), 'utf8')
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split(',').map(Number));
    const train = rows('training_label.csv'),
      test = rows('testing_label.csv');
    expect(readFileSync(join(DATA, 'testing_label.csv'), 'utf8')).toMatch(/^image_id,class,fm_t10k_index\n/);
    expect(new Set(train.map((r) => r[2])).size).toBe(1200);
    expect(new Set(test.map((r) => r[2])).size).toBe(50);
    expect(test.map((r) => r[1])).toEqual([...ds.testLabels]);
    expect(train.map((r) => r[1])).toEqual([...ds.trainLabels]);
    for (let c = 0; c < 10; c++) {
      expect(ds.testLabels.filter((y) => y === c).length).toBe(5);
      expect(ds.trainLabels.filter((y) => y === c).length).toBe(120);
    }
  });

  it('single-sample files hold arr_2 row 0', () => {
    const V = ds.numVoxels,
      row0 = ds.testAvg.subarray(0, V);
    const npy = readNpy(new Uint8Array(readFileSync(join(DATA, 'sample_test0.npy'))));
    expect(npy.shape).toEqual([V]);
    expect([...(npy.data as Float32Array)]).toEqual([...row0]);
    const csv = readFileSync(join(DATA, 'sample_test0.csv'), 'utf8').trim().split(',').map(Number);
    expect(csv.length).toBe(V);
    for (let v = 0; v < V; v++) expect(Math.abs(csv[v] - row0[v])).toBeLessThan(1e-5);
    for (const f of ['sample_test0.nii.gz', 'sample_mask.nii.gz', 'sample_test0.h5']) expect(existsSync(join(DATA, f))).toBe(true);
  });

  it('ships at most 7 MB', () => {
    const total = readdirSync(DATA).reduce((s, f) => s + readFileSync(join(DATA, f)).length, 0);
    expect(total).toBeLessThanOrEqual(7_000_000);
  });
});
