// Whether an fMRI file fits a model's input, and, when not, a message naming the real cause: a model is
// trained for one subject (and one ROI), so another subject's voxels cannot be decoded by it, whatever
// mask is chosen.
import type { ModelConfig } from '../model/config';
import type { FmriFile } from './fmriFile';

/** 'sbj_3' → 'subject 3', from the model's name or description; undefined when neither says. */
export function modelSubject(cfg: Pick<ModelConfig, 'name' | 'description'>): string | undefined {
  for (const text of [cfg.name, cfg.description]) {
    const m = /(?:sbj|subj(?:ect)?|sub|CSI|S)[_\- ]?0*(\d+)/i.exec(text ?? '');
    if (m) return `subject ${m[1]}`;
  }
  return undefined;
}

const fmt = (n: number) => n.toLocaleString('en-US');

/**
 * Undefined when `file`'s samples have a length the model takes (its ROI size or the padded length);
 * otherwise the reason, naming the model's subject, ROI and voxel count, the file's count and ROI, and
 * what can be done.
 */
export function voxelMismatch(file: Pick<FmriFile, 'name' | 'voxels' | 'roi' | 'masks' | 'parts'>, cfg: ModelConfig): string | undefined {
  const { rawVoxels, roi } = cfg.preprocess;
  const { numVoxels, patchSize } = cfg.encoder;
  const v = file.voxels;
  if (v === rawVoxels || v === numVoxels) return undefined;
  if (rawVoxels === undefined && v > numVoxels - patchSize && v < numVoxels) return undefined;
  const subject = modelSubject(cfg);
  const wants = `${fmt(rawVoxels ?? numVoxels)} voxels${roi ? ` of ROI ${roi}` : ''}`;
  const model =
    `the model ${cfg.name ?? ''} is trained for ${subject ?? 'one subject'}${roi ? ` (ROI ${roi})` : ''} and takes ${wants}`.replace(
      '  ',
      ' ',
    );
  const has = `${file.name} has ${fmt(v)} voxels${file.roi ? ` in ROI ${file.roi}` : file.parts ? ` (${file.parts.length} files concatenated)` : ''}`;
  // Another ROI of the same file that would fit: say so (the only case a mask choice fixes).
  const fitting = Object.entries(file.masks ?? {})
    .filter(([, m]) => m.reduce((a, x) => a + x, 0) === rawVoxels)
    .map(([k]) => k);
  if (fitting.length && !fitting.includes(file.roi ?? '')) {
    return `${has}; ${model}: select ROI ${fitting.join(' or ')}, which has that many voxels`;
  }
  return (
    `${has}; ${model}. A model is trained for one subject: another subject's (or data set's) voxels do not correspond to its inputs, ` +
    'and no mask makes them fit. Use a model trained on this subject and ROI' +
    (cfg.synthetic ? ' (the embedded model is trained on a SIMULATED subject)' : '')
  );
}
