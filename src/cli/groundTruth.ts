// Ground truth for `npm run decode`: when the fMRI file is one of the bundled SYNTHETIC data set's files
// (its sha256 listed in <data>/meta.json, as the studio recognises it), the stimulus image of the decoded
// sample, and the scores of the reconstructions against it: PCC and SSIM (src/eval/metrics.ts) and the
// class the Fashion-MNIST CNN of `npm run eval` gives them (src/eval/cnn.ts).
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { readNpz } from '../io/npz';
import type { FmriFile } from '../io/fmriFile';
import { pearson, ssim, toGrey, type GreyImage } from '../eval/metrics';
import { FASHION_MNIST_CLASSES, loadCnnClassifier } from '../eval/cnn';
import type { ImageBatch } from '../engine/types';

/** The stimulus of one decoded sample. */
export interface GroundTruth {
  /** Grey image in [0, 1] at the data set's resolution (images_32.npz / 255). */
  image: GreyImage;
  /** Where it comes from, e.g. "test image 0 of images_32.npz". */
  source: string;
  /** Fashion-MNIST class name of the image, when the data set has labels. */
  className?: string;
  /** The data set's label (it is SIMULATED: every figure printed with it says so). */
  dataLabel: string;
  /** The data set directory (its classifier_cnn.npz scores the reconstructions). */
  dir: string;
}

interface Meta {
  label?: string;
  data?: string;
  sha256?: Record<string, string>;
  samples?: { source?: string };
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Image split of images_32.npz that a data split's ground truth indexes (as the studio's worker maps them). */
const IMAGE_SPLIT: Record<string, 'train' | 'test'> = { train: 'train', 'test-avg': 'test' };

async function readListed(dir: string, name: string, meta: Meta): Promise<Uint8Array> {
  const bytes = new Uint8Array(await readFile(join(dir, name)));
  const want = meta.sha256?.[name];
  if (!want || sha256(bytes) !== want) throw new Error(`${join(dir, name)}: sha256 not the one listed in meta.json`);
  return bytes;
}

/**
 * The ground truth of sample `index` of `file` (its current split), or undefined when the file is not one
 * of the data set in `dataDir` (sha256 `fileSha256` not in its meta.json), the split has no stimulus images
 * (single test trials), or the data set cannot be read. Errors in a listed file (corrupt images_32.npz) throw.
 */
export async function groundTruthFor(dataDir: string, fileSha256: string, file: FmriFile, index: number): Promise<GroundTruth | undefined> {
  let meta: Meta;
  try {
    meta = JSON.parse(await readFile(join(dataDir, 'meta.json'), 'utf8')) as Meta;
  } catch {
    return undefined;
  }
  if (!Object.values(meta.sha256 ?? {}).includes(fileSha256)) return undefined;
  const imageSplit = IMAGE_SPLIT[file.split];
  let split: 'train' | 'test' | undefined, image: number | undefined;
  if (imageSplit && file.groundTruthIndex) {
    image = file.groundTruthIndex(file.split, index);
    split = imageSplit;
  } else if (Object.keys(file.splits).length === 1 && file.samples === 1) {
    // The single-sample files (sample_test0.*) are one test image's trial average, named in meta.samples.source.
    const m = /test image (\d+)/.exec(meta.samples?.source ?? '');
    if (m) {
      image = Number(m[1]);
      split = 'test';
    }
  }
  if (split === undefined || image === undefined) return undefined;
  const npz = readNpz(await readListed(dataDir, 'images_32.npz', meta), (n) => n === `${split}_images` || n === `${split}_labels`);
  const arr = npz[`${split}_images`];
  if (!arr) throw new Error(`${join(dataDir, 'images_32.npz')} has no ${split}_images`);
  const [n, h, w] = arr.shape;
  if (!(image >= 0 && image < n)) throw new Error(`ground truth: ${split} image ${image} out of range (0..${n - 1})`);
  const size = h * w;
  const data = Float64Array.from((arr.data as Uint8Array).subarray(image * size, (image + 1) * size), (v) => v / 255);
  const label = npz[`${split}_labels`]?.data[image];
  return {
    image: { height: h, width: w, data },
    source: `${split} image ${image} of images_32.npz`,
    dir: dataDir,
    dataLabel: meta.label ?? 'SYNTHETIC – simulated responses, not brain data',
    ...(label !== undefined ? { className: FASHION_MNIST_CLASSES[Number(label)] ?? `class ${label}` } : {}),
  };
}

/** PCC, SSIM and (with the data set's CNN) the class of one reconstruction. */
export interface SampleScore {
  /** 'sample 0', …, or 'mean of samples' (the pixel mean, as the studio scores it). */
  name: string;
  pcc: number;
  ssim: number;
  cnnClass?: string;
}

/**
 * Scores decoded images [n, H, W, 3] against the ground truth as the studio does: each image as its 8-bit
 * PNG (what decode writes), to grey at the ground truth's resolution, then PCC and SSIM; with n > 1 also
 * the pixel mean of the samples. The CNN class when the data set ships classifier_cnn.npz (needs a tfjs
 * backend running).
 */
export async function scoreImages(images: ImageBatch, gt: GroundTruth): Promise<SampleScore[]> {
  const { n, height, width } = images;
  const per = height * width * 3;
  // As the PNG stores it (src/io/png.ts toRgb8), back in [0, 1].
  const rgb8 = (rgb: Float32Array): Float64Array => Float64Array.from(rgb, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255) / 255);
  const rgbs = Array.from({ length: n }, (_, i) => rgb8(images.data.subarray(i * per, (i + 1) * per)));
  if (n > 1) {
    // The studio's mean image (src/worker/images.ts meanImage): the mean of the samples, then 8 bits.
    const mean = new Float32Array(per);
    for (let i = 0; i < n; i++) for (let k = 0; k < per; k++) mean[k] += images.data[i * per + k];
    for (let k = 0; k < per; k++) mean[k] /= n;
    rgbs.push(rgb8(mean));
  }
  const { height: gh, width: gw } = gt.image;
  const greys = rgbs.map((r) => toGrey(r, height, width, 3, gh, gw));
  const scores: SampleScore[] = greys.map((g, i) => ({
    name: i < n ? `sample ${i}` : 'mean of samples',
    pcc: pearson(g.data, gt.image.data),
    ssim: ssim(g, gt.image),
  }));
  let cnnBytes: Uint8Array | undefined;
  try {
    const meta = JSON.parse(await readFile(join(gt.dir, 'meta.json'), 'utf8')) as Meta;
    cnnBytes = await readListed(gt.dir, 'classifier_cnn.npz', meta);
  } catch {
    return scores; // no CNN shipped with this data set: PCC and SSIM only
  }
  const cnn = loadCnnClassifier(cnnBytes);
  try {
    const side = cnn.imageSize;
    const input = new Float32Array(greys.length * side * side);
    greys.forEach((g, i) => input.set(toGrey(g.data, gh, gw, 1, side, side).data, i * side * side));
    const cls = await cnn.classify(input, greys.length);
    scores.forEach((s, i) => {
      s.cnnClass = FASHION_MNIST_CLASSES[cls[i]] ?? `class ${cls[i]}`;
    });
  } finally {
    cnn.dispose();
  }
  return scores;
}

/** The lines decode prints: the ground truth, then one line per image, labelled SIMULATED. */
export function formatScores(gt: GroundTruth, scores: SampleScore[]): string {
  const head = `ground truth: ${gt.source}${gt.className ? ` (${gt.className})` : ''}; data set ${gt.dataLabel}`;
  const rows = scores.map(
    (s) =>
      `  ${s.name.padEnd(15)} PCC ${s.pcc.toFixed(3)} · SSIM ${s.ssim.toFixed(3)}` +
      `${s.cnnClass ? ` · CNN class ${s.cnnClass}${gt.className ? (s.cnnClass === gt.className ? ' (= ground truth)' : ` (ground truth ${gt.className})`) : ''}` : ''}`,
  );
  return `${[head, ...rows, '  (scores on a SIMULATED data set, not brain data)'].join('\n')}\n`;
}
