// Decode receipt: everything needed to reproduce a decode (which model, which fMRI sample, which sampler
// settings, which backend). The studio writes one on export, replays a dropped one, and `npm run decode`
// accepts it. Parsing validates every field and names the first bad one.
import type { BackendName, InitKind, SamplerName } from './types';
import { settingsProblems } from './settings';
import { STEP_SPACINGS, type StepSpacing } from '../diffusion/schedule';
import { parseCounterfactual, type CounterfactualEdit } from '../explain/counterfactual';
import { StudioError } from '../errors';

export const RECEIPT_KIND = 'decoding-studio/decode-receipt';
export const RECEIPT_VERSION = 1;

export interface DecodeReceipt {
  kind: typeof RECEIPT_KIND;
  receiptVersion: typeof RECEIPT_VERSION;
  /** App version that wrote it (package.json version). */
  appVersion: string;
  createdAt: string;
  model: { name: string; sha256: string; synthetic: boolean };
  /**
   * `sampleIndex` is the row within `split` (GOD npz: train, test-single, test-avg; other files: their split name);
   * `roi` the ROI mask the sample was read with; `scale` the multiplier the values were read with (--scale), if any; `inputs` every file of a multi-file subject
   * (data parts in order, mask, stimulus list) with its sha256.
   */
  fmri: { fileName: string; sha256: string; split: string; sampleIndex: number; roi?: string; scale?: number; inputs?: ReceiptInput[] };
  sampler: SamplerName;
  steps: number;
  eta: number;
  seed: number;
  numSamples: number;
  backend: BackendName;
  /**
   * img2img and guidance (issue 16). Receipts written before them lack these fields and replay as
   * init 'noise', strength 1, guidance 1, which is what those decodes did.
   */
  init: InitKind;
  strength: number;
  guidance: number;
  /**
   * The timesteps the run visited, in sampling order (the img2img cut applied). Optional: older receipts
   * lack it; when present it must be the list that steps/init/strength give (checked by checkReceiptTimesteps).
   */
  timesteps?: number[];
  /**
   * How the steps were spread over the schedule (src/diffusion/schedule.ts stepSpacing): 'uniform' (the
   * authors') or 'trailing' (diffusers', for step counts whose uniform list would reach t = T). Optional:
   * receipts written before it used the uniform spacing, the only one then.
   */
  spacing?: StepSpacing;
  /**
   * Scores of the final images against the ground truth (studio receipts, when the sample has one; SIMULATED data for
   * the bundled set): per sample, of the pixel-mean image, their spread over samples, and the per-pixel sd map's
   * mean and max over pixels (grey, [0, 1] units). Informational: a replay recomputes them.
   */
  metrics?: ReceiptMetrics;
  /** Issue 14: the counterfactual edit of the fMRI vector decoded (src/explain/counterfactual.ts); absent for a plain decode. */
  counterfactual?: CounterfactualEdit;
}

export interface ReceiptSpread {
  min: number;
  max: number;
  mean: number;
  sd: number;
}

export interface ReceiptMetrics {
  perSample: { pcc: number; ssim: number }[];
  mean?: { pcc: number; ssim: number };
  spread?: { pcc: ReceiptSpread; ssim: ReceiptSpread };
  pixelSd?: { mean: number; max: number };
}

// ---- data-set inputs (issue 13) ----
/**
 * Every file a multi-file or masked input was read from, data parts in their concatenation order. For such
 * an input `fmri.sha256` is the sha256 of the parts' hex digests joined by newlines, in order (so a changed
 * order is a different input).
 */
export interface ReceiptInput {
  role: 'data' | 'mask' | 'stimuli';
  fileName: string;
  sha256: string;
}
const INPUT_ROLES = ['data', 'mask', 'stimuli'];
// ---- end data-set inputs ----

export class ReceiptError extends StudioError {
  constructor(
    readonly field: string,
    expected: string,
    found: unknown,
  ) {
    super('ReceiptError', `decode receipt: ${field} must be ${expected}, found ${describe(found)}`);
  }
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing (missing)';
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

const SHA256 = /^[0-9a-f]{64}$/;
const BACKENDS: readonly BackendName[] = ['webgpu', 'wasm', 'cpu'];

type Obj = Record<string, unknown>;

function obj(v: unknown, field: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ReceiptError(field, 'an object', v);
  return v as Obj;
}
function str(o: Obj, key: string, prefix: string, pattern?: RegExp, what = 'a non-empty string'): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length === 0 || (pattern && !pattern.test(v))) throw new ReceiptError(prefix + key, what, v);
  return v;
}
function int(o: Obj, key: string, prefix: string, min: number, max: number): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ReceiptError(prefix + key, `an integer in [${min}, ${max}]`, v);
  }
  return v;
}
function oneOf<T extends string>(o: Obj, key: string, options: readonly T[]): T {
  const v = o[key];
  if (typeof v !== 'string' || !options.includes(v as T)) throw new ReceiptError(key, `one of ${options.join(', ')}`, v);
  return v as T;
}

/**
 * A decode receipt (the studio's "Export receipt", or what `npm run decode` writes), given as JSON text or an
 * already parsed value, validated field by field: kind and version, model and fMRI identity (name, sha256,
 * split, sample index, ROI, value scale, the files of a multi-file subject), sampler settings by the run-settings
 * rules (src/engine/settings.ts), the visited timesteps and their spacing, the counterfactual edit and the
 * metrics. Receipts of earlier versions lack the newer fields and read with what those decodes did (init noise,
 * strength 1, guidance 1, uniform spacing).
 * @throws ReceiptError naming the first field that is missing or out of range, what it must be and what was found
 */
export function parseReceipt(input: string | unknown): DecodeReceipt {
  let value: unknown = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (e) {
      throw new ReceiptError('(document)', 'valid JSON', (e as Error).message);
    }
  }
  const o = obj(value, '(document)');
  if (o.kind !== RECEIPT_KIND) throw new ReceiptError('kind', `"${RECEIPT_KIND}"`, o.kind);
  if (o.receiptVersion !== RECEIPT_VERSION) throw new ReceiptError('receiptVersion', String(RECEIPT_VERSION), o.receiptVersion);
  const appVersion = str(o, 'appVersion', '');
  const createdAt = str(o, 'createdAt', '');
  if (Number.isNaN(Date.parse(createdAt))) throw new ReceiptError('createdAt', 'an ISO date', createdAt);

  const m = obj(o.model, 'model');
  if (typeof m.synthetic !== 'boolean') throw new ReceiptError('model.synthetic', 'a boolean', m.synthetic);
  const model = {
    name: str(m, 'name', 'model.'),
    sha256: str(m, 'sha256', 'model.', SHA256, '64 lowercase hex digits'),
    synthetic: m.synthetic,
  };

  const f = obj(o.fmri, 'fmri');
  const fmri: DecodeReceipt['fmri'] = {
    fileName: str(f, 'fileName', 'fmri.'),
    sha256: str(f, 'sha256', 'fmri.', SHA256, '64 lowercase hex digits'),
    split: str(f, 'split', 'fmri.'),
    sampleIndex: int(f, 'sampleIndex', 'fmri.', 0, Number.MAX_SAFE_INTEGER),
  };
  if (f.roi !== undefined) fmri.roi = str(f, 'roi', 'fmri.');
  if (f.scale !== undefined) {
    if (typeof f.scale !== 'number' || !Number.isFinite(f.scale) || f.scale === 0)
      throw new ReceiptError('fmri.scale', 'a finite non-zero number', f.scale);
    fmri.scale = f.scale;
  }
  // data-set inputs (issue 13)
  if (f.inputs !== undefined) {
    if (!Array.isArray(f.inputs)) throw new ReceiptError('fmri.inputs', 'a list of {role, fileName, sha256}', f.inputs);
    fmri.inputs = f.inputs.map((x: unknown, i: number) => {
      const e = obj(x, `fmri.inputs[${i}]`);
      const role = str(e, 'role', `fmri.inputs[${i}].`);
      if (!INPUT_ROLES.includes(role)) throw new ReceiptError(`fmri.inputs[${i}].role`, `one of ${INPUT_ROLES.join(', ')}`, role);
      return {
        role: role as ReceiptInput['role'],
        fileName: str(e, 'fileName', `fmri.inputs[${i}].`),
        sha256: str(e, 'sha256', `fmri.inputs[${i}].`, SHA256, '64 lowercase hex digits'),
      };
    });
  }

  // The sampler settings by the run-settings rules (src/engine/settings.ts); the step bound is the model's
  // schedule, checked on replay (checkReceiptTimesteps). Older receipts lack init / strength / guidance.
  const settings = {
    sampler: o.sampler as SamplerName,
    steps: o.steps as number,
    eta: o.eta as number,
    seed: o.seed as number,
    numSamples: o.numSamples as number,
    init: (o.init ?? 'noise') as InitKind,
    strength: (o.strength ?? 1) as number,
    guidance: (o.guidance ?? 1) as number,
  };
  const [bad] = settingsProblems(settings);
  if (bad) throw new ReceiptError(bad.field, bad.expected, bad.found);
  const spacing = o.spacing === undefined ? undefined : oneOf(o, 'spacing', STEP_SPACINGS);
  let timesteps: number[] | undefined;
  if (o.timesteps !== undefined) {
    const ts = o.timesteps;
    if (!Array.isArray(ts) || ts.length === 0 || !ts.every((t, i) => Number.isInteger(t) && t >= 0 && (i === 0 || t < ts[i - 1]))) {
      throw new ReceiptError('timesteps', 'a non-empty descending list of integer timesteps', ts);
    }
    timesteps = ts as number[];
  }
  const metrics = o.metrics === undefined ? undefined : parseMetrics(o.metrics);
  return {
    kind: RECEIPT_KIND,
    receiptVersion: RECEIPT_VERSION,
    appVersion,
    createdAt,
    model,
    fmri,
    ...settings,
    backend: oneOf(o, 'backend', BACKENDS),
    ...(timesteps ? { timesteps } : {}),
    // Issue 14: validated by the counterfactual module (its errors name the field as counterfactual.<field>).
    ...(o.counterfactual !== undefined ? { counterfactual: parseCounterfactual(o.counterfactual) } : {}),
    ...(spacing ? { spacing } : {}),
    ...(metrics ? { metrics } : {}),
  };
}

function num(o: Obj, key: string, prefix: string): number {
  const v = o[key];
  // NaN (a constant image's PCC) is written by JSON.stringify as null.
  if (v === null) return Number.NaN;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ReceiptError(prefix + key, 'a number (or null)', v);
  return v;
}

function pair(v: unknown, field: string): { pcc: number; ssim: number } {
  const o = obj(v, field);
  return { pcc: num(o, 'pcc', `${field}.`), ssim: num(o, 'ssim', `${field}.`) };
}

function spread(v: unknown, field: string): ReceiptSpread {
  const o = obj(v, field);
  return {
    min: num(o, 'min', `${field}.`),
    max: num(o, 'max', `${field}.`),
    mean: num(o, 'mean', `${field}.`),
    sd: num(o, 'sd', `${field}.`),
  };
}

function parseMetrics(v: unknown): ReceiptMetrics {
  const o = obj(v, 'metrics');
  if (!Array.isArray(o.perSample) || o.perSample.length === 0) throw new ReceiptError('metrics.perSample', 'a non-empty list', o.perSample);
  const out: ReceiptMetrics = { perSample: o.perSample.map((p, i) => pair(p, `metrics.perSample[${i}]`)) };
  if (o.mean !== undefined) out.mean = pair(o.mean, 'metrics.mean');
  if (o.spread !== undefined) {
    const sp = obj(o.spread, 'metrics.spread');
    out.spread = { pcc: spread(sp.pcc, 'metrics.spread.pcc'), ssim: spread(sp.ssim, 'metrics.spread.ssim') };
  }
  if (o.pixelSd !== undefined) {
    const sd = obj(o.pixelSd, 'metrics.pixelSd');
    out.pixelSd = { mean: num(sd, 'mean', 'metrics.pixelSd.'), max: num(sd, 'max', 'metrics.pixelSd.') };
  }
  return out;
}

/**
 * A receipt's settings as `npm run decode` flags (the fMRI file itself is still given with --fmri): sampler settings,
 * sample, split, ROI and value scale, so the replay reads the same voxels and draws the same samples.
 */
export function receiptArgs(r: DecodeReceipt): Record<string, string | number> {
  return {
    sampler: r.sampler,
    steps: r.steps,
    eta: r.eta,
    seed: r.seed,
    samples: r.numSamples,
    init: r.init,
    strength: r.strength,
    guidance: r.guidance,
    sample: r.fmri.sampleIndex,
    split: r.fmri.split,
    ...(r.fmri.roi ? { roi: r.fmri.roi } : {}),
    ...(r.fmri.scale !== undefined ? { scale: String(r.fmri.scale) } : {}),
  };
}

/**
 * Throws ReceiptError when a receipt's recorded step list or spacing is not the one its settings give for a
 * schedule (`plan` is runTimesteps / decodeTimesteps for the receipt's steps, init and strength; `spacing`
 * stepSpacing for its steps).
 */
export function checkReceiptTimesteps(r: DecodeReceipt, plan: number[], spacing?: StepSpacing): void {
  if (r.timesteps && r.timesteps.join() !== plan.join()) {
    throw new ReceiptError('timesteps', `[${plan.join(', ')}] for ${r.steps} steps, init ${r.init}, strength ${r.strength}`, r.timesteps);
  }
  if (r.spacing && spacing && r.spacing !== spacing)
    throw new ReceiptError('spacing', `"${spacing}" for ${r.steps} steps on this model`, r.spacing);
}

export function makeReceipt(
  fields: Omit<DecodeReceipt, 'kind' | 'receiptVersion' | 'createdAt' | 'init' | 'strength' | 'guidance'> &
    Partial<Pick<DecodeReceipt, 'init' | 'strength' | 'guidance'>>,
  now = new Date(),
): DecodeReceipt {
  // Round-trip through the validator so a receipt we write is always one we (and the CLI) accept.
  return parseReceipt({ kind: RECEIPT_KIND, receiptVersion: RECEIPT_VERSION, createdAt: now.toISOString(), ...fields });
}

export function receiptToJson(r: DecodeReceipt): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}
