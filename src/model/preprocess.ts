// fMRI vectors → encoder input (spec §1.5): ROI selection, wrap padding to whole patches, scalar z-score.
// Pure functions on Float32Arrays; validation errors say what the model expects and what to do.
import type { ModelConfig } from './config';
import { StudioError, errorClass } from '../errors';

const fmt = (n: number): string => n.toLocaleString('en-US');

/** A voxel vector whose length matches neither the model's ROI size nor its padded length. */
export class FmriShapeError extends StudioError {
  constructor(
    message: string,
    readonly expected: number,
    readonly found: number,
  ) {
    super('FmriShapeError', message);
  }
}

/** A model configuration whose preprocessing settings contradict each other. */
export class ModelConfigError extends errorClass('ModelConfigError') {}

/** Voxel values that are NaN or ±Inf (a masked-out or broken voxel left in the export). */
export class FmriValueError extends StudioError {
  constructor(
    message: string,
    readonly badCount: number,
    readonly firstIndex: number,
  ) {
    super('FmriValueError', message);
  }
}

/** The voxels where `mask` is true/non-zero, in order (numpy `values[mask]`). */
export function applyRoiMask(values: Float32Array, mask: ArrayLike<boolean | number>): Float32Array {
  if (mask.length !== values.length) {
    throw new FmriShapeError(
      `ROI mask has ${fmt(mask.length)} entries but the vector has ${fmt(values.length)} voxels: ` +
        'use the mask stored with this data set',
      mask.length,
      values.length,
    );
  }
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) n++;
  const out = new Float32Array(n);
  for (let i = 0, j = 0; i < mask.length; i++) if (mask[i]) out[j++] = values[i];
  return out;
}

/** Number of voxels after padding: a whole extra patch even when V is already a multiple (as upstream). */
export function paddedLength(rawVoxels: number, patchSize: number): number {
  return rawVoxels + patchSize - (rawVoxels % patchSize);
}

/** numpy.pad(values, (0, pad), mode='wrap') with pad = patchSize − V mod patchSize. */
export function wrapPad(values: Float32Array, patchSize = 16): Float32Array {
  const v = values.length;
  if (v === 0) throw new FmriShapeError('cannot pad an empty voxel vector', patchSize, 0);
  const out = new Float32Array(paddedLength(v, patchSize));
  out.set(values);
  for (let i = v; i < out.length; i++) out[i] = values[(i - v) % v];
  return out;
}

/** A z-score statistic for display: enough significant digits that a small mean does not read as 0 (or −0). */
export function formatStat(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  const text = a >= 1e-3 && a < 1e5 ? String(Number(v.toPrecision(5))) : v.toExponential(3);
  return text.replace(/^-/, '−');
}

/** "(x + 0.010944) / 0.9991": the z-score a model applies, with the sign of the mean folded in. */
export function describeZscore(mean: number, std: number): string {
  const m = mean === 0 ? 'x' : mean < 0 ? `x + ${formatStat(-mean)}` : `x − ${formatStat(mean)}`;
  return `(${m}) / ${formatStat(std)}`;
}

/** (x − mean) / std in float32, as `(x - np.float32(mean)) / np.float32(std)`. */
export function zscore(values: Float32Array, mean: number, std: number): Float32Array {
  if (!(std > 0) || !Number.isFinite(std) || !Number.isFinite(mean)) {
    throw new Error(`z-score statistics must be finite with std > 0 (mean ${mean}, std ${std})`);
  }
  const m = Math.fround(mean),
    s = Math.fround(std);
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Math.fround(values[i] - m) / s;
  return out;
}

function checkFinite(row: Float32Array, rowIndex: number, rows: number): void {
  let bad = 0,
    first = -1;
  for (let i = 0; i < row.length; i++) {
    if (!Number.isFinite(row[i])) {
      if (first < 0) first = i;
      bad++;
    }
  }
  if (bad > 0) {
    const where = rows > 1 ? `sample ${rowIndex}: ` : '';
    throw new FmriValueError(
      `${where}${fmt(bad)} of ${fmt(row.length)} voxel values are NaN or infinite (first at voxel ${first}): ` +
        'remove or impute them before decoding',
      bad,
      first,
    );
  }
}

/**
 * Whether a vector of the padded length is really a padded vector: its tail must be the wrap copy of its
 * head for the model's ROI size, or (ROI size unknown) for some length that pads to it. A raw vector of
 * another subject or ROI can have exactly the padded length (4,512 voxels for a model of 4,511), and its
 * tail is then ordinary voxels, which must not be decoded as if they were padding.
 */
export function isWrapPadded(row: Float32Array, numVoxels: number, patchSize: number, rawVoxels?: number): boolean {
  if (row.length !== numVoxels) return false;
  const candidates =
    rawVoxels !== undefined
      ? [rawVoxels]
      : Array.from({ length: patchSize }, (_, k) => numVoxels - patchSize + k).filter(
          (v) => v > 0 && paddedLength(v, patchSize) === numVoxels,
        );
  return candidates.some((v) => {
    for (let i = v; i < numVoxels; i++) if (!Object.is(row[i], row[(i - v) % v])) return false;
    return true;
  });
}

/**
 * One or more fMRI vectors → the encoder input, row-major [B, numVoxels].
 * Each row may have the model's ROI size (`preprocess.rawVoxels`, wrap-padded here) or already the
 * padded length (`encoder.numVoxels`) when its padding is the wrap copy of its head (see isWrapPadded);
 * both are then z-scored with the training statistics if the config has them.
 * @throws FmriShapeError naming both voxel counts and what to do, for any other length
 */
export function preprocessFmri(cfg: ModelConfig, raw: Float32Array[] | Float32Array): Float32Array {
  const rows = Array.isArray(raw) ? raw : [raw];
  const { rawVoxels, roi, mean, std } = cfg.preprocess;
  const { numVoxels, patchSize } = cfg.encoder;
  if (rawVoxels !== undefined && paddedLength(rawVoxels, patchSize) !== numVoxels) {
    throw new ModelConfigError(
      `model config is inconsistent: ${rawVoxels} raw voxels pad to ${paddedLength(rawVoxels, patchSize)}, ` +
        `but the encoder takes ${numVoxels}`,
    );
  }
  if ((mean === undefined) !== (std === undefined)) {
    throw new ModelConfigError('model config has only one of preprocess.mean / preprocess.std; both or neither are needed');
  }
  // Without a known ROI size, every length that wrap-pads to the encoder's length is a candidate.
  const fits = (row: Float32Array): boolean => {
    const v = row.length;
    if (rawVoxels !== undefined ? v === rawVoxels : v > 0 && v !== numVoxels && paddedLength(v, patchSize) === numVoxels) return true;
    return isWrapPadded(row, numVoxels, patchSize, rawVoxels);
  };
  const expected = rawVoxels ?? numVoxels;
  if (rows.length === 0) throw new FmriShapeError('no fMRI samples given', expected, 0);
  const out = new Float32Array(rows.length * numVoxels);
  rows.forEach((row, b) => {
    if (!fits(row)) {
      const where = rows.length > 1 ? ` (sample ${b})` : '';
      const pad = rawVoxels !== undefined ? numVoxels - rawVoxels : undefined;
      const notPadding =
        row.length !== numVoxels
          ? ''
          : pad !== undefined
            ? `; its last ${fmt(pad)} value${pad > 1 ? 's are' : ' is'} not the wrap copy of its first, so it is not a padded vector of this model (another subject's or ROI's voxels?)`
            : "; its tail is not the wrap copy of its head for any voxel count that pads to this length (another subject's or ROI's voxels?)";
      const wants =
        rawVoxels !== undefined
          ? `${fmt(rawVoxels)} voxels (${roi ? `${roi} ROI, ` : ''}padded to ${fmt(numVoxels)})`
          : `${fmt(numVoxels - patchSize)}–${fmt(numVoxels)} voxels (${roi ? `${roi} ROI, ` : ''}padded to ${fmt(numVoxels)})`;
      throw new FmriShapeError(
        `this model expects ${wants}; the file has ${fmt(row.length)}${where}${notPadding}: ` +
          `select the ROI mask the model was trained on${notPadding ? ', or use a model trained on this subject' : ''}`,
        expected,
        row.length,
      );
    }
    checkFinite(row, b, rows.length);
    const padded = row.length === numVoxels ? row : wrapPad(row, patchSize);
    out.set(mean !== undefined && std !== undefined ? zscore(padded, mean, std) : padded, b * numVoxels);
  });
  return out;
}
