// `npm run eval` on the user's own GOD-layout data directory (sbj_N.npz + images_256.npz, as MinD-Vis and
// the CAD authors distribute GOD), not only the bundled synthetic set. Only the metrics that need nothing
// but the test images are computed: n-way identification and 2-way comparisons by PCC and SSIM, and
// the mean PCC/SSIM of matched pairs (the bundled set's class and novelty metrics rely on its own
// classifier and gallery, which real data sets do not ship).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readFmriFile, type FmriFile } from '../io/fmriFile';
import { readTruthImages } from '../io/truthImages';
import { identificationTop1, pairwise2way, pearson, scoreMatrix, ssim, toGrey, type GreyImage } from './metrics';
import { errorClass } from '../errors';

export class UserDataError extends errorClass('UserDataError') {}

export interface GodLayoutSet {
  dir: string;
  /** The subject file read, e.g. sbj_1.npz. */
  subjectFile: string;
  /** Its averaged test split (arr_2) with the ROI applied. */
  fmri: FmriFile;
  /** Test images grey in [0, 1] at their own resolution, in arr_2's order. */
  gt: GreyImage[];
  imagesFile: string;
}

/**
 * Reads a GOD-layout directory: `sbj_<subject>.npz` (or the only sbj_*.npz) and an images file with
 * `test_images` (images_256.npz). The averaged test split must have one row per test image.
 * @throws UserDataError naming the missing or mismatched file
 */
export async function loadGodLayout(dir: string, opts: { subject?: number; roi?: string; scale?: number } = {}): Promise<GodLayoutSet> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (e) {
    throw new UserDataError(`${dir}: cannot list (${(e as Error).message})`);
  }
  const subjects = names.filter((n) => /^sbj_\d+\w*\.npz$/.test(n));
  const subjectFile = opts.subject !== undefined ? `sbj_${opts.subject}.npz` : subjects.length === 1 ? subjects[0] : undefined;
  if (!subjectFile || !names.includes(subjectFile)) {
    throw new UserDataError(
      `${dir}: ${opts.subject !== undefined ? `no sbj_${opts.subject}.npz` : subjects.length ? `several subjects (${subjects.join(', ')}): choose one with --subject N` : 'no sbj_N.npz'}` +
        ' (a GOD-layout directory holds sbj_N.npz and images_256.npz; the bundled synthetic set has meta.json)',
    );
  }
  const imagesFile = names.find((n) => /^images.*\.npz$/.test(n));
  if (!imagesFile) throw new UserDataError(`${dir}: no images_*.npz with test_images (GOD's images_256.npz)`);
  const fmri = await readFmriFile(subjectFile, new Uint8Array(await readFile(join(dir, subjectFile))), {
    split: 'test-avg',
    ...(opts.roi ? { roi: opts.roi } : {}),
    ...(opts.scale !== undefined ? { scale: opts.scale } : {}),
  });
  const truth = readTruthImages(imagesFile, new Uint8Array(await readFile(join(dir, imagesFile))));
  const test = truth.arrays.test;
  if (!test) throw new UserDataError(`${imagesFile}: no test_images member`);
  if (test.shape[0] !== fmri.samples) {
    throw new UserDataError(`${subjectFile} has ${fmri.samples} averaged test samples but ${imagesFile} ${test.shape[0]} test images`);
  }
  const [n, h, w, c = 1] = test.shape;
  const size = h * w * c;
  const data = test.data as Uint8Array;
  const gt = Array.from({ length: n }, (_, i) =>
    toGrey(
      Array.from(data.subarray(i * size, (i + 1) * size), (v) => v / 255),
      h,
      w,
      c,
      h,
      w,
    ),
  );
  return { dir, subjectFile, fmri, gt, imagesFile };
}

export interface UserMetrics {
  n_test: number;
  top1_nway: number;
  pair2way_pcc: number;
  pair2way_ssim: number;
  pcc: number;
  ssim: number;
}

/** Metrics of reconstructions (grey, any size: resized to each ground truth's) against the ground truth. */
export function scoreAgainstImages(recons: GreyImage[], gts: GreyImage[]): UserMetrics {
  const at = recons.map((r) =>
    r.height === gts[0].height && r.width === gts[0].width ? r : toGrey(r.data, r.height, r.width, 1, gts[0].height, gts[0].width),
  );
  const pcc = scoreMatrix(at, gts, (a, b) => pearson(a.data, b.data));
  const ss = scoreMatrix(at, gts, (a, b) => ssim(a, b));
  const diag = (m: Float64Array[]) => m.reduce((s, row, i) => s + row[i], 0) / m.length;
  return {
    n_test: gts.length,
    top1_nway: identificationTop1(pcc),
    pair2way_pcc: pairwise2way(pcc),
    pair2way_ssim: pairwise2way(ss),
    pcc: diag(pcc),
    ssim: diag(ss),
  };
}
