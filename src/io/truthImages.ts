// Ground-truth stimulus images for the user's own data: GOD's images_256.npz layout (train_images,
// test_images [N, H, W, 3] uint8), any .npz/.npy holding one [N, H, W(, C)] uint8 array, or BOLD5000's
// images converted by scripts/bold5000_images.py (`images` [N, H, W, 3] uint8 + `names_utf8`, the
// newline-joined stimulus names as UTF-8 bytes: the authors' img_dict.npy is a pickle, never unpickled here).
// Which image a sample shows: by stimulus name (labels), by the file's own image index (GOD arr_3 / arr_2
// order), or by position when the split has exactly as many samples as the images.
import { FmriFormatError } from './errors';
import type { FmriFile } from './fmriFile';
import { readNpy, type NpyArray } from './npy';
import { readNpz } from './npz';

/** One image, row-major [height, width, channels] uint8. */
export interface TruthImage {
  height: number;
  width: number;
  channels: number;
  data: Uint8Array;
}

export interface TruthImages {
  name: string;
  /** Image arrays by role: 'train' and 'test' (GOD layout) or 'images' (one array). */
  arrays: Record<string, NpyArray>;
  /** Stimulus name → index into `list` when given, else into arrays.images (BOLD5000 converted). */
  names?: Map<string, number>;
  /** Images decoded one by one (a folder of image files in the studio), indexed by `names`. */
  list?: TruthImage[];
}

/** A set of images of any sizes, named by their file names (the extension is ignored when matching). */
export function truthFromList(name: string, images: { name: string; image: TruthImage }[]): TruthImages {
  if (images.length === 0) throw new FmriFormatError(name, 'no image in the selection');
  for (const x of images) checkSize(x.name, 'image', x.image.height, x.image.width);
  return { name, arrays: {}, list: images.map((x) => x.image), names: new Map(images.map((x, i) => [stem(x.name), i])) };
}

const stem = (n: string) => n.replace(/^.*\//, '').replace(/\.(png|jpe?g|bmp|gif|webp)$/i, '');

function checkImages(name: string, key: string, a: NpyArray): void {
  if (a.dtype !== 'u1') throw new FmriFormatError(name, `${key} has dtype ${a.dtype}, expected uint8 images`);
  if (!(a.shape.length === 3 || (a.shape.length === 4 && (a.shape[3] === 1 || a.shape[3] === 3)))) {
    throw new FmriFormatError(name, `${key} has shape ${a.shape.join('×')}, expected [N, H, W] or [N, H, W, 3] images`);
  }
  checkSize(name, key, a.shape[1], a.shape[2]);
}

/** SSIM's 7×7 window is the smallest image the studio and the CLI can compare with. */
export const MIN_TRUTH_SIDE = 7;
function checkSize(name: string, what: string, h: number, w: number): void {
  if (h < MIN_TRUTH_SIDE || w < MIN_TRUTH_SIDE) {
    throw new FmriFormatError(
      name,
      `${what}: images of ${h}×${w} pixels are too small to compare with (at least ${MIN_TRUTH_SIDE}×${MIN_TRUTH_SIDE})`,
    );
  }
}

/**
 * Reads a ground-truth images file.
 * @throws FmriFormatError when it holds no uint8 image array, or names that do not match the images
 */
export function readTruthImages(name: string, bytes: Uint8Array): TruthImages {
  if (bytes[0] === 0x93 && bytes[1] === 0x4e) {
    const a = readNpy(bytes);
    checkImages(name, 'the array', a);
    return { name, arrays: { images: a } };
  }
  if (!(bytes[0] === 0x50 && bytes[1] === 0x4b))
    throw new FmriFormatError(
      name,
      'ground-truth images must be an .npz or .npy of uint8 images (or a folder of image files in the studio)',
    );
  const npz = readNpz(bytes);
  if (npz.train_images || npz.test_images) {
    const arrays: Record<string, NpyArray> = {};
    for (const [k, role] of [
      ['train_images', 'train'],
      ['test_images', 'test'],
    ] as const) {
      if (npz[k]) {
        checkImages(name, k, npz[k]);
        arrays[role] = npz[k];
      }
    }
    return { name, arrays };
  }
  if (npz.images) {
    checkImages(name, 'images', npz.images);
    const out: TruthImages = { name, arrays: { images: npz.images } };
    if (npz.names_utf8) {
      const names = new TextDecoder().decode(npz.names_utf8.data as Uint8Array).split('\n');
      if (names.length !== npz.images.shape[0])
        throw new FmriFormatError(name, `names_utf8 holds ${names.length} names for ${npz.images.shape[0]} images`);
      out.names = new Map(names.map((n, i) => [stem(n), i]));
    }
    return out;
  }
  const arrays = Object.entries(npz).filter(([, a]) => a.dtype.endsWith('u1') && (a.shape.length === 3 || a.shape.length === 4));
  if (arrays.length !== 1) {
    throw new FmriFormatError(
      name,
      `no image array found: expected train_images/test_images (GOD), images (+ names_utf8), or one [N, H, W(, 3)] uint8 member; members: ${Object.keys(npz).join(', ')}`,
    );
  }
  checkImages(name, arrays[0][0], arrays[0][1]);
  return { name, arrays: { images: arrays[0][1] } };
}

function image(a: NpyArray, i: number): TruthImage {
  const [, h, w, c = 1] = a.shape;
  const size = h * w * c;
  return { height: h, width: w, channels: c, data: (a.data as Uint8Array).subarray(i * size, (i + 1) * size) };
}

/** Image-array role a data split's own image index refers to (GOD: train → train_images, test-avg → test_images). */
const ROLE: Record<string, string> = { train: 'train', 'test-avg': 'test', test: 'test' };

/**
 * The image that sample `i` of the file's current split shows, with how it was matched; undefined when
 * nothing says which image it is (never a guess).
 */
export function truthFor(t: TruthImages, file: FmriFile, i: number): { image: TruthImage; how: string } | undefined {
  const label = file.labels?.[i];
  if (t.names && label !== undefined) {
    const k = t.names.get(stem(label));
    if (k === undefined) return undefined;
    return { image: t.list ? t.list[k] : image(t.arrays.images, k), how: `by stimulus name ${label}` };
  }
  const role = ROLE[file.split];
  const indexed = file.groundTruthIndex?.(file.split, i);
  if (role && t.arrays[role] && indexed !== undefined && indexed < t.arrays[role].shape[0]) {
    return { image: image(t.arrays[role], indexed), how: `${role} image ${indexed} (the file's image index)` };
  }
  // bdpy test-avg rows are in sorted Label order, the order GOD's images_256.npz keeps its test images in.
  if (
    file.split === 'test-avg' &&
    file.splitKinds?.['test-avg'] === 'averaged' &&
    t.arrays.test &&
    t.arrays.test.shape[0] === file.samples
  ) {
    return {
      image: image(t.arrays.test, i),
      how: `test image ${i} (averaged rows in sorted Label order${label ? `, Label ${label}` : ''})`,
    };
  }
  const only = t.arrays.images;
  if (only && !t.names && only.shape[0] === file.samples)
    return { image: image(only, i), how: `image ${i} (one image per sample of split '${file.split}')` };
  return undefined;
}
