// The studio ops' pure helpers: voxel coordinates follow the file's ROI selection.
import { describe, expect, it } from 'vitest';
import { sampleCoords } from './studio';

describe('sampleCoords', () => {
  const xyz = { data: Int16Array.from([0, 0, 0, 3, 0, 0, 6, 0, 0, 9, 3, 3]), shape: [4, 3] };
  it("keeps the coordinates of the selected ROI's voxels, in order", () => {
    const file = { roi: 'VC', voxels: 2, masks: { VC: Uint8Array.from([0, 1, 0, 1]) } };
    expect(Array.from(sampleCoords({ voxel_xyz: xyz }, file)!)).toEqual([3, 0, 0, 9, 3, 3]);
    expect(Array.from(sampleCoords({ voxel_xyz: xyz }, { voxels: 4 })!)).toHaveLength(12);
  });
  it('gives none when the file has none or the sizes disagree', () => {
    expect(sampleCoords({}, { voxels: 4 })).toBeUndefined();
    expect(sampleCoords({ voxel_xyz: xyz }, { voxels: 3 })).toBeUndefined();
    expect(sampleCoords({ voxel_xyz: { data: xyz.data, shape: [6, 2] } }, { voxels: 6 })).toBeUndefined();
  });
});
