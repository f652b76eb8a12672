// Counterfactual fMRI inputs (issue 14, item 2): edits of the raw voxel vector before preprocessing, so the
// edited decode runs the same pipeline on the same seed as the original. Each edit is plain data, recorded
// in the decode receipt so the counterfactual replays.
//   lesion     the ROI's voxels set to 0, to the training mean, or permuted among themselves (seeded)
//   roi-only   the ROI's voxels set to a constant, every other voxel at the training mean (the "ROI-optimal"
//              input of Brain-Diffuser, Ozcelik & VanRullen 2023, and MindEye2's ROI analysis)
//   control    the whole vector permuted (seeded) or replaced by the training mean
//   trial      another sample of the same file
//   interpolate (1 − α)·this + α·other, for another sample of this or another file
import type { FmriFile } from '../io/fmriFile';
import { errorClass } from '../errors';
import { mulberry32 } from '../diffusion/rng';

export type LesionFill = 'zero' | 'mean' | 'shuffle';
export const LESION_FILLS: readonly LesionFill[] = ['zero', 'mean', 'shuffle'];

/** Another fMRI sample: a file (by name and sha256, as the receipt records the main one) and its row. */
export interface OtherSample {
  fileName: string;
  sha256: string;
  split: string;
  sampleIndex: number;
}

export type CounterfactualEdit =
  | { kind: 'lesion'; roi: string; fill: LesionFill; seed: number }
  | { kind: 'roi-only'; roi: string; value: number }
  | { kind: 'control'; fill: 'shuffle' | 'mean'; seed: number }
  | { kind: 'trial'; other: OtherSample }
  | { kind: 'interpolate'; other: OtherSample; alpha: number };

export class CounterfactualError extends errorClass('CounterfactualError') {}

/** What an edit may need besides the vector: ROI masks over its voxels, the baseline, the other sample. */
export interface EditContext {
  /** 0/1 per voxel of the vector, by ROI name. */
  masks?: Record<string, ArrayLike<number>>;
  /** Per-voxel training mean (baselineFromFile), for 'mean' fills and roi-only. */
  baseline?: Float32Array;
  /** The other sample's vector, for 'trial' and 'interpolate'. */
  other?: Float32Array;
}

/** Fisher–Yates permutation of `values` at positions `idx`, in place. */
function shuffleAt(values: Float32Array, idx: readonly number[], seed: number): void {
  const next = mulberry32(seed);
  const picked = idx.map((i) => values[i]);
  for (let i = picked.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [picked[i], picked[j]] = [picked[j], picked[i]];
  }
  idx.forEach((v, k) => {
    values[v] = picked[k];
  });
}

function maskIndices(ctx: EditContext, roi: string, voxels: number): number[] {
  const mask = ctx.masks?.[roi];
  if (!mask) {
    throw new CounterfactualError(
      `no ROI '${roi}' for this fMRI vector; ROIs available: ${Object.keys(ctx.masks ?? {}).join(', ') || 'none (the file carries no masks)'}`,
    );
  }
  if (mask.length !== voxels)
    throw new CounterfactualError(`ROI '${roi}' mask has ${mask.length} entries; the fMRI vector has ${voxels} voxels`);
  const idx: number[] = [];
  for (let v = 0; v < voxels; v++) if (mask[v]) idx.push(v);
  if (idx.length === 0) throw new CounterfactualError(`ROI '${roi}' selects no voxel of this vector`);
  return idx;
}

function needBaseline(ctx: EditContext, voxels: number, what: string): Float32Array {
  if (!ctx.baseline) throw new CounterfactualError(`${what} needs a training mean; none is available for this file`);
  if (ctx.baseline.length !== voxels)
    throw new CounterfactualError(`training mean has ${ctx.baseline.length} voxels; the fMRI vector has ${voxels}`);
  return ctx.baseline;
}

function needOther(ctx: EditContext, voxels: number, other: OtherSample): Float32Array {
  if (!ctx.other) throw new CounterfactualError(`the other sample (${other.fileName} #${other.sampleIndex}) was not given`);
  if (ctx.other.length !== voxels) {
    throw new CounterfactualError(
      `the other sample (${other.fileName} #${other.sampleIndex}) has ${ctx.other.length} voxels; this one has ${voxels}`,
    );
  }
  return ctx.other;
}

/** The edited copy of `raw` (the input is not changed). Throws CounterfactualError naming what is missing. */
export function applyEdit(raw: Float32Array, edit: CounterfactualEdit, ctx: EditContext = {}): Float32Array {
  const v = raw.length;
  const out = raw.slice();
  switch (edit.kind) {
    case 'lesion': {
      const idx = maskIndices(ctx, edit.roi, v);
      if (edit.fill === 'zero') for (const i of idx) out[i] = 0;
      else if (edit.fill === 'mean') {
        const m = needBaseline(ctx, v, "lesion fill 'mean'");
        for (const i of idx) out[i] = m[i];
      } else shuffleAt(out, idx, edit.seed);
      return out;
    }
    case 'roi-only': {
      const idx = maskIndices(ctx, edit.roi, v);
      out.set(needBaseline(ctx, v, 'ROI-only input'));
      for (const i of idx) out[i] = edit.value;
      return out;
    }
    case 'control':
      if (edit.fill === 'mean') return needBaseline(ctx, v, 'the all-mean control').slice();
      shuffleAt(
        out,
        Array.from({ length: v }, (_, i) => i),
        edit.seed,
      );
      return out;
    case 'trial':
      return needOther(ctx, v, edit.other).slice();
    case 'interpolate': {
      const b = needOther(ctx, v, edit.other);
      const a = edit.alpha;
      // (1 − α)·x + α·y rather than x + α(y − x): exact at α = 0 and α = 1.
      for (let i = 0; i < v; i++) out[i] = (1 - a) * raw[i] + a * b[i];
      return out;
    }
  }
}

/** One line for titles, logs and file names' captions. */
export function describeEdit(e: CounterfactualEdit): string {
  switch (e.kind) {
    case 'lesion':
      return `lesion ${e.roi} (${e.fill}${e.fill === 'shuffle' ? `, seed ${e.seed}` : ''})`;
    case 'roi-only':
      return `${e.roi} only (= ${e.value}, rest at the training mean)`;
    case 'control':
      return e.fill === 'mean' ? 'all-mean control' : `shuffled control (seed ${e.seed})`;
    case 'trial':
      return `other trial: ${e.other.fileName} ${e.other.split} #${e.other.sampleIndex}`;
    case 'interpolate':
      return `α = ${e.alpha} towards ${e.other.fileName} ${e.other.split} #${e.other.sampleIndex}`;
  }
}

/**
 * The file's ROI masks restricted to the voxels of its current ROI selection (so they index the vector
 * getSample returns), e.g. V1/V2/V3/HVC inside VC for the bundled set. Masks that select nothing there are left out.
 */
export function roiMasksForSample(file: Pick<FmriFile, 'masks' | 'roi' | 'voxels'>): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  if (!file.masks) return out;
  const sel = file.roi ? file.masks[file.roi] : undefined;
  for (const [name, mask] of Object.entries(file.masks)) {
    const m = sel ? Uint8Array.from(mask.filter((_, i) => sel[i])) : mask;
    if (m.length === file.voxels && m.some((x) => x)) out[name] = m;
  }
  return out;
}

/**
 * Per-voxel training mean for 'mean' fills and roi-only: the mean of the file's 'train' split (same ROI
 * selection) when it has one, else the mean over the current split's samples (said in `source`).
 */
export function baselineFromFile(file: FmriFile): { values: Float32Array; source: string } {
  const split = file.splits.train ? 'train' : file.split;
  const f = split === file.split ? file : file.select({ split });
  const sum = new Float64Array(f.voxels);
  for (let s = 0; s < f.samples; s++) {
    const row = f.getSample(s);
    for (let v = 0; v < row.length; v++) sum[v] += row[v];
  }
  return {
    values: Float32Array.from(sum, (x) => x / f.samples),
    source: `${split === 'train' ? 'training' : `'${split}'`} split mean over ${f.samples} sample(s)`,
  };
}

type Obj = Record<string, unknown>;
const bad = (field: string, expected: string, found: unknown): CounterfactualError =>
  new CounterfactualError(`counterfactual.${field} must be ${expected}, found ${JSON.stringify(found) ?? 'nothing'}`);

function parseOther(o: unknown): OtherSample {
  if (typeof o !== 'object' || o === null) throw bad('other', 'an object', o);
  const r = o as Obj;
  for (const k of ['fileName', 'sha256', 'split'] as const)
    if (typeof r[k] !== 'string' || !r[k]) throw bad(`other.${k}`, 'a non-empty string', r[k]);
  if (!/^[0-9a-f]{64}$/.test(r.sha256 as string)) throw bad('other.sha256', '64 lowercase hex digits', r.sha256);
  if (!Number.isInteger(r.sampleIndex) || (r.sampleIndex as number) < 0) throw bad('other.sampleIndex', 'an integer ≥ 0', r.sampleIndex);
  return { fileName: r.fileName as string, sha256: r.sha256 as string, split: r.split as string, sampleIndex: r.sampleIndex as number };
}

function seedOf(r: Obj): number {
  if (!Number.isInteger(r.seed) || (r.seed as number) < 0 || (r.seed as number) > 2 ** 32 - 1)
    throw bad('seed', 'an integer in [0, 2^32 − 1]', r.seed);
  return r.seed as number;
}

/** Validates an edit as stored in a receipt (the receipt's `counterfactual` field). */
export function parseCounterfactual(value: unknown): CounterfactualEdit {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('(edit)', 'an object', value);
  const r = value as Obj;
  const roi = (): string => {
    if (typeof r.roi !== 'string' || !r.roi) throw bad('roi', 'a non-empty string', r.roi);
    return r.roi;
  };
  switch (r.kind) {
    case 'lesion':
      if (!LESION_FILLS.includes(r.fill as LesionFill)) throw bad('fill', LESION_FILLS.join(' | '), r.fill);
      return { kind: 'lesion', roi: roi(), fill: r.fill as LesionFill, seed: seedOf(r) };
    case 'roi-only':
      if (typeof r.value !== 'number' || !Number.isFinite(r.value)) throw bad('value', 'a finite number', r.value);
      return { kind: 'roi-only', roi: roi(), value: r.value };
    case 'control':
      if (r.fill !== 'shuffle' && r.fill !== 'mean') throw bad('fill', 'shuffle | mean', r.fill);
      return { kind: 'control', fill: r.fill, seed: seedOf(r) };
    case 'trial':
      return { kind: 'trial', other: parseOther(r.other) };
    case 'interpolate':
      if (typeof r.alpha !== 'number' || !(r.alpha >= 0 && r.alpha <= 1)) throw bad('alpha', 'a number in [0, 1]', r.alpha);
      return { kind: 'interpolate', other: parseOther(r.other), alpha: r.alpha };
    default:
      throw bad('kind', 'lesion | roi-only | control | trial | interpolate', r.kind);
  }
}
