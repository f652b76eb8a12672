// What a drop (or a picker selection) is: a model bundle, a decode receipt, fMRI data (+ mask), or unsupported.
// Pure, so the routing rules are unit-tested without a DOM.
import { bold5000Part } from '../io/bold5000';
import { isStimulusList, looksLikeMask } from '../io/names';

export interface DroppedFile<F extends { name: string } = File> {
  /** Path relative to the dropped folder ("bundle/manifest.json"), or the bare name. */
  path: string;
  file: F;
}

export const FMRI_EXTENSIONS = ['.npy', '.npz', '.h5', '.hdf5', '.mat', '.nii', '.nii.gz', '.csv', '.tsv'];

export type DropPlan<F extends { name: string } = File> =
  | { kind: 'empty' }
  | { kind: 'receipt'; file: DroppedFile<F> }
  | { kind: 'bundle-folder'; files: DroppedFile<F>[]; label: string }
  | { kind: 'bundle-zip'; file: DroppedFile<F> }
  /**
   * fMRI data: `data` is the file, or the first of `parts` when several files make one subject (BOLD5000's
   * per-ROI files), concatenated along voxels; `stimuli` a stimulus list; `truth` ground-truth images (an
   * images .npz, or image files matched by name); `ignored` files of the selection that are none of these.
   */
  | {
      kind: 'fmri';
      data: DroppedFile<F>;
      mask?: DroppedFile<F>;
      parts?: DroppedFile<F>[];
      stimuli?: DroppedFile<F>;
      truth?: DroppedFile<F>[];
      ignored?: string[];
    }
  | { kind: 'unsupported'; name: string; message: string };

const isFmri = (name: string) => FMRI_EXTENSIONS.some((e) => name.toLowerCase().endsWith(e));
const baseName = (path: string) => path.slice(path.lastIndexOf('/') + 1);

export function classifyDrop<F extends { name: string }>(files: DroppedFile<F>[]): DropPlan<F> {
  if (files.length === 0) return { kind: 'empty' };
  const manifest = files.find((f) => baseName(f.path) === 'manifest.json');
  if (manifest) {
    // The bundle root is the manifest's folder; paths inside it become bundle-relative.
    const root = manifest.path.slice(0, manifest.path.length - 'manifest.json'.length);
    const inside = files.filter((f) => f.path.startsWith(root)).map((f) => ({ path: f.path.slice(root.length), file: f.file }));
    const label = root.replace(/\/$/, '').split('/').pop() || 'dropped bundle';
    return { kind: 'bundle-folder', files: inside, label };
  }
  if (files.length === 1 && files[0].file.name.toLowerCase().endsWith('.zip')) return { kind: 'bundle-zip', file: files[0] };
  if (files.length === 1 && files[0].file.name.toLowerCase().endsWith('.json')) return { kind: 'receipt', file: files[0] };
  const plan = classifyData(files);
  if (plan) return plan;
  const names = files.map((f) => f.file.name).join(', ');
  return {
    kind: 'unsupported',
    name: names,
    message:
      `cannot open ${names}: drop one fMRI file (${FMRI_EXTENSIONS.join(' ')}), optionally with a mask (e.g. nsdgeneral.nii.gz) ` +
      'and ground-truth images; several files of one subject (e.g. BOLD5000 per-ROI .npy + stimulus list), or their folder; ' +
      'a model bundle (folder with manifest.json, or .zip); or a decode receipt (.json)',
  };
}

const IMAGE = /\.(png|jpe?g|bmp|gif|webp)$/i;
/** An images file by its name: GOD's images_256.npz, converted BOLD5000 images (…_images.npz), truth*.npz. */
const isTruthFile = (name: string) => /\.(npz|npy)$/i.test(name) && /images|truth|stimul/i.test(name);
const isNifti = (name: string) => /\.nii(\.gz)?$/i.test(name);

/** The data files of a selection (and what goes with them), or undefined when it holds none. */
function classifyData<F extends { name: string }>(files: DroppedFile<F>[]): DropPlan<F> | undefined {
  const truthFiles = files.filter((f) => isTruthFile(f.file.name) || IMAGE.test(f.file.name));
  const stimuli = files.find((f) => isStimulusList(f.file.name));
  let fmri = files.filter((f) => isFmri(f.file.name) && !truthFiles.includes(f));
  // A mask by its name (nsdgeneral.nii.gz, *mask*, ROI files); else, of exactly two NIfTI files, the smaller
  // (a 3-D volume beside a 4-D series).
  let mask = fmri.find((f) => looksLikeMask(f.file.name));
  const niftis = fmri.filter((f) => isNifti(f.file.name));
  if (!mask && niftis.length === 2 && fmri.length === 2) {
    const size = (f: DroppedFile<F>) => (f.file as { size?: number }).size ?? 0;
    mask = size(niftis[0]) < size(niftis[1]) ? niftis[0] : size(niftis[1]) < size(niftis[0]) ? niftis[1] : undefined;
  }
  fmri = fmri.filter((f) => f !== mask);
  // BOLD5000 per-ROI files: those are the subject; any other .npy beside them (img_dict.npy) is not data.
  const bold = fmri.filter((f) => bold5000Part(f.file.name) !== undefined);
  const data = bold.length >= 2 ? bold : fmri;
  if (data.length === 0) return undefined;
  const used = new Set<DroppedFile<F>>([...data, ...truthFiles, ...(mask ? [mask] : []), ...(stimuli ? [stimuli] : [])]);
  const ignored = files.filter((f) => !used.has(f)).map((f) => f.file.name);
  const imageFiles = truthFiles.filter((f) => IMAGE.test(f.file.name));
  const truth = truthFiles.length === 0 ? undefined : imageFiles.length ? imageFiles : truthFiles.slice(0, 1);
  if (truthFiles.length > 1 && !imageFiles.length) ignored.push(...truthFiles.slice(1).map((f) => f.file.name));
  return {
    kind: 'fmri',
    data: data[0],
    ...(data.length > 1 ? { parts: data } : {}),
    ...(mask ? { mask } : {}),
    ...(stimuli ? { stimuli } : {}),
    ...(truth ? { truth } : {}),
    ...(ignored.length ? { ignored } : {}),
  };
}
