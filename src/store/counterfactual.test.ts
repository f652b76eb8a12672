// The counterfactual form and the edits it stands for (issue 14): every edit a receipt can hold is shown by the form
// and made again from it, so a replayed receipt decodes exactly its edit.
import { describe, expect, it } from 'vitest';
import type { CounterfactualEdit } from '../explain/counterfactual';
import { DEFAULT_FORM, editFromForm, formFromEdit } from './counterfactual';

const file = { name: 'sbj_3.npz', sha256: 'c'.repeat(64) };
const other = { fileName: file.name, sha256: file.sha256, split: 'test-avg', sampleIndex: 5 };

describe('counterfactual form', () => {
  const edits: CounterfactualEdit[] = [
    { kind: 'lesion', roi: 'HVC', fill: 'zero', seed: 0 },
    { kind: 'lesion', roi: 'V2', fill: 'shuffle', seed: 11 },
    { kind: 'roi-only', roi: 'V3', value: -0.5 },
    { kind: 'control', fill: 'shuffle', seed: 4 },
    { kind: 'control', fill: 'mean', seed: 0 },
    { kind: 'trial', other },
    { kind: 'interpolate', other, alpha: 0.3 },
  ];
  it.each(edits.map((e) => [e.kind, e] as const))('%s: the form of an edit makes the same edit', (_, e) => {
    expect(editFromForm(formFromEdit(e, DEFAULT_FORM), file, 'test-avg')).toEqual(e);
  });

  it("trial and interpolate take the other sample from the open file's split", () => {
    expect(editFromForm({ ...DEFAULT_FORM, kind: 'trial', other: 9 }, file, 'train')).toEqual({
      kind: 'trial',
      other: { fileName: 'sbj_3.npz', sha256: file.sha256, split: 'train', sampleIndex: 9 },
    });
  });

  it('fields the edit does not have stay as they were', () => {
    const base = { ...DEFAULT_FORM, alpha: 0.9, value: 3 };
    expect(formFromEdit({ kind: 'lesion', roi: 'V1', fill: 'mean', seed: 0 }, base)).toMatchObject({ alpha: 0.9, value: 3 });
  });
});
