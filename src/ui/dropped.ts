// What a drop (or a picker selection) is: a model bundle, a decode receipt, fMRI data (+ mask), or unsupported.
// Pure, so the routing rules are unit-tested without a DOM.

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
  | { kind: 'fmri'; data: DroppedFile<F>; mask?: DroppedFile<F> }
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
  const data = files.filter((f) => isFmri(f.file.name));
  if (data.length === 1 && files.length === 1) return { kind: 'fmri', data: data[0] };
  if (data.length === 2 && files.length === 2) {
    // A data file plus a mask (a 3-D NIfTI needs one to pick its voxels).
    const mask = data.find((f) => /mask/i.test(f.file.name));
    const other = data.find((f) => f !== mask);
    if (mask && other) return { kind: 'fmri', data: other, mask };
  }
  const names = files.map((f) => f.file.name).join(', ');
  return {
    kind: 'unsupported',
    name: names,
    message: `cannot open ${names}: drop one fMRI file (${FMRI_EXTENSIONS.join(' ')}), optionally with a *mask* file; `
      + 'a model bundle (folder with manifest.json, or .zip); or a decode receipt (.json)',
  };
}
