// Voxel coordinates' helpers (the readers' use of them is checked against nibabel/numpy in fmriFile.test.ts and
// datasets.test.ts): the grid order, the voxel size of mm coordinates, the rows of a selection, a bad mask.
import { describe, expect, it } from 'vitest';
import { gridCoords, mmCoords, selectCoords } from './coords';
import { FmriFormatError } from './errors';

describe('voxel coordinates', () => {
  it('gridCoords lists (i, j, k) with k fastest (flat index (i·Y + j)·Z + k), kept voxels only', () => {
    const all = gridCoords([2, 1, 2]);
    expect(Array.from(all.xyz)).toEqual([0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 1]);
    // Flags 0,1,1,0 keep flat indices 1 and 2: (0, 0, 1) and (1, 0, 0).
    expect(Array.from(gridCoords([2, 1, 2], [0, 1, 1, 0]).xyz)).toEqual([0, 0, 1, 1, 0, 0]);
    expect(() => gridCoords([2, 1, 2], [1, 1, 1])).toThrow(FmriFormatError);
    expect(() => gridCoords([2, 1, 2], [1, 1, 1])).toThrow(/3 flags for the 2×1×2 grid \(4 voxels\)/);
  });

  it("mmCoords takes the voxel size from the closest two values on an axis (GOD's 3 mm), 1 for a single voxel", () => {
    expect(mmCoords(Int16Array.from([-29, -97, 5, -29, -97, 8, -26, -100, -4])).step).toBe(3);
    expect(mmCoords([4, 4, 4]).step).toBe(1);
    expect(mmCoords([0n, 2n, 4n]).xyz).toEqual(Int32Array.from([0, 2, 4]));
  });

  it('selectCoords keeps the rows of the selected voxels, in the order given', () => {
    const c = gridCoords([3, 1, 1]);
    expect(Array.from(selectCoords(c, [2, 0]).xyz)).toEqual([2, 0, 0, 0, 0, 0]);
    expect(selectCoords(c, [1]).dims).toEqual([3, 1, 1]);
  });
});
