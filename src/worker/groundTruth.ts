// Ground-truth images for the bundled synthetic GOD-layout set (public/data/god-synth). A file is
// recognised as bundled only by its sha256 being listed in the set's meta.json; the images are then
// fetched from the same origin (the request carries no user data).
import { readNpz } from '../io/npz';
import type { NpyArray } from '../io/npy';
import type { RgbaImage } from '../engine/protocol';
import { uint8ToRgba } from './images';

export interface BundledSet {
  label: string;
  /** sha256 of every shipped file. */
  sha256: Set<string>;
  /** Test image shown by the single-sample files (sample_test0.*), from meta.json's samples.source. */
  singleSampleTestImage?: number;
}

const base = (): URL => new URL(`${import.meta.env.BASE_URL}data/god-synth/`, self.location.origin);

let metaPromise: Promise<BundledSet | null> | null = null;
let imagesPromise: Promise<{ train: NpyArray; test: NpyArray }> | null = null;

export function bundledSet(): Promise<BundledSet | null> {
  metaPromise ??= (async () => {
    const res = await fetch(new URL('meta.json', base()));
    if (!res.ok) return null;
    const meta = await res.json() as { label?: string; sha256?: Record<string, string>; samples?: { source?: string } };
    const testImage = /test image (\d+)/.exec(meta.samples?.source ?? '')?.[1];
    return {
      label: meta.label ?? 'synthetic — simulated responses, not brain data',
      sha256: new Set(Object.values(meta.sha256 ?? {})),
      ...(testImage !== undefined ? { singleSampleTestImage: Number(testImage) } : {}),
    };
  })().catch(() => null);
  return metaPromise;
}

function images(): Promise<{ train: NpyArray; test: NpyArray }> {
  imagesPromise ??= (async () => {
    const res = await fetch(new URL('images_32.npz', base()));
    if (!res.ok) throw new Error(`ground-truth images: HTTP ${res.status} for images_32.npz`);
    const npz = readNpz(new Uint8Array(await res.arrayBuffer()), (n) => n === 'train_images' || n === 'test_images');
    if (!npz.train_images || !npz.test_images) throw new Error('images_32.npz lacks train_images/test_images');
    return { train: npz.train_images, test: npz.test_images };
  })();
  imagesPromise.catch(() => { imagesPromise = null; });
  return imagesPromise;
}

/** Image `index` of the train or test split as RGBA. */
export async function bundledImage(split: 'train' | 'test', index: number): Promise<RgbaImage> {
  const arr = (await images())[split];
  const [n, h, w, c] = arr.shape;
  if (!(index >= 0 && index < n)) throw new Error(`ground-truth ${split} image ${index} out of range (0..${n - 1})`);
  const size = h * w * c;
  return uint8ToRgba((arr.data as Uint8Array).subarray(index * size, (index + 1) * size), w, h, c);
}
