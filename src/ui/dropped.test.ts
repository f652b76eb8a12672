import { describe, expect, it } from 'vitest';
import { classifyDrop } from './dropped';

const f = (path: string) => ({ path, file: { name: path.slice(path.lastIndexOf('/') + 1) } });

describe('classifyDrop', () => {
  it('a folder with manifest.json is a bundle, paths made relative to it', () => {
    const plan = classifyDrop([f('tiny/manifest.json'), f('tiny/shard-000.bin'), f('other.txt')]);
    expect(plan.kind).toBe('bundle-folder');
    if (plan.kind !== 'bundle-folder') return;
    expect(plan.label).toBe('tiny');
    expect(plan.files.map((x) => x.path)).toEqual(['manifest.json', 'shard-000.bin']);
  });

  it('routes zips, receipts and fMRI files (with a mask)', () => {
    expect(classifyDrop([f('b.zip')]).kind).toBe('bundle-zip');
    expect(classifyDrop([f('r.json')]).kind).toBe('receipt');
    expect(classifyDrop([f('x.NII.GZ')]).kind).toBe('fmri');
    const plan = classifyDrop([f('sample_mask.nii.gz'), f('sample.nii.gz')]);
    expect(plan.kind === 'fmri' && plan.data.path === 'sample.nii.gz' && plan.mask?.path === 'sample_mask.nii.gz').toBe(true);
    expect(classifyDrop([]).kind).toBe('empty');
  });

  it('names what it cannot open and what it accepts', () => {
    const plan = classifyDrop([f('photo.jpg')]);
    expect(plan.kind).toBe('unsupported');
    if (plan.kind === 'unsupported') expect(plan.message).toMatch(/cannot open photo\.jpg: drop one fMRI file \(\.npy/);
    expect(classifyDrop([f('photo.jpg'), f('notes.txt')]).kind).toBe('unsupported');
  });

  // Issue 13: data sets as distributed.
  const parts = ['EarlyVis', 'LOC', 'OPA', 'PPA', 'RSC'].flatMap((r) =>
    ['RH', 'LH'].map((h) => `CSI1/CSI1_GLMbetas-TYPED-FITHRF-GLMDENOISE-RR_allses_${h}${r}.npy`),
  );
  it('a BOLD5000 subject folder: the ten per-ROI files are the data, with the stimulus list; img_dict.npy left out', () => {
    const plan = classifyDrop([...parts, 'CSI1/CSI1_stim_lists.txt', 'CSI1/img_dict.npy'].map(f));
    expect(plan.kind).toBe('fmri');
    if (plan.kind !== 'fmri') return;
    expect(plan.parts?.map((p) => p.path)).toEqual(parts);
    expect(plan.stimuli?.path).toBe('CSI1/CSI1_stim_lists.txt');
    expect(plan.ignored).toEqual(['img_dict.npy']);
  });

  it('several plain files are one subject in the order selected', () => {
    const plan = classifyDrop([f('b.npy'), f('a.npy')]);
    expect(plan.kind === 'fmri' && plan.parts?.map((p) => p.path)).toEqual(['b.npy', 'a.npy']);
  });

  it('an NSD pair: nsdgeneral.nii.gz is the mask (its name says so), or the smaller of two NIfTI files', () => {
    const plan = classifyDrop([f('nsdgeneral.nii.gz'), f('betas_session01.nii.gz')]);
    expect(plan.kind === 'fmri' && [plan.data.path, plan.mask?.path]).toEqual(['betas_session01.nii.gz', 'nsdgeneral.nii.gz']);
    const sized = (path: string, size: number) => ({ path, file: { name: path, size } });
    const bySize = classifyDrop([sized('session.nii.gz', 3e8), sized('general.nii.gz', 2e5)]);
    expect(bySize.kind === 'fmri' && [bySize.data.path, bySize.mask?.path]).toEqual(['session.nii.gz', 'general.nii.gz']);
  });

  it('ground-truth images go with the data: an images .npz, or image files', () => {
    const npz = classifyDrop([f('sbj_1.npz'), f('images_256.npz')]);
    expect(npz.kind === 'fmri' && [npz.data.path, npz.truth?.map((t) => t.path)]).toEqual(['sbj_1.npz', ['images_256.npz']]);
    const pngs = classifyDrop([f('x.npy'), f('stim/rep_a.png'), f('stim/rep_b.JPG')]);
    expect(pngs.kind === 'fmri' && pngs.truth?.length).toBe(2);
  });
});
