// Metric and ridge code of src/eval against independent oracles (numpy/scikit-image/scikit-learn/torch
// via test/oracles/reference_metrics.py), on fixed inputs built from the synthetic god-synth test images.
import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { writeNpy } from '../io/npy';
import { loadReferenceModels, loadSynthDataset, type ReferenceModels } from './data';
import { testGroundTruth, permutation, trainGallery } from './baselines';
import {
  classify,
  evaluateReconstructions,
  maxOverSamples,
  meanMetrics,
  noveltyIdentification,
  nWayTop1,
  pairwise2way,
  identificationTop1,
  pearson,
  scoreMatrix,
  ssim,
  toGrey,
  type GreyImage,
} from './metrics';
import { fitRidgeMulti } from './ridge';
import { mat } from './linalg';

const DATA = 'public/data/god-synth';
const CACHE = '.cache/eval-ref';
const N = 12;
const ALPHAS = [3, 0.3, 30];

interface Reference {
  pcc: number[][];
  ssim: number[][];
  top1: number;
  pair2way_pcc: number;
  pair2way_ssim: number;
  class_pred: number[];
  ridge_fixed: number[][];
  ridgecv_alpha: number;
  ridgecv_loo_mse: number[];
  ridgecv_pred: number[][];
  resize_up: number[];
  resize_down: number[];
  nway_all: number[];
  nway_5_mc: number[];
  novelty_rank: number[];
  novelty_pct: number[];
  max_top1: number;
  max_pair2way_pcc: number;
  max_class: number;
  mean_top1: number;
}

/** Deterministic pseudo-random values in [-1, 1) (fixed inputs, no Math.random). */
const wave = (n: number, seed: number): Float64Array =>
  Float64Array.from({ length: n }, (_, i) => {
    const s = Math.sin(i * 12.9898 + seed * 78.233) * 43758.5453;
    return 2 * (s - Math.floor(s)) - 1;
  });

let recons: GreyImage[],
  recons2: GreyImage[],
  gts: GreyImage[],
  gallery: GreyImage[],
  labels: Uint8Array,
  refs: ReferenceModels,
  ref: Reference;
let cnnProbs: Float64Array, cnnGtClass: Int32Array;
const K = 10;
let ridgeX: Float64Array, ridgeY: Float64Array, ridgeXt: Float64Array, up: Float64Array, down: Float64Array;

beforeAll(async () => {
  const ds = await loadSynthDataset(DATA);
  refs = await loadReferenceModels(DATA, ds.meta);
  gts = testGroundTruth(ds).slice(0, N);
  // reconstructions: own image blended with a neighbour plus deterministic noise, clipped to [0, 1]
  recons = gts.map((g, i) => {
    const other = gts[(i + 1) % N].data,
      noise = wave(g.data.length, i);
    return { ...g, data: g.data.map((v, p) => Math.min(1, Math.max(0, 0.55 * v + 0.45 * other[p] + 0.15 * noise[p]))) };
  });
  // a second sample set (other neighbour, other noise) for the max/mean-over-samples readings
  recons2 = gts.map((g, i) => {
    const other = gts[(i + 3) % N].data,
      noise = wave(g.data.length, 50 + i);
    return { ...g, data: g.data.map((v, p) => Math.min(1, Math.max(0, 0.5 * v + 0.5 * other[p] + 0.2 * noise[p]))) };
  });
  labels = ds.testLabels.slice(0, N);
  // novelty gallery: 40 training images, plus look-alikes of reconstructions 0-2 (which must then rank the GT lower)
  gallery = [
    ...trainGallery(ds).slice(0, 40),
    ...recons.slice(0, 3).map((r, i) => ({ ...r, data: r.data.map((v, p) => v + 0.02 * wave(1024, 200 + i)[p]) })),
  ];
  // CNN softmax stand-ins: a mix of confident, flat and wrong rows; GT classes spread over 0..9
  cnnProbs = new Float64Array(N * K);
  for (let i = 0; i < N; i++) {
    const z = wave(K, 300 + i).map((v) => 2.5 * v);
    let sum = 0;
    for (let c = 0; c < K; c++) sum += cnnProbs[i * K + c] = Math.exp(z[c]);
    for (let c = 0; c < K; c++) cnnProbs[i * K + c] /= sum;
  }
  cnnGtClass = Int32Array.from({ length: N }, (_, i) => {
    // half the images take their argmax class (a hit for n = K), the rest a middle-ranked class
    const row = Array.from(cnnProbs.subarray(i * K, (i + 1) * K)),
      order = row.map((_, c) => c).sort((a, b) => row[b] - row[a]);
    return i % 2 === 0 ? order[0] : order[1 + (i % 5)];
  });
  ridgeX = wave(60 * 40, 101);
  ridgeXt = wave(10 * 40, 102);
  const w = wave(40 * 5, 103),
    e = wave(60 * 5, 104);
  ridgeY = new Float64Array(60 * 5);
  for (let i = 0; i < 60; i++)
    for (let j = 0; j < 5; j++) {
      let s = 0.3 * j + 0.5 * e[i * 5 + j];
      for (let k = 0; k < 40; k++) s += ridgeX[i * 40 + k] * w[k * 5 + j];
      ridgeY[i * 5 + j] = s;
    }
  up = wave(24 * 24 * 3, 105).map((v) => 0.5 + 0.5 * v);
  down = wave(40 * 40 * 3, 106).map((v) => 0.5 + 0.5 * v);
  const stack = (imgs: GreyImage[]): Float64Array => {
    const o = new Float64Array(imgs.length * 1024);
    imgs.forEach((g, i) => o.set(g.data, i * 1024));
    return o;
  };
  mkdirSync(CACHE, { recursive: true });
  writeFileSync(
    join(CACHE, 'inputs.npz'),
    zipSync({
      'recon.npy': writeNpy(stack(recons), [N, 32, 32]),
      'gt.npy': writeNpy(stack(gts), [N, 32, 32]),
      'clf_w.npy': writeNpy(refs.classifier.weight, [10, 1024]),
      'clf_b.npy': writeNpy(refs.classifier.bias, [10]),
      'ridge_x.npy': writeNpy(ridgeX, [60, 40]),
      'ridge_y.npy': writeNpy(ridgeY, [60, 5]),
      'ridge_xt.npy': writeNpy(ridgeXt, [10, 40]),
      'alphas.npy': writeNpy(Float64Array.from(ALPHAS), [ALPHAS.length]),
      'resize_up.npy': writeNpy(up, [24, 24, 3]),
      'resize_down.npy': writeNpy(down, [40, 40, 3]),
      'recon2.npy': writeNpy(stack(recons2), [N, 32, 32]),
      'gallery.npy': writeNpy(stack(gallery), [gallery.length, 32, 32]),
      'labels.npy': writeNpy(Int32Array.from(labels), [N]),
      'cnn_probs.npy': writeNpy(cnnProbs, [N, K]),
      'cnn_gt_class.npy': writeNpy(cnnGtClass, [N]),
    }),
  );
  const py = spawnSync('/usr/bin/python3', ['test/oracles/reference_metrics.py', CACHE], { encoding: 'utf8' });
  if (py.status !== 0) throw new Error(`reference_metrics.py failed (needs Debian python3-skimage/sklearn/torch): ${py.stderr}`);
  ref = JSON.parse(readFileSync(join(CACHE, 'reference.json'), 'utf8')) as Reference;
}, 120_000);

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe("synthetic-set metrics match the authors' eval_metrics.py (numpy/skimage)", () => {
  it('pcc matrix = np.corrcoef', () => {
    const m = scoreMatrix(recons, gts, (a, b) => pearson(a.data, b.data));
    expect(
      maxAbs(
        m.flatMap((r) => [...r]),
        ref.pcc.flat(),
      ),
    ).toBeLessThan(1e-6);
  });
  it('ssim matrix = skimage structural_similarity(data_range=255, channel_axis=-1)', () => {
    const m = scoreMatrix(recons, gts, (a, b) => ssim(a, b));
    expect(
      maxAbs(
        m.flatMap((r) => [...r]),
        ref.ssim.flat(),
      ),
    ).toBeLessThan(1e-6);
  });
  it('50-way top-1 and 2-way pairwise identification = pair_wise_score', () => {
    const p = scoreMatrix(recons, gts, (a, b) => pearson(a.data, b.data));
    const s = scoreMatrix(recons, gts, (a, b) => ssim(a, b));
    expect(identificationTop1(p)).toBeCloseTo(ref.top1, 9);
    expect(pairwise2way(p)).toBeCloseTo(ref.pair2way_pcc, 9);
    expect(pairwise2way(s)).toBeCloseTo(ref.pair2way_ssim, 9);
    // the inputs are informative but imperfect, so these are neither 0 nor 1
    expect(ref.pair2way_pcc).toBeGreaterThan(0.5);
    expect(ref.pair2way_pcc).toBeLessThan(1);
  });
  it('pixel classifier predictions = numpy argmax(W x + b)', () => {
    expect(recons.map((r) => classify(refs.classifier, r))).toEqual(ref.class_pred);
  });
  it('grey + bilinear resize = torch interpolate(bilinear, align_corners=False)', () => {
    expect(maxAbs(toGrey(up, 24, 24, 3, 32, 32).data, ref.resize_up)).toBeLessThan(1e-9);
    expect(maxAbs(toGrey(down, 40, 40, 3, 32, 32).data, ref.resize_down)).toBeLessThan(1e-9);
  });
  it('integer down-scaling averages boxes', () => {
    const img = Float64Array.from({ length: 64 * 64 * 3 }, (_, i) => (i % 7) / 7);
    const g = toGrey(img, 64, 64, 3, 32, 32);
    let s = 0;
    for (const [y, x] of [
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ])
      for (let c = 0; c < 3; c++) s += img[(y * 64 + x) * 3 + c];
    expect(g.data[0]).toBeCloseTo(s / 12, 12);
  });
});

describe('CNN class, novelty and sample readings match numpy/torch (eval_metrics.py, Shirakawa et al. 2024)', () => {
  it('n-way top-1 with n = all classes = n_way_top_k_acc (deterministic)', () => {
    const got = Array.from({ length: N }, (_, i) => nWayTop1(cnnProbs.subarray(i * K, (i + 1) * K), cnnGtClass[i], K));
    expect(got).toEqual(ref.nway_all);
    // the inputs are built so that both hits and misses occur
    expect(new Set(got)).toEqual(new Set([0, 1]));
  });
  it('n-way top-1 with n < all classes = the expectation of n_way_top_k_acc (4,000 random trials)', () => {
    const got = Array.from({ length: N }, (_, i) => nWayTop1(cnnProbs.subarray(i * K, (i + 1) * K), cnnGtClass[i], 5));
    expect(maxAbs(got, ref.nway_5_mc)).toBeLessThan(0.035); // Monte-Carlo s.d. ≤ 0.5/√4000 ≈ 0.008
    expect(got.some((v) => v > 0 && v < 1)).toBe(true);
  });
  it('novelty ranks and percentiles = np.corrcoef over test + gallery images', () => {
    const nov = noveltyIdentification(recons, gts, gallery);
    expect([...nov.rank]).toEqual(ref.novelty_rank);
    expect(maxAbs(nov.percentile, ref.novelty_pct)).toBeLessThan(1e-12);
    expect(nov.numCandidates).toBe(N + gallery.length);
    // the look-alikes in the gallery push the GT of reconstructions 0-2 off the top
    for (const i of [0, 1, 2]) expect(nov.rank[i]).toBeGreaterThan(1);
  });
  it('evaluateReconstructions carries them, and max/mean over samples = numpy', () => {
    const runs = [recons, recons2].map((r, s) =>
      evaluateReconstructions(r, gts, labels, refs.classifier, {
        cnnProbs: s === 0 ? cnnProbs : cnnProbs.map((v) => 1 - v),
        cnnGtClass,
        gallery,
      }),
    );
    expect(runs[0].cnn_class_acc).toBeCloseTo(ref.nway_all.reduce((a, b) => a + b, 0) / N, 12);
    expect(runs[0].cnn_n_way).toBe(K);
    expect(runs[0].novelty_top1).toBeCloseTo(ref.novelty_rank.filter((r) => r === 1).length / N, 12);
    expect(runs[0].novelty_percentile).toBeCloseTo(ref.novelty_pct.reduce((a, b) => a + b, 0) / N, 12);
    const max = maxOverSamples(runs),
      mean = meanMetrics(runs);
    expect(max.top1_50way).toBeCloseTo(ref.max_top1, 12);
    expect(max.pair2way_pcc).toBeCloseTo(ref.max_pair2way_pcc, 12);
    expect(max.class_acc).toBeCloseTo(ref.max_class, 12);
    expect(mean.top1_50way).toBeCloseTo(ref.mean_top1, 12);
    expect(max.top1_50way).toBeGreaterThan(mean.top1_50way); // the two sets hit different images
  });
  it('rejects inconsistent inputs with a specific error', () => {
    expect(() => nWayTop1([0.5, 0.5], 2, 2)).toThrow(/class 2 outside 0\.\.1/);
    expect(() => nWayTop1([0.2, 0.3, 0.5], 0, 4)).toThrow(/n must be an integer in 2\.\.3/);
    expect(() => evaluateReconstructions(recons, gts, labels, refs.classifier, { cnnProbs })).toThrow(/needs both cnnProbs and cnnGtClass/);
  });
});

describe('synthetic-set ridge decoder matches scikit-learn', () => {
  it('fixed α = sklearn Ridge(fit_intercept=True)', () => {
    const [fit] = fitRidgeMulti(mat(60, 40, ridgeX), [mat(60, 5, ridgeY)], [ALPHAS[0]]);
    const pred = fit.predict(mat(10, 40, ridgeXt));
    expect(maxAbs(pred.data, ref.ridge_fixed.flat())).toBeLessThan(1e-6);
  });
  it('leave-one-out α choice and errors = sklearn RidgeCV', () => {
    const [fit] = fitRidgeMulti(mat(60, 40, ridgeX), [mat(60, 5, ridgeY)], ALPHAS);
    expect(fit.alpha).toBe(ref.ridgecv_alpha);
    expect(
      maxAbs(
        ALPHAS.map((a) => fit.looMse[String(a)]),
        ref.ridgecv_loo_mse,
      ),
    ).toBeLessThan(1e-6);
    expect(maxAbs(fit.predict(mat(10, 40, ridgeXt)).data, ref.ridgecv_pred.flat())).toBeLessThan(1e-6);
  });
  it('seeded permutation is a permutation and depends on the seed', () => {
    const p = permutation(100, 1);
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect([...p]).not.toEqual([...permutation(100, 2)]);
  });
});
