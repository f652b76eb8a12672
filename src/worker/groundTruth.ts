// Ground-truth images for the bundled synthetic GOD-layout set (public/data/god-synth). A file is
// recognised as bundled only by its sha256 being listed in the set's meta.json; the images are then
// fetched from the same origin (the request carries no user data).
import { FmriFormatError } from '../io/errors';
import type { FmriFile } from '../io/fmriFile';
import { readNpz } from '../io/npz';
import { readTruthImages, truthFor, truthFromList, type TruthImages } from '../io/truthImages';
import type { NpyArray } from '../io/npy';
import type { RgbaImage } from '../engine/protocol';
import { uint8ToRgba } from './images';
import { FASHION_MNIST_CLASSES, loadCnnClassifier, type CnnClassifier } from '../eval/cnn';

export interface BundledSet {
  label: string;
  /** sha256 of every shipped file. */
  sha256: Set<string>;
  /** Test image shown by the single-sample files (sample_test0.*), from meta.json's samples.source. */
  singleSampleTestImage?: number;
}

const base = (): URL => new URL(`${import.meta.env.BASE_URL}data/god-synth/`, self.location.origin);

let metaPromise: Promise<BundledSet | null> | null = null;
let imagesPromise: Promise<{ train: NpyArray; test: NpyArray; labels: { train?: NpyArray; test?: NpyArray } }> | null = null;
let cnnPromise: Promise<CnnClassifier> | null = null;

export function bundledSet(): Promise<BundledSet | null> {
  metaPromise ??= (async () => {
    const res = await fetch(new URL('meta.json', base()));
    if (!res.ok) return null;
    const meta = (await res.json()) as { label?: string; sha256?: Record<string, string>; samples?: { source?: string } };
    const testImage = /test image (\d+)/.exec(meta.samples?.source ?? '')?.[1];
    return {
      label: meta.label ?? 'synthetic — simulated responses, not brain data',
      sha256: new Set(Object.values(meta.sha256 ?? {})),
      ...(testImage !== undefined ? { singleSampleTestImage: Number(testImage) } : {}),
    };
  })().catch(() => null);
  return metaPromise;
}

function images(): Promise<{ train: NpyArray; test: NpyArray; labels: { train?: NpyArray; test?: NpyArray } }> {
  imagesPromise ??= (async () => {
    const res = await fetch(new URL('images_32.npz', base()));
    if (!res.ok) throw new Error(`ground-truth images: HTTP ${res.status} for images_32.npz`);
    const npz = readNpz(new Uint8Array(await res.arrayBuffer()), (n) => /^(train|test)_(images|labels)$/.test(n));
    if (!npz.train_images || !npz.test_images) throw new Error('images_32.npz lacks train_images/test_images');
    return { train: npz.train_images, test: npz.test_images, labels: { train: npz.train_labels, test: npz.test_labels } };
  })();
  imagesPromise.catch(() => {
    imagesPromise = null;
  });
  return imagesPromise;
}

/** Fashion-MNIST class name of image `index` of the train or test split (images_32.npz labels). */
export async function bundledClassName(split: 'train' | 'test', index: number): Promise<string | undefined> {
  const label = (await images()).labels[split]?.data[index];
  return label === undefined ? undefined : FASHION_MNIST_CLASSES[Number(label)];
}

/**
 * The CNN of the "CNN class" metric (classifier_cnn.npz beside the images), on the worker's tfjs backend; loaded
 * once. Its sha256 must be listed in meta.json, like every file of the set.
 */
export function bundledCnn(): Promise<CnnClassifier> {
  cnnPromise ??= (async () => {
    const [res, set] = await Promise.all([fetch(new URL('classifier_cnn.npz', base())), bundledSet()]);
    if (!res.ok) throw new Error(`CNN classifier: HTTP ${res.status} for classifier_cnn.npz`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const digest = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)), (b) => b.toString(16).padStart(2, '0')).join(
      '',
    );
    if (!set?.sha256.has(digest)) throw new Error('classifier_cnn.npz: sha256 not listed in meta.json');
    return loadCnnClassifier(bytes);
  })();
  cnnPromise.catch(() => {
    cnnPromise = null;
  });
  return cnnPromise;
}

/** Image `index` of the train or test split as RGBA. */
export async function bundledImage(split: 'train' | 'test', index: number): Promise<RgbaImage> {
  const arr = (await images())[split];
  const [n, h, w, c] = arr.shape;
  if (!(index >= 0 && index < n)) throw new Error(`ground-truth ${split} image ${index} out of range (0..${n - 1})`);
  const size = h * w * c;
  return uint8ToRgba((arr.data as Uint8Array).subarray(index * size, (index + 1) * size), w, h, c);
}

// ---- the user's own ground truth (issue 13) ----------------------------------------------------------

/**
 * Ground-truth images given with the user's data: one images file (GOD's images_256.npz layout, converted
 * BOLD5000 images, an [N, H, W(, 3)] uint8 array), or image files decoded by the browser and matched to
 * samples by name (the stimulus list's names, extension ignored).
 * @throws FmriFormatError naming the file when it holds no images, or an image that cannot be decoded
 */
export async function truthFromBlobs(label: string, files: { name: string; file: Blob }[]): Promise<TruthImages> {
  const images = files.filter((f) => /\.(png|jpe?g|bmp|gif|webp)$/i.test(f.name));
  if (images.length === 0) {
    if (files.length !== 1) throw new FmriFormatError(label, 'give one ground-truth images file (.npz/.npy) or image files');
    return readTruthImages(files[0].name, new Uint8Array(await files[0].file.arrayBuffer()));
  }
  const decoded = await Promise.all(
    images.map(async (f) => {
      let bitmap: ImageBitmap;
      try {
        bitmap = await createImageBitmap(f.file);
      } catch (e) {
        throw new FmriFormatError(f.name, `not a decodable image (${(e as Error).message})`);
      }
      const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
      const ctx = canvas.getContext('2d')!;
      ctx.drawImage(bitmap, 0, 0);
      bitmap.close();
      const rgba = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      const rgb = new Uint8Array(canvas.width * canvas.height * 3);
      for (let p = 0; p < canvas.width * canvas.height; p++) for (let c = 0; c < 3; c++) rgb[p * 3 + c] = rgba[p * 4 + c];
      return { name: f.name, image: { height: canvas.height, width: canvas.width, channels: 3, data: rgb } };
    }),
  );
  return truthFromList(label, decoded);
}

/** The user's ground-truth image of sample `index` of `view`'s split as RGBA; undefined when nothing says which. */
export function ownTruthImage(t: TruthImages, view: FmriFile, index: number): RgbaImage | undefined {
  const gt = truthFor(t, view, index);
  return gt ? uint8ToRgba(gt.image.data, gt.image.width, gt.image.height, gt.image.channels) : undefined;
}
