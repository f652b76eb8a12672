// Reference decoders on the SYNTHETIC god-synth set (spec data.md §3.9): the ridge baseline must decode
// well above chance and the shuffled-pairing control must sit at chance.
import { describe, it, expect, beforeAll } from 'vitest';
import { loadReferenceModels, loadSynthDataset } from './data';
import { runBaselines, testGroundTruth } from './baselines';
import { evaluateReconstructions, type ReconstructionMetrics } from './metrics';

const DATA = 'public/data/god-synth';
const results: Partial<Record<'ridge' | 'shuffled', ReconstructionMetrics>> = {};

beforeAll(async () => {
  const ds = await loadSynthDataset(DATA);
  const refs = await loadReferenceModels(DATA, ds.meta);
  const gt = testGroundTruth(ds);
  for (const run of runBaselines(ds, refs, ['ridge', 'shuffled'])) {
    results[run.method] = evaluateReconstructions(run.recons, gt, ds.testLabels, refs.classifier);
  }
}, 120_000);

describe('synthetic-set baselines', () => {
  it('ridge → 64 PCs decodes far above chance', () => {
    const r = results.ridge as ReconstructionMetrics;
    expect(r.n_test).toBe(50);
    expect(r.pair2way_pcc).toBeGreaterThanOrEqual(0.75);
    expect(r.class_acc).toBeGreaterThanOrEqual(0.5);
    expect(r.top1_50way).toBeGreaterThanOrEqual(0.08);
    expect(r.pair2way_ssim).toBeGreaterThanOrEqual(0.75);
  });
  it('shuffled image↔fMRI pairing stays at chance', () => {
    const s = results.shuffled as ReconstructionMetrics;
    expect(s.pair2way_pcc).toBeLessThanOrEqual(0.62);
    expect(s.top1_50way).toBeLessThanOrEqual(0.08);
    expect(s.class_acc).toBeLessThanOrEqual(0.3);
  });
});
