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
    expect(classifyDrop([f('a.npy'), f('b.npy')]).kind).toBe('unsupported');
  });
});
