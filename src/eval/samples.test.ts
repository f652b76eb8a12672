// scoreSamples: sample layout, per-sample scores and the pixel-mean reading, built from evaluateReconstructions
// (itself checked against numpy/scikit-image in metrics.synthetic.test.ts) on hand-made images.
import { describe, it, expect } from 'vitest';
import { evaluateReconstructions, MetricInputError, type GreyImage, type PixelClassifier } from './metrics';
import { greyGroundTruth, scoreSampleSet, scoreSamples, spreadOf } from './samples';
import { makeFrame } from '../worker/previews';
import { uint8ToRgba } from '../worker/images';
import { execFileSync } from 'node:child_process';

const side = 8,
  n = 4;
const pattern = (i: number, s: number): number[] =>
  Array.from({ length: side * side }, (_, p) => (Math.sin(p * (i + 1) * 0.7 + s) + 1) / 2);
const gts: GreyImage[] = Array.from({ length: n }, (_, i) => ({ height: side, width: side, data: Float64Array.from(pattern(i, 0)) }));
const labels = [0, 1, 0, 1];
const clf: PixelClassifier = {
  numClasses: 2,
  numPixels: side * side,
  bias: new Float32Array(2),
  weight: Float32Array.from({ length: 2 * side * side }, (_, k) => (k < side * side ? 1 : -1) * ((k % 3) - 1)),
};
const rgb = (grey: number[]): number[] => grey.flatMap((v) => [v, v, v]);

describe('scoreSamples', () => {
  // sample 0 is a shifted pattern, sample 1 another shift; their mean is scored as one image
  const s0 = Array.from({ length: n }, (_, i) => pattern(i, 0.4));
  const s1 = Array.from({ length: n }, (_, i) => pattern(i, -0.9));
  const images = s0.map((a, i) => Float32Array.from([...rgb(a), ...rgb(s1[i])]));
  const grey = (rows: number[][]): GreyImage[] =>
    rows.map((r) => ({ height: side, width: side, data: Float64Array.from(Float32Array.from(r)) }));

  it('scores each sample set and their pixel mean', async () => {
    const out = await scoreSamples(images, 2, gts, labels, clf);
    const e0 = evaluateReconstructions(grey(s0), gts, labels, clf),
      e1 = evaluateReconstructions(grey(s1), gts, labels, clf);
    expect(out.perSample[0].pcc).toBeCloseTo(e0.pcc, 6);
    expect(out.perSample[1].ssim).toBeCloseTo(e1.ssim, 6);
    expect(out.meanOverSamples.pcc).toBeCloseTo((e0.pcc + e1.pcc) / 2, 6);
    const mean = grey(s0.map((a, i) => a.map((v, p) => (Math.fround(v) + Math.fround(s1[i][p])) / 2)));
    const em = evaluateReconstructions(mean, gts, labels, clf);
    expect(out.sampleMean?.pcc).toBeCloseTo(em.pcc, 6);
    expect(out.sampleMean?.class_acc).toBe(em.class_acc);
    // max over samples: per image the better of the two sample sets
    const best = (a: number[], b: number[]): number => a.reduce((s, v, i) => s + Math.max(v, b[i]), 0) / a.length;
    expect(out.maxOverSamples.pair2way_pcc).toBeCloseTo(best(e0.per_item!.pair2way_pcc, e1.per_item!.pair2way_pcc), 6);
    expect(out.maxOverSamples.pcc).toBeGreaterThanOrEqual(Math.max(e0.pcc, e1.pcc) - 1e-9);
  });
  it('has no pixel-mean reading for one sample, and max = mean', async () => {
    const one = await scoreSamples(
      images.map((x) => x.subarray(0, side * side * 3)),
      1,
      gts,
      labels,
      clf,
    );
    expect(one.sampleMean).toBeNull();
    expect(one.maxOverSamples.top1_50way).toBe(one.meanOverSamples.top1_50way);
  });
  it('runs the novelty test when given a gallery', async () => {
    const out = await scoreSamples(images, 2, gts, labels, clf, { gallery: gts.map((g) => ({ ...g, data: g.data.map((v) => 1 - v) })) });
    expect(out.meanOverSamples.novelty_candidates).toBe(2 * n);
    expect(out.perSample[0].per_item?.novelty_percentile).toHaveLength(n);
  });
  it('rejects a layout that does not match', async () => {
    await expect(scoreSamples(images, 3, gts, labels, clf)).rejects.toThrow(MetricInputError);
    await expect(scoreSamples(images.slice(1), 2, gts, labels, clf)).rejects.toThrow(/3 reconstructions for 4/);
  });
});

describe('derangement (pairing of the shuffled control)', () => {
  it('is a permutation without fixed points, repeatable from its seed and different across seeds', async () => {
    const { derangement } = await import('./baselines');
    for (const seed of [0, 1, 7]) {
      for (const n of [2, 3, 50]) {
        const p = derangement(n, seed);
        expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
        expect(p.every((j, i) => j !== i)).toBe(true);
        expect(derangement(n, seed)).toEqual(p);
      }
    }
    expect(derangement(50, 0)).not.toEqual(derangement(50, 1));
  });
});

describe('one scoring function for the studio and npm run eval', () => {
  // Three samples per fMRI of smooth float images (not multiples of 1/255, so 8-bit quantisation would change them)
  // for two ground truths of 8-bit grey, as images_32.npz holds them.
  const side = 32,
    ns = 3;
  const gtBytes = [0, 1].map((g) =>
    Uint8Array.from({ length: side * side }, (_, p) => Math.round(127.5 + 120 * Math.sin(p * 0.05 * (g + 1)))),
  );
  const images = [0, 1].map((g) =>
    Float32Array.from(
      { length: ns * side * side * 3 },
      (_, k) => 0.5 + 0.45 * Math.sin(Math.floor(k / 3) * 0.05 * (g + 1) + 0.3 * Math.floor(k / (side * side * 3)) + (k % 3) * 0.1),
    ),
  );
  const clf: PixelClassifier = {
    numClasses: 2,
    numPixels: side * side,
    bias: new Float32Array(2),
    weight: new Float32Array(2 * side * side),
  };

  it('the studio frame and the eval path give identical PCC and SSIM per sample and for the mean, on the float images', async () => {
    const evalGts = gtBytes.map((b) => ({ height: side, width: side, data: Float64Array.from(b, (v) => v / 255) }));
    const ev = await scoreSamples(images, ns, evalGts, [0, 1], clf);
    for (const g of [0, 1]) {
      const gt = uint8ToRgba(gtBytes[g], side, side, 1);
      const frame = makeFrame(9, { n: ns, height: side, width: side, data: images[g] }, new Float32Array(ns * 3 * 4), [3, 2, 2], gt);
      for (let s = 0; s < ns; s++) {
        expect(frame.preview.metrics![s].pcc).toBe(ev.perSample[s].per_item!.pcc[g]);
        expect(frame.preview.metrics![s].ssim).toBe(ev.perSample[s].per_item!.ssim[g]);
      }
      expect(frame.preview.meanMetrics!.pcc).toBe(ev.sampleMean!.per_item!.pcc[g]);
      expect(frame.preview.meanMetrics!.ssim).toBe(ev.sampleMean!.per_item!.ssim[g]);
      // the studio's ground truth from RGBA is the eval's v / 255 exactly
      expect(Array.from(greyGroundTruth(gt.pixels, side, side, 4).data)).toEqual(Array.from(evalGts[g].data));
    }
    // and scoring the 8-bit previews instead (what the studio used to do) gives different numbers
    const q = Float32Array.from(images[0], (v) => Math.round(v * 255) / 255);
    expect(scoreSampleSet(q, ns, evalGts[0]).perSample[0].pcc).not.toBe(ev.perSample[0].per_item!.pcc[0]);
  });

  it('spread over samples matches numpy (min, max, mean, np.std)', () => {
    const v = [0.125, 0.5, -0.25, 0.875];
    const out = execFileSync('/usr/bin/python3', [
      '-c',
      `import numpy as np, json; a = np.array(${JSON.stringify(v)}); print(json.dumps([a.min(), a.max(), a.mean(), a.std()]))`,
    ]).toString();
    const [min, max, mean, sd] = JSON.parse(out) as number[];
    const s = spreadOf(v);
    expect(s.min).toBe(min);
    expect(s.max).toBe(max);
    expect(s.mean).toBeCloseTo(mean, 15);
    expect(s.sd).toBeCloseTo(sd, 15);
    expect(spreadOf([0.3]).sd).toBe(0);
    expect(() => spreadOf([])).toThrow(MetricInputError);
  });
});
