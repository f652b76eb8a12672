// A file's voxels put into the model's order by their positions (src/io/voxelOrder.ts), with the default bundle's
// recorded positions (decoding_studio.voxels.xyz_mm = sbj_3.npz's voxel_xyz). Oracles: sample_test0.npy (numpy's
// arr_2 row 0, the model's order) and numpy/nibabel masks written by the Python snippet below.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PYTHON, REPO_ROOT } from '../../test/golden';
import { readVoxelPositions } from '../cli/nodeModel';
import type { ModelConfig } from '../model/config';
import { parseManifest } from './bundle/manifest';
import { VoxelOrderError } from './errors';
import { readFmriFile, type FmriFile, type ReadFmriOptions } from './fmriFile';
import { npyToFloat32, readNpy } from './npy';
import { readFmriStream } from './stream';
import { alignVoxels, inModelOrder, type OrderedModel } from './voxelOrder';

const DATA = join(REPO_ROOT, 'public', 'data', 'god-synth');
const MODEL = join(REPO_ROOT, 'public', 'models', 'default');

// Masks on the sample's grid (its sform): the model's voxels less three (one of them its voxel 10), and plus 40.
const MAKE_MASKS = `
import json, sys, numpy as np, nibabel as nib
data, out = sys.argv[1], sys.argv[2]
m = nib.load(f'{data}/sample_mask.nii.gz')
xyz = np.load(f'{data}/sbj_3.npz')['voxel_xyz']
ijk = np.round((np.c_[xyz, np.ones(len(xyz))] @ np.linalg.inv(m.affine).T)[:, :3]).astype(int)
gone = [900, 10, 3000]
less = m.get_fdata().astype(np.uint8); less[tuple(ijk[gone].T)] = 0
nib.Nifti1Image(less, m.affine).to_filename(f'{out}/missing_mask.nii.gz')
more = m.get_fdata().astype(np.uint8); free = np.argwhere(more == 0)[:40]; more[tuple(free.T)] = 1
nib.Nifti1Image(more, m.affine).to_filename(f'{out}/bigger_mask.nii.gz')
json.dump({'first_missing': xyz[10].tolist()}, open(f'{out}/oracle.json', 'w'))
`;

const VOXEL_XYZ = `import json, sys, numpy as np; print(json.dumps(np.load(sys.argv[1] + '/sbj_3.npz')['voxel_xyz'].ravel().tolist()))`;

let dir = '';
let model: OrderedModel;
let oracle: { first_missing: number[] };
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'voxel-order-'));
  execFileSync(PYTHON, ['-c', MAKE_MASKS, DATA, dir], { stdio: 'pipe' });
  oracle = JSON.parse(readFileSync(join(dir, 'oracle.json'), 'utf8')) as typeof oracle;
  const config = parseManifest(readFileSync(join(MODEL, 'manifest.json'), 'utf8')).config as ModelConfig;
  model = { config, voxelXyzMm: await readVoxelPositions(MODEL) };
}, 120_000);
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const bytes = (path: string) => new Uint8Array(readFileSync(path));
const npyVector = () => Array.from(npyToFloat32(readNpy(bytes(join(DATA, 'sample_test0.npy')))));
const maskOpts = (path: string): ReadFmriOptions => ({ mask: bytes(path), maskName: path.split('/').pop()! });
const nifti = (mask: string) => readFmriFile('sample_test0.nii.gz', bytes(join(DATA, 'sample_test0.nii.gz')), maskOpts(mask));
const streamedNifti = (mask: string) => {
  const b = bytes(join(DATA, 'sample_test0.nii.gz'));
  return readFmriStream(
    'sample_test0.nii.gz',
    b.length,
    async function* () {
      yield b;
    },
    maskOpts(mask),
  );
};

/** The mm position of coordinate row v (through the grid's affine for 'grid'). */
function mmOf(f: FmriFile, v: number): number[] {
  const c = f.coords!;
  const p = [0, 1, 2].map((a) => c.xyz[3 * v + a]);
  if (c.space === 'mm') return p;
  const A = c.affine!.rows;
  return [0, 1, 2].map((r) => A[4 * r] * p[0] + A[4 * r + 1] * p[1] + A[4 * r + 2] * p[2] + A[4 * r + 3]);
}

describe("a file's voxels in the model's order", () => {
  it("the default bundle records sbj_3.npz's voxel_xyz exactly (numpy's values)", () => {
    const xyz = execFileSync(PYTHON, ['-c', VOXEL_XYZ, DATA], { encoding: 'utf8' });
    expect(Array.from(model.voxelXyzMm!)).toEqual(JSON.parse(xyz) as number[]);
  });

  it('the bundled sample_test0.nii.gz + sample_mask.nii.gz gives exactly sample_test0.npy, whole and streamed; coords follow', async () => {
    const want = npyVector();
    for (const read of [nifti, streamedNifti]) {
      const raw = await read(join(DATA, 'sample_mask.nii.gz'));
      // The bug this fixes: the grid's C order is not the model's.
      expect(Array.from(raw.getSample(0))).not.toEqual(want);
      const { file, note } = inModelOrder(raw, model);
      expect(Array.from(file.getSample(0))).toEqual(want);
      expect(file.voxels).toBe(4511);
      expect(note).toBe("voxel order: put into the model's (its 4,511 voxels' positions matched in mm through sample_mask.nii.gz's sform)");
      expect(file.note).toContain(note);
      // Row v of the coords is the model's voxel v: the Explain panel's slice draws each value where it belongs.
      for (const v of [0, 10, 2000, 4510]) expect(mmOf(file, v)).toEqual(Array.from(model.voxelXyzMm!.subarray(3 * v, 3 * v + 3)));
    }
  });

  it("a mask with more voxels than the model: the model's are kept, the others dropped and counted in the note", async () => {
    const { file, note } = inModelOrder(await nifti(join(dir, 'bigger_mask.nii.gz')), model);
    expect(Array.from(file.getSample(0))).toEqual(npyVector());
    expect(note).toMatch(/; 40 voxels of the file that the model does not take dropped\)$/);
  });

  it("a mask lacking some of the model's voxels is refused: how many, the first one's position, the mask is not the model's", async () => {
    for (const read of [nifti, streamedNifti]) {
      const f = await read(join(dir, 'missing_mask.nii.gz'));
      expect(() => inModelOrder(f, model)).toThrow(VoxelOrderError);
      const [x, y, z] = oracle.first_missing;
      expect(() => inModelOrder(f, model)).toThrow(
        `3 of the 4,511 voxels the model default-god-synth-sbj3 takes are not among the 4,508 voxels of sample_test0.nii.gz, ` +
          `the first at (${x}, ${y}, ${z}) mm; the mask is not the one the model was trained on: use the model's own mask`,
      );
    }
  });

  it("a model without positions, or a grid without an affine: the grid's order kept, and a note says it cannot be checked", async () => {
    const raw = await nifti(join(DATA, 'sample_mask.nii.gz'));
    const none = inModelOrder(raw, { config: model.config });
    expect(Array.from(none.file.getSample(0))).toEqual(Array.from(raw.getSample(0)));
    expect(none.note).toBe(
      "voxel order: the grid's C order over (x, y, z); the model does not record its voxels' positions, so this must be the order the model was trained on",
    );
    expect(none.file.note).toContain(none.note);
    const noAffine: FmriFile = { ...raw, coords: { ...raw.coords!, affine: undefined } };
    const unchecked = inModelOrder(noAffine, model);
    expect(Array.from(unchecked.file.getSample(0))).toEqual(Array.from(raw.getSample(0)));
    expect(unchecked.note).toMatch(
      /^voxel order: the grid's C order over \(x, y, z\); the file's grid has no voxel-to-mm affine .*must be the order/,
    );
  });

  it('files without positions (.npy, .csv, an HDF5 matrix) are unchanged, without a note', async () => {
    for (const name of ['sample_test0.npy', 'sample_test0.csv', 'sample_test0.h5']) {
      const f = await readFmriFile(name, bytes(join(DATA, name)));
      const o = inModelOrder(f, model);
      expect(o.file).toBe(f);
      expect(o.note).toBeUndefined();
    }
  });

  it("a GOD .npz (voxel_xyz in mm): sbj_3 is already in the model's order; another ROI is refused naming the model's", async () => {
    const npz = await readFmriFile('sbj_3.npz', bytes(join(DATA, 'sbj_3.npz')));
    const same = inModelOrder(npz, model);
    expect(same.note).toBe("voxel order: already the model's (its 4,511 voxels' positions matched in mm by voxel_xyz)");
    expect(Array.from(same.file.getSample(3))).toEqual(Array.from(npz.getSample(3)));
    // Reversed voxel_xyz order (a file in another order): put back.
    const reversed = alignVoxels({ ...npz.coords!, xyz: reverseRows(npz.coords!.xyz) }, model.voxelXyzMm!);
    expect(Array.from(reversed.columns.slice(0, 3))).toEqual([4510, 4509, 4508]);
    expect(() => inModelOrder(npz.select({ roi: 'V1' }), model)).toThrow(
      /^3,400 of the 4,511 voxels the model default-god-synth-sbj3 takes are not among the 1,111 voxels of sbj_3\.npz \(ROI V1\), the first at .* mm; these are not the voxels the model was trained on: select ROI VC$/,
    );
  });

  it("the reordered view's ROI masks, selection and samples stay consistent", async () => {
    const npz = await readFmriFile('sbj_3.npz', bytes(join(DATA, 'sbj_3.npz')));
    const shuffled = (f: FmriFile): FmriFile => {
      // The same file with its voxels in reverse order, as another tool might have written it.
      const out: FmriFile = {
        ...f,
        getSample: (i) => f.getSample(i).reverse(),
        coords: { ...f.coords!, xyz: reverseRows(f.coords!.xyz) },
        masks: Object.fromEntries(Object.entries(f.masks!).map(([k, m]) => [k, m.slice().reverse()])),
        select: (o) => shuffled(f.select(o)),
      };
      return out;
    };
    const { file } = inModelOrder(shuffled(npz), model);
    expect(Array.from(file.getSample(7))).toEqual(Array.from(npz.getSample(7)));
    expect(Array.from(file.masks!.V1)).toEqual(Array.from(npz.masks!.V1));
    expect(Array.from(file.coords!.xyz)).toEqual(Array.from(npz.coords!.xyz));
    expect(Array.from(file.select({ split: 'train' }).getSample(1))).toEqual(Array.from(npz.select({ split: 'train' }).getSample(1)));
  });
});

function reverseRows(xyz: Int32Array): Int32Array {
  const n = xyz.length / 3;
  const out = new Int32Array(xyz.length);
  for (let v = 0; v < n; v++) out.set(xyz.subarray(3 * (n - 1 - v), 3 * (n - v)), 3 * v);
  return out;
}
