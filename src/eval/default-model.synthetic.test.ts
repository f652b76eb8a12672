// The shipped default model (public/models/default) decodes the SYNTHETIC god-synth test set (simulated
// responses, not brain data) far above chance with the settings it carries (config.sampling, chosen by the
// training command on validation data: DDIM from the low-level start with classifier-free guidance): the whole
// engine on tfjs-wasm, a fixed seed, 2 samples, scored by the authors' metrics and the CNN class metric against
// the bundled ground truth. Chance is 0.02 / 0.50 / 0.10 (50-way top-1, 2-way PCC, CNN 10-way class); a decoder that
// ignores the fMRI sits there (the shuffled control of scripts/eval-default.sh). Measured with `npm run eval` at these
// settings (4 samples, seed 0) on 2026-12-02, per sample: 0.275 / 0.892 / 0.67 (README; the shuffled control:
// 0.020 / 0.464 / 0.060); the thresholds sit well above chance and the control, and below those values.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFile } from 'node:fs/promises';
import { loadReferenceModels, loadSynthDataset, readCnnWeights } from './data';
import { testFmri, testGroundTruth } from './baselines';
import { scoreSamples, type SampleScores } from './samples';
import { loadCnnClassifier, type CnnClassifier } from './cnn';
import { reconstructBatch } from '../cli/reconstruct';
import { initNodeBackend } from '../cli/nodeBackend';
import type { SamplingDefaults } from '../model/config';

const DATA = 'public/data/god-synth';
const MODEL = 'public/models/default';
const SAMPLES = 2;
let scores: SampleScores;
let sampling: SamplingDefaults | undefined;
let cnn: CnnClassifier;
const THRESHOLDS = { top1: 0.15, pair2way: 0.84, cnn: 0.45 };

beforeAll(async () => {
  await initNodeBackend('wasm');
  sampling = JSON.parse(await readFile(`${MODEL}/manifest.json`, 'utf8')).config.sampling;
  if (!sampling) throw new Error(`${MODEL}/manifest.json has no config.sampling: the shipped model must carry its chosen settings`);
  const ds = await loadSynthDataset(DATA);
  const refs = await loadReferenceModels(DATA, ds.meta);
  cnn = loadCnnClassifier(await readCnnWeights(ds.dir, ds.meta));
  const images = await reconstructBatch(MODEL, testFmri(ds), { ...sampling, eta: 0, seed: 0, numSamples: SAMPLES });
  scores = await scoreSamples(images, SAMPLES, testGroundTruth(ds), ds.testLabels, refs.classifier, { cnn });
}, 900_000);

afterAll(() => cnn?.dispose());

describe('shipped default model on the synthetic test set (its own settings, seed 0, 2 samples)', () => {
  it('carries a low-level start and guidance chosen at training time', () => {
    expect(sampling?.init).toBe('lowlevel');
    expect(sampling?.strength).toBeLessThan(1);
  });
  it('every sample set decodes far above chance', () => {
    for (const s of scores.perSample) {
      expect(s.n_test).toBe(50);
      expect(s.top1_50way).toBeGreaterThanOrEqual(THRESHOLDS.top1);
      expect(s.pair2way_pcc).toBeGreaterThanOrEqual(THRESHOLDS.pair2way);
      expect(s.cnn_class_acc).toBeGreaterThanOrEqual(THRESHOLDS.cnn);
    }
  });
});
