// Loader of the bundled SYNTHETIC data set public/data/god-synth (spec data.md §3.7): MinD-Vis
// sbj_N.npz layout with int8 × scale z-scores, images_32.npz, and the two tiny reference models
// (pca64.npz, classifier.npz) that the generator fitted on pretraining-pool images only.
// Every file is checked against the sha256 list in meta.json before it is trusted.
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { readNpz, type Npz } from '../io/npz';
import type { NpyArray } from '../io/npy';
import type { PixelClassifier } from './metrics';
import { errorClass } from '../errors';

export class SynthDataError extends errorClass('SynthDataError') {}

export const SYNTHETIC_LABEL = 'SYNTHETIC – simulated responses, not brain data';
export const ROI_NAMES = ['VC', 'LVC', 'HVC', 'V1', 'V2', 'V3'] as const;
export type RoiName = (typeof ROI_NAMES)[number];

export interface SynthMeta {
  label: string;
  description: string;
  data: string;
  default_subject: number;
  sha256: Record<string, string>;
  files: Record<string, { V: number; roi_counts: Record<RoiName, number>; baselines_python?: Record<string, Record<string, number>> }>;
  parameters: { n_test_reps: number; ship_test_reps: number; q: number };
  [key: string]: unknown;
}

export interface SynthDataset {
  dir: string;
  meta: SynthMeta;
  subject: number;
  numVoxels: number;
  /** Training samples, z-scores [numTrain, V]. */
  train: Float32Array;
  numTrain: number;
  /** Index of each training sample into trainImages (arr_3). */
  trainImageIndex: Int32Array;
  /** Test samples averaged over all simulated trials [numTest, V] (arr_2). */
  testAvg: Float32Array;
  numTest: number;
  /** Shipped single test trials [numTrials·numTest, V] (arr_1), row r·numTest + i = trial r of image i. */
  testTrials: Float32Array;
  numTestTrials: number;
  masks: Record<RoiName, Uint8Array>;
  voxelXyz: Int16Array;
  imageSize: number;
  /** Grey uint8 images [N, size, size]. */
  trainImages: Uint8Array;
  testImages: Uint8Array;
  trainLabels: Uint8Array;
  testLabels: Uint8Array;
}

export interface ReferenceModels {
  classifier: PixelClassifier;
  /** Image PCA fitted on pool images: mean [P], components [K, P] (rows orthonormal up to fp16 storage). */
  pca: { mean: Float32Array; components: Float32Array; numComponents: number; numPixels: number };
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function readChecked(dir: string, name: string, meta: SynthMeta, verify: boolean): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(join(dir, name)));
  } catch (e) {
    throw new SynthDataError(`${join(dir, name)}: cannot read (${(e as Error).message}); regenerate with scripts/regen-data.sh`);
  }
  if (verify) {
    const expected = meta.sha256[name];
    if (!expected) throw new SynthDataError(`${name}: no sha256 listed in ${join(dir, 'meta.json')}`);
    const found = sha256(bytes);
    if (found !== expected)
      throw new SynthDataError(
        `${name}: sha256 ${found} does not match meta.json (${expected}); the file is corrupt or was regenerated without its meta.json`,
      );
  }
  return bytes;
}

export async function readSynthMeta(dir: string): Promise<SynthMeta> {
  let meta: SynthMeta;
  try {
    meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as SynthMeta;
  } catch (e) {
    throw new SynthDataError(`${join(dir, 'meta.json')}: cannot read or parse (${(e as Error).message})`);
  }
  if (meta.data !== 'synthetic' || meta.label !== SYNTHETIC_LABEL) {
    throw new SynthDataError(`${dir}/meta.json: expected a data set labelled "${SYNTHETIC_LABEL}", found "${String(meta.label)}"`);
  }
  return meta;
}

function member(npz: Npz, file: string, key: string, dtypes: NpyArray['dtype'][], shape: (number | null)[]): NpyArray {
  const a = npz[key];
  if (!a) throw new SynthDataError(`${file}: member '${key}' is missing (members: ${Object.keys(npz).join(', ')})`);
  if (!dtypes.includes(a.dtype)) throw new SynthDataError(`${file}: '${key}' has dtype ${a.dtype}, expected ${dtypes.join(' or ')}`);
  if (a.shape.length !== shape.length || shape.some((s, i) => s !== null && s !== a.shape[i])) {
    throw new SynthDataError(`${file}: '${key}' has shape [${a.shape.join(', ')}], expected [${shape.map((s) => s ?? '?').join(', ')}]`);
  }
  return a;
}

/** z-scores as float32: int8 members × scale (the shipped layout), float members as they are. */
export function dequantise(a: NpyArray, scale: number): Float32Array {
  if (a.dtype === 'i1') {
    const out = new Float32Array(a.data.length);
    const d = a.data as Int8Array;
    for (let i = 0; i < d.length; i++) out[i] = d[i] * scale;
    return out;
  }
  if (a.dtype === 'f4' || a.dtype === 'f2') return a.data as Float32Array;
  if (a.dtype === 'f8') return Float32Array.from(a.data as Float64Array);
  throw new SynthDataError(`fMRI arrays must be int8 (with scale), float16/32/64; got ${a.dtype}`);
}

/**
 * opts.scale: the user's multiplier for the fMRI values; it replaces the file's `scale` member for the int8
 * members and multiplies float members too (as `readFmriFile`'s scale does for every format).
 */
export async function loadSynthDataset(
  dir: string,
  opts: { subject?: number; verify?: boolean; scale?: number } = {},
): Promise<SynthDataset> {
  const verify = opts.verify ?? true;
  const meta = await readSynthMeta(dir);
  const subject = opts.subject ?? meta.default_subject;
  const sbjName = `sbj_${subject}.npz`;
  const info = meta.files[sbjName];
  if (!info) throw new SynthDataError(`${dir}: meta.json lists no ${sbjName} (has ${Object.keys(meta.files).join(', ')})`);
  const sbj = readNpz(await readChecked(dir, sbjName, meta, verify));
  const V = info.V;
  const scaleArr = member(sbj, sbjName, 'scale', ['f4', 'f8'], []);
  const scale = opts.scale ?? Number(scaleArr.data[0]);
  const deq = (a: NpyArray): Float32Array => {
    const v = dequantise(a, scale);
    if (opts.scale === undefined || a.dtype === 'i1') return v;
    return Float32Array.from(v, (x) => x * scale);
  };
  const train = member(sbj, sbjName, 'arr_0', ['i1', 'f2', 'f4', 'f8'], [null, V]);
  const trials = member(sbj, sbjName, 'arr_1', ['i1', 'f2', 'f4', 'f8'], [null, V]);
  const avg = member(sbj, sbjName, 'arr_2', ['i1', 'f2', 'f4', 'f8'], [null, V]);
  const numTrain = train.shape[0],
    numTest = avg.shape[0];
  if (trials.shape[0] % numTest !== 0)
    throw new SynthDataError(`${sbjName}: arr_1 has ${trials.shape[0]} rows, not a multiple of ${numTest} test images`);
  const index = member(sbj, sbjName, 'arr_3', ['i2', 'i4', 'i8'], [numTrain]);
  const masks = {} as Record<RoiName, Uint8Array>;
  for (const r of ROI_NAMES) masks[r] = member(sbj, sbjName, r, ['b1'], [V]).data as Uint8Array;
  const xyz = member(sbj, sbjName, 'voxel_xyz', ['i2'], [V, 3]).data as Int16Array;

  const img = readNpz(await readChecked(dir, 'images_32.npz', meta, verify));
  const trainImg = member(img, 'images_32.npz', 'train_images', ['u1'], [null, null, null, 1]);
  const size = trainImg.shape[1];
  const testImg = member(img, 'images_32.npz', 'test_images', ['u1'], [numTest, size, size, 1]);
  const trainLabels = member(img, 'images_32.npz', 'train_labels', ['u1'], [trainImg.shape[0]]).data as Uint8Array;
  const testLabels = member(img, 'images_32.npz', 'test_labels', ['u1'], [numTest]).data as Uint8Array;
  const trainImageIndex = Int32Array.from(index.data as ArrayLike<number>, Number);
  for (const k of trainImageIndex)
    if (k < 0 || k >= trainImg.shape[0]) throw new SynthDataError(`${sbjName}: arr_3 index ${k} outside 0..${trainImg.shape[0] - 1}`);
  return {
    dir,
    meta,
    subject,
    numVoxels: V,
    train: deq(train),
    numTrain,
    trainImageIndex,
    testAvg: deq(avg),
    numTest,
    testTrials: deq(trials),
    numTestTrials: trials.shape[0] / numTest,
    masks,
    voxelXyz: xyz,
    imageSize: size,
    trainImages: trainImg.data as Uint8Array,
    testImages: testImg.data as Uint8Array,
    trainLabels,
    testLabels,
  };
}

/**
 * Bytes of classifier_cnn.npz (the CNN of the "CNN class" metric, python/cad_ref/train/classifier.py), checked
 * against meta.json; parse them with loadCnnClassifier (src/eval/cnn.ts) once a tfjs backend is running.
 */
export async function readCnnWeights(dir: string, meta: SynthMeta, verify = true): Promise<Uint8Array> {
  return readChecked(dir, 'classifier_cnn.npz', meta, verify);
}

export async function loadReferenceModels(dir: string, meta: SynthMeta, verify = true): Promise<ReferenceModels> {
  const clfNpz = readNpz(await readChecked(dir, 'classifier.npz', meta, verify));
  const w = member(clfNpz, 'classifier.npz', 'weight', ['f4'], [null, null]);
  const b = member(clfNpz, 'classifier.npz', 'bias', ['f4'], [w.shape[0]]);
  const pcaNpz = readNpz(await readChecked(dir, 'pca64.npz', meta, verify));
  const mean = member(pcaNpz, 'pca64.npz', 'mean', ['f4'], [w.shape[1]]);
  const comps = member(pcaNpz, 'pca64.npz', 'components', ['f2', 'f4'], [null, w.shape[1]]);
  return {
    classifier: { numClasses: w.shape[0], numPixels: w.shape[1], weight: w.data as Float32Array, bias: b.data as Float32Array },
    pca: {
      mean: mean.data as Float32Array,
      components: comps.data as Float32Array,
      numComponents: comps.shape[0],
      numPixels: comps.shape[1],
    },
  };
}
