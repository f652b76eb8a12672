// Counterfactual input edits (issue 14, item 2): the edits themselves against hand-checked expectations,
// and the decode-level identities on the golden checkpoint (cpu): lesioning every voxel with 'mean'
// decodes as the all-mean input; interpolation at α = 0 and α = 1 decodes as the two trials.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { goldenArray, goldenConfig, goldenDir, goldenWeights } from '../../test/golden';
import { decodeSteps, modelFromWeights, runToEnd, type EngineModel } from '../engine/pipeline';
import type { DecodeOptions } from '../engine/types';
import {
  applyEdit,
  baselineFromFile,
  CounterfactualError,
  parseCounterfactual,
  roiMasksForSample,
  type CounterfactualEdit,
  type OtherSample,
} from './counterfactual';
import type { FmriFile } from '../io/fmriFile';

const other: OtherSample = { fileName: 'b.npy', sha256: 'a'.repeat(64), split: 'test', sampleIndex: 3 };
const x = Float32Array.from([1, 2, 3, 4, 5, 6]);
const masks = { A: Uint8Array.from([1, 1, 0, 0, 0, 0]), B: Uint8Array.from([0, 0, 1, 1, 1, 0]), all: new Uint8Array(6).fill(1) };
const baseline = Float32Array.from([10, 20, 30, 40, 50, 60]);

describe('applyEdit', () => {
  it('lesions an ROI with zero, the training mean, or a seeded permutation of its own values', () => {
    expect(Array.from(applyEdit(x, { kind: 'lesion', roi: 'B', fill: 'zero', seed: 0 }, { masks }))).toEqual([1, 2, 0, 0, 0, 6]);
    expect(Array.from(applyEdit(x, { kind: 'lesion', roi: 'B', fill: 'mean', seed: 0 }, { masks, baseline }))).toEqual([
      1, 2, 30, 40, 50, 6,
    ]);
    const s1 = applyEdit(x, { kind: 'lesion', roi: 'B', fill: 'shuffle', seed: 7 }, { masks });
    const s2 = applyEdit(x, { kind: 'lesion', roi: 'B', fill: 'shuffle', seed: 7 }, { masks });
    expect(Array.from(s1)).toEqual(Array.from(s2));
    expect([s1[0], s1[1], s1[5]]).toEqual([1, 2, 6]);
    expect(Array.from(s1.slice(2, 5)).sort()).toEqual([3, 4, 5]);
    expect(Array.from(x)).toEqual([1, 2, 3, 4, 5, 6]); // input untouched
  });

  it('builds the ROI-only input, the controls, another trial and the interpolation', () => {
    expect(Array.from(applyEdit(x, { kind: 'roi-only', roi: 'A', value: 2.5 }, { masks, baseline }))).toEqual([2.5, 2.5, 30, 40, 50, 60]);
    expect(Array.from(applyEdit(x, { kind: 'control', fill: 'mean', seed: 0 }, { baseline }))).toEqual(Array.from(baseline));
    const sh = applyEdit(x, { kind: 'control', fill: 'shuffle', seed: 1 });
    expect(Array.from(sh).sort()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(sh)).not.toEqual(Array.from(x));
    const y = Float32Array.from([0.1, -3, 7, 1e-3, 2, -1]);
    expect(Array.from(applyEdit(x, { kind: 'trial', other }, { other: y }))).toEqual(Array.from(y));
    expect(Array.from(applyEdit(x, { kind: 'interpolate', other, alpha: 0 }, { other: y }))).toEqual(Array.from(x));
    expect(Array.from(applyEdit(x, { kind: 'interpolate', other, alpha: 1 }, { other: y }))).toEqual(Array.from(y));
    expect(applyEdit(x, { kind: 'interpolate', other, alpha: 0.25 }, { other: y })[2]).toBeCloseTo(0.75 * 3 + 0.25 * 7, 6);
  });

  it('says what is missing instead of guessing', () => {
    expect(() => applyEdit(x, { kind: 'lesion', roi: 'V9', fill: 'zero', seed: 0 }, { masks })).toThrow(
      /no ROI 'V9'.*ROIs available: A, B, all/,
    );
    expect(() => applyEdit(x, { kind: 'lesion', roi: 'A', fill: 'mean', seed: 0 }, { masks })).toThrow(/needs a training mean/);
    expect(() => applyEdit(x, { kind: 'trial', other }, {})).toThrow(/other sample \(b\.npy #3\) was not given/);
    expect(() => applyEdit(x, { kind: 'interpolate', other, alpha: 1 }, { other: new Float32Array(5) })).toThrow(
      /has 5 voxels; this one has 6/,
    );
    expect(() => applyEdit(x, { kind: 'lesion', roi: 'A', fill: 'zero', seed: 0 }, { masks: { A: new Uint8Array(6) } })).toThrow(
      /selects no voxel/,
    );
  });
});

describe('parseCounterfactual', () => {
  it('round-trips every kind and names the first bad field', () => {
    const edits: CounterfactualEdit[] = [
      { kind: 'lesion', roi: 'V1', fill: 'shuffle', seed: 3 },
      { kind: 'roi-only', roi: 'HVC', value: 1 },
      { kind: 'control', fill: 'mean', seed: 0 },
      { kind: 'trial', other },
      { kind: 'interpolate', other, alpha: 0.5 },
    ];
    for (const e of edits) expect(parseCounterfactual(JSON.parse(JSON.stringify(e)))).toEqual(e);
    expect(() => parseCounterfactual({ kind: 'lesion', roi: 'V1', fill: 'half', seed: 0 })).toThrow(
      /counterfactual\.fill must be zero \| mean \| shuffle, found "half"/,
    );
    expect(() => parseCounterfactual({ kind: 'interpolate', other, alpha: 2 })).toThrow(/alpha must be a number in \[0, 1\]/);
    expect(() => parseCounterfactual({ kind: 'blur' })).toThrow(CounterfactualError);
  });
});

describe('ROI masks and the baseline from a file', () => {
  it('restricts masks to the selected ROI and averages the training split', () => {
    const rows = [Float32Array.from([1, 2, 3]), Float32Array.from([3, 4, 5])];
    const train = { split: 'train', samples: 2, voxels: 3, getSample: (i: number) => rows[i].slice() } as unknown as FmriFile;
    const file = {
      split: 'test',
      splits: { train: 2, test: 1 },
      roi: 'VC',
      voxels: 3,
      samples: 1,
      masks: {
        VC: Uint8Array.from([1, 0, 1, 1]),
        V1: Uint8Array.from([1, 1, 0, 0]),
        V2: Uint8Array.from([0, 0, 1, 1]),
        X: Uint8Array.from([0, 1, 0, 0]),
      },
      select: () => train,
    } as unknown as FmriFile;
    const m = roiMasksForSample(file);
    expect(Object.keys(m).sort()).toEqual(['V1', 'V2', 'VC']); // X selects nothing inside VC
    expect(Array.from(m.V1)).toEqual([1, 0, 0]);
    expect(Array.from(m.V2)).toEqual([0, 1, 1]);
    const b = baselineFromFile(file);
    expect(Array.from(b.values)).toEqual([2, 3, 4]);
    expect(b.source).toMatch(/training split mean over 2/);
  });
});

describe('decode-level identities on the golden checkpoint (cpu)', () => {
  let model: EngineModel, rows: Float32Array[];
  const opts: DecodeOptions = { sampler: 'ddim', steps: 4, eta: 0, seed: 5, numSamples: 1 };
  const decode = (fmri: Float32Array): Promise<Float32Array> => runToEnd(decodeSteps(model, fmri, opts));
  beforeAll(async () => {
    await tf.setBackend('cpu');
    const dir = await goldenDir('tiny');
    model = modelFromWeights(await goldenConfig(dir), await goldenWeights(dir));
    const raw = await goldenArray(dir, 'fmri_raw');
    const v = raw.shape[1];
    rows = [0, 1].map((i) => raw.data.slice(i * v, (i + 1) * v));
  });

  it("lesioning every voxel with 'mean' decodes exactly as the all-mean input", async () => {
    const v = rows[0].length;
    const baseline = Float32Array.from({ length: v }, (_, i) => 0.3 * Math.sin(i));
    const ctx = { masks: { all: new Uint8Array(v).fill(1) }, baseline };
    const lesioned = applyEdit(rows[0], { kind: 'lesion', roi: 'all', fill: 'mean', seed: 0 }, ctx);
    const allMean = applyEdit(rows[0], { kind: 'control', fill: 'mean', seed: 0 }, ctx);
    const [a, b, orig] = await Promise.all([decode(lesioned), decode(allMean), decode(rows[0])]);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(orig)); // the lesion did change the decode
  });

  it('interpolation at α = 0 and α = 1 decodes exactly as the two trials', async () => {
    const other: OtherSample = { fileName: 'golden', sha256: 'b'.repeat(64), split: 'test', sampleIndex: 1 };
    const at = (alpha: number): Float32Array => applyEdit(rows[0], { kind: 'interpolate', other, alpha }, { other: rows[1] });
    const [a0, a1, t0, t1] = await Promise.all([decode(at(0)), decode(at(1)), decode(rows[0]), decode(rows[1])]);
    expect(Array.from(a0)).toEqual(Array.from(t0));
    expect(Array.from(a1)).toEqual(Array.from(t1));
    expect(Array.from(t0)).not.toEqual(Array.from(t1));
  });
});
