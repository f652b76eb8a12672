// The ROI views of one step against hand-computed values (2 positions, 3 tokens, 4 voxels).
import { describe, expect, it } from 'vitest';
import { regionVoxelImportance, roiHeatmap, roiIndices, roiMass, roiTokenWeights } from './roi';
import { heatToRgb, inferno, tile } from './render';

// A [2 positions, 3 tokens]; tokenVoxel [3 tokens, 4 voxels] (+ bias per token: rows sum to 1).
const A = Float32Array.from([0.5, 0.3, 0.2, 0.1, 0.1, 0.8]);
const TV = Float32Array.from([0.5, 0.5, 0, 0, /**/ 0, 0, 0.4, 0.4, /**/ 0.1, 0.2, 0.3, 0.2]);
const bias = Float32Array.from([0, 0.2, 0.2]);

describe('ROI views', () => {
  it('token weights, heatmap, region importance and mass', () => {
    const r1 = roiIndices([1, 1, 0, 0], 4),
      r2 = roiIndices([0, 0, 1, 1], 4);
    const w1 = roiTokenWeights(TV, 3, 4, r1);
    expect(Array.from(w1).map((x) => +x.toFixed(6))).toEqual([1, 0, 0.3]);
    const heat = roiHeatmap(A, 3, w1);
    expect(heat[0]).toBeCloseTo(0.5 + 0.2 * 0.3, 6);
    expect(heat[1]).toBeCloseTo(0.1 + 0.8 * 0.3, 6);
    const imp = regionVoxelImportance(A, 3, [0, 1], TV, 4);
    // Ā = A[1] = [0.1, 0.1, 0.8]
    expect(imp[0]).toBeCloseTo(0.1 * 0.5 + 0.8 * 0.1, 6);
    expect(imp[2]).toBeCloseTo(0.1 * 0.4 + 0.8 * 0.3, 6);
    const m = roiMass(A, 3, TV, bias, 4, { a: r1, b: r2 });
    expect(m.mass.a + m.mass.b + m.bias).toBeCloseTo(1, 6);
    expect(m.perVoxel.a).toBeCloseTo(m.mass.a / 0.5, 6);
  });

  it('refuses empty or mismatched masks and regions', () => {
    expect(() => roiIndices([0, 0, 0, 0], 4, 'V1')).toThrow(/V1 mask selects no voxel/);
    expect(() => roiIndices([1, 0], 4, 'V1')).toThrow(/2 entries; the fMRI vector has 4/);
    expect(() => regionVoxelImportance(A, 3, [0, 0], TV, 4)).toThrow(/region is empty/);
  });
});

describe('render', () => {
  it('maps the ends of the colormap and upsamples by nearest neighbour', () => {
    expect(inferno(0).map((x) => Math.round(x * 255))).toEqual([0, 0, 4]);
    expect(inferno(1).map((x) => Math.round(x * 255))).toEqual([252, 255, 164]);
    const rgb = heatToRgb(Float32Array.from([0, 1]), 1, 2, 2, 4, 0, 1);
    expect(Array.from(rgb.subarray(0, 3))).toEqual(Array.from(rgb.subarray(3, 6))); // same cell
    expect(Array.from(rgb.subarray(6, 9))).toEqual(Array.from(Float32Array.from(inferno(1))));
    const t = tile([rgb, rgb], 2, 4, 2);
    expect([t.width, t.height]).toEqual([2 * 8 + 2, 4]);
  });
});
