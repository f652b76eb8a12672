// A subject made of several files, concatenated along voxels: BOLD5000 ships each subject's betas as ten
// per-ROI files (CSI1_GLMbetas-…_{LH,RH}{EarlyVis,LOC,OPA,PPA,RSC}.npy, each [trials, ROI voxels]) that
// its authors concatenate in the order EarlyVis, LOC, OPA, PPA, RSC, LH before RH within each ROI; the
// test set is the images shown more than once (113), averaged over their repetitions using the stimulus
// list (CSI1_stim_lists.txt: one image name per trial, in trial order).
import { averageByLabel, takeRows } from './average';
import { FmriFormatError } from './errors';
import { bold5000Part, defaultOrder } from './bold5000';
import { fmriView, type FmriFile, type FmriSource, type Matrix, type SplitKind } from './fmriFile';

/**
 * `order` (file names, or BOLD5000 part labels such as 'LHEarlyVis') as a permutation of `names`.
 * @throws FmriFormatError naming what is missing, unknown or repeated
 */
export function resolveOrder(names: string[], order: string[]): string[] {
  const byKey = new Map<string, string>();
  for (const n of names) {
    byKey.set(n, n);
    byKey.set(n.slice(n.lastIndexOf('/') + 1), n);
    const p = bold5000Part(n);
    if (p) byKey.set(p, n);
  }
  const out: string[] = [];
  for (const key of order) {
    const n = byKey.get(key);
    if (!n) throw new FmriFormatError('order', `'${key}' is none of the files: ${names.join(', ')}`);
    if (out.includes(n)) throw new FmriFormatError('order', `'${key}' is given twice`);
    out.push(n);
  }
  const missing = names.filter((n) => !out.includes(n));
  if (missing.length) throw new FmriFormatError('order', `the order leaves out ${missing.join(', ')}; list every file once`);
  return out;
}

/** One image name per line (BOLD5000 CSIn_stim_lists.txt), blank lines ignored. */
export function readStimulusList(name: string, bytes: Uint8Array): string[] {
  const lines = new TextDecoder()
    .decode(bytes)
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  if (lines.length === 0) throw new FmriFormatError(name, 'the stimulus list is empty');
  return lines;
}

export interface SubjectOptions {
  /** Parts in this order (file names or BOLD5000 labels); default: `defaultOrder`. */
  order?: string[];
  /** Stimulus name of each trial (row), e.g. from `readStimulusList`: builds train / test-single / test-avg. */
  stimuli?: { name: string; labels: string[] };
}

/**
 * Several fMRI files of one subject (each already read, with the split to use selected) concatenated along
 * voxels. Every part must have the same number of samples. The result offers each part as an ROI mask
 * over the concatenated voxels, and, given a stimulus list, the splits 'train' (images shown once),
 * 'test-single' (every trial of a repeated image) and 'test-avg' (their mean per image, in sorted name order).
 * @param name the subject's name (folder or first file)
 * @throws FmriFormatError when the parts disagree in sample count or the list in length
 */
export function concatenateParts(name: string, files: FmriFile[], opts: SubjectOptions = {}): FmriFile {
  if (files.length === 0) throw new FmriFormatError(name, 'no fMRI file in the selection');
  const names = files.map((f) => f.name);
  if (new Set(names).size !== names.length) throw new FmriFormatError(name, `a file is given twice: ${names.join(', ')}`);
  const { order, scheme } = opts.order ? { order: resolveOrder(names, opts.order), scheme: 'given' as const } : defaultOrder(names);
  const parts = order.map((n) => files[names.indexOf(n)]);
  const rows = parts[0].samples;
  for (const p of parts) {
    if (p.samples !== rows) {
      throw new FmriFormatError(
        name,
        `the files do not have the same number of samples: ${parts.map((q) => `${q.name} ${q.samples}`).join(', ')}; ` +
          'only files of one subject and one session list can be concatenated along voxels',
      );
    }
  }
  const cols = parts.reduce((a, p) => a + p.voxels, 0);
  const values = new Float32Array(rows * cols);
  const masks: Record<string, Uint8Array> = {};
  let offset = 0;
  for (const p of parts) {
    for (let r = 0; r < rows; r++) values.set(p.getSample(r), r * cols + offset);
    const m = new Uint8Array(cols);
    m.fill(1, offset, offset + p.voxels);
    masks[bold5000Part(p.name) ?? p.name] = m;
    offset += p.voxels;
  }
  const all: Matrix = { rows, cols, values };
  const notes = [
    `${parts.length} files concatenated along voxels${scheme === 'bold5000' ? " in the authors' BOLD5000 order (EarlyVis, LOC, OPA, PPA, RSC; LH before RH)" : ' in the order given'}: ` +
      parts.map((p) => `${bold5000Part(p.name) ?? p.name} ${p.voxels}`).join(', ') +
      ` = ${cols} voxels`,
  ];
  for (const p of parts) if (p.note) notes.push(`${p.name}: ${p.note}`);
  const splits: Record<string, Matrix> = { all };
  const labels: Record<string, string[]> = {};
  const kinds: Record<string, SplitKind> = { all: 'single' };
  let defaultSplit = 'all';
  if (opts.stimuli) {
    const list = opts.stimuli.labels;
    if (list.length !== rows) {
      throw new FmriFormatError(
        opts.stimuli.name,
        `the stimulus list has ${list.length} names, the data ${rows} trials: it is not this subject's list`,
      );
    }
    const count = new Map<string, number>();
    for (const l of list) count.set(l, (count.get(l) ?? 0) + 1);
    const once: number[] = [],
      repeated: number[] = [];
    list.forEach((l, r) => (count.get(l)! > 1 ? repeated : once).push(r));
    labels.all = list;
    if (repeated.length) {
      splits.train = takeRows(all, once);
      labels.train = once.map((r) => list[r]);
      splits['test-single'] = takeRows(all, repeated);
      labels['test-single'] = repeated.map((r) => list[r]);
      const avg = averageByLabel(splits['test-single'], labels['test-single']);
      splits['test-avg'] = avg.matrix;
      labels['test-avg'] = avg.labels;
      Object.assign(kinds, { train: 'single', 'test-single': 'single', 'test-avg': 'averaged' });
      defaultSplit = 'test-avg';
      const reps = [...new Set(avg.counts)].sort((a, b) => a - b);
      notes.push(
        `stimulus list ${opts.stimuli.name}: ${once.length} images shown once (train), ${avg.matrix.rows} shown ${reps.join('–')} times ` +
          `(test: ${repeated.length} trials, averaged per image into test-avg)`,
      );
    } else {
      notes.push(`stimulus list ${opts.stimuli.name}: no image is repeated, so no averaged test split`);
    }
  }
  const src: FmriSource = { name, format: parts[0].format, splits, defaultSplit, masks, notes, kinds };
  if (Object.keys(labels).length) src.labels = labels;
  src.parts = order;
  return fmriView(src, {});
}
