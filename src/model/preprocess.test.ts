import { beforeAll, describe, expect, it } from 'vitest';
import { goldenConfig, goldenDir, goldenNpy } from '../../test/golden';
import { maxRel } from '../../test/compare';
import { npyToFloat32 } from '../io/npy';
import { PUBLISHED_GOD_SBJ3, type ModelConfig } from './config';
import {
  applyRoiMask,
  describeZscore,
  FmriShapeError,
  FmriValueError,
  formatStat,
  ModelConfigError,
  preprocessFmri,
  wrapPad,
  zscore,
} from './preprocess';

describe('preprocess', () => {
  let cfg: ModelConfig;
  let rawRows: Float32Array[];
  let expected: Float32Array;

  beforeAll(async () => {
    const dir = await goldenDir('tiny');
    cfg = await goldenConfig(dir);
    const raw = await goldenNpy(dir, 'fmri_raw');
    const v = raw.shape[1];
    const flat = npyToFloat32(raw);
    rawRows = Array.from({ length: raw.shape[0] }, (_, b) => flat.slice(b * v, (b + 1) * v));
    expected = npyToFloat32(await goldenNpy(dir, 'fmri'));
  });

  it('pads and z-scores raw ROI vectors as the PyTorch reference', () => {
    const out = preprocessFmri(cfg, rawRows);
    expect(out.length).toBe(expected.length);
    expect(maxRel(out, expected)).toBeLessThanOrEqual(1e-6);
  });

  it('accepts vectors that are already padded to the encoder length', () => {
    const padded = rawRows.map((r) => wrapPad(r, cfg.encoder.patchSize));
    expect(Array.from(preprocessFmri(cfg, padded))).toEqual(Array.from(preprocessFmri(cfg, rawRows)));
  });

  it('without a known ROI size accepts every length that pads to the encoder length, and no other', () => {
    const open: ModelConfig = { ...cfg, preprocess: { mean: cfg.preprocess.mean, std: cfg.preprocess.std } };
    expect(maxRel(preprocessFmri(open, rawRows), expected)).toBeLessThanOrEqual(1e-6); // 100 voxels → 112
    expect(preprocessFmri(open, new Float32Array(96)).length).toBe(112); // a whole extra patch
    expect(preprocessFmri(open, new Float32Array(112)).length).toBe(112); // already padded
    expect(() => preprocessFmri(open, new Float32Array(95))).toThrow(FmriShapeError);
    expect(() => preprocessFmri(open, new Float32Array(113))).toThrow(/expects 96–112 voxels \(padded to 112\); the file has 113/);
  });

  it('refuses a config whose ROI size does not pad to the encoder length', () => {
    expect(() => preprocessFmri({ ...cfg, preprocess: { rawVoxels: 112 } }, rawRows)).toThrow(ModelConfigError);
  });

  it('wraps like numpy.pad(mode="wrap"), adding a whole patch when already aligned', () => {
    const v = Float32Array.from({ length: 100 }, (_, i) => i);
    const p = wrapPad(v, 16);
    expect(p.length).toBe(112);
    expect(Array.from(p.subarray(100))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(wrapPad(new Float32Array(32), 16).length).toBe(48);
    // np.pad([1, 2, 3], (0, 13), 'wrap'): cycles when the pad is longer than the vector.
    expect(Array.from(wrapPad(Float32Array.of(1, 2, 3), 16))).toEqual([1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1]);
  });

  it('z-scores in float32 and rejects a zero std', () => {
    expect(Array.from(zscore(Float32Array.of(1, 3), 2, 0.5))).toEqual([-2, 2]);
    expect(() => zscore(Float32Array.of(1), 0, 0)).toThrow(/std > 0/);
  });

  it('selects ROI voxels with a boolean or 0/1 mask', () => {
    const v = Float32Array.of(10, 11, 12, 13);
    expect(Array.from(applyRoiMask(v, [true, false, true, false]))).toEqual([10, 12]);
    expect(Array.from(applyRoiMask(v, Uint8Array.of(0, 1, 1, 1)))).toEqual([11, 12, 13]);
    expect(() => applyRoiMask(v, [true])).toThrow(FmriShapeError);
  });

  it('names expected and found voxel counts and the fix for a wrong-length vector', () => {
    const err = (() => {
      try {
        preprocessFmri(PUBLISHED_GOD_SBJ3, new Float32Array(5000));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(FmriShapeError);
    expect((err as FmriShapeError).message).toBe(
      'this model expects 4,643 voxels (VC ROI, padded to 4,656); ' + 'the file has 5,000: select the ROI mask the model was trained on',
    );
    expect((err as FmriShapeError).expected).toBe(4643);
    expect((err as FmriShapeError).found).toBe(5000);
  });

  it('reports NaN / Inf voxels with their count and first index', () => {
    const row = rawRows[0].slice();
    row[7] = NaN;
    row[42] = Infinity;
    try {
      preprocessFmri(cfg, [rawRows[1], row]);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FmriValueError);
      expect((e as FmriValueError).badCount).toBe(2);
      expect((e as FmriValueError).firstIndex).toBe(7);
      expect((e as Error).message).toMatch(/^sample 1: 2 of 100 voxel values are NaN or infinite \(first at voxel 7\)/);
    }
  });
});

describe("preprocessSummary (what the studio shows of a bundle's preprocessing)", () => {
  it('reports the z-score statistics the bundle holds, not an identity 0 / 1', async () => {
    const { readFile } = await import('node:fs/promises');
    const { preprocessSummary } = await import('../engine/pipeline');
    // The shipped bundle's manifest, read as plain JSON (not through the loader).
    const manifest = JSON.parse(await readFile('public/models/default/manifest.json', 'utf8')) as { config: ModelConfig };
    const { mean, std, rawVoxels } = manifest.config.preprocess;
    expect(mean).toBeDefined();
    expect(mean).not.toBe(0);
    const s = preprocessSummary({ config: manifest.config }, new Float32Array(rawVoxels!).fill(0.5));
    expect(s).toMatchObject({ mean, std, rawVoxels, pad: manifest.config.encoder.numVoxels - rawVoxels! });
    const dir = await goldenDir('tiny');
    const golden = await goldenConfig(dir);
    expect(preprocessSummary({ config: golden }, new Float32Array(golden.preprocess.rawVoxels!))).toMatchObject({
      mean: golden.preprocess.mean,
      std: golden.preprocess.std,
    });
    const none: ModelConfig = { ...golden, preprocess: { rawVoxels: golden.preprocess.rawVoxels } };
    const bare = preprocessSummary({ config: none }, new Float32Array(golden.preprocess.rawVoxels!));
    expect('mean' in bare || 'std' in bare).toBe(false);
  });

  it('formats the statistics so a small or negative mean does not read as "− -0.0000"', () => {
    expect(describeZscore(-0.0109444260597229, 0.999096691608429)).toBe('(x + 0.010944) / 0.9991');
    expect(describeZscore(-1.234e-5, 1)).toBe('(x + 1.234e-5) / 1');
    expect(describeZscore(2.5, 0.5)).toBe('(x − 2.5) / 0.5');
    expect(describeZscore(0, 3)).toBe('(x) / 3');
    expect(formatStat(-4e-7)).toBe('−4.000e-7');
  });
});
