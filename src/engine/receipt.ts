// Decode receipt: everything needed to reproduce a decode (which model, which fMRI sample, which sampler
// settings, which backend). The studio writes one on export, replays a dropped one, and `npm run decode`
// accepts it. Parsing validates every field and names the first bad one.
import type { BackendName, InitKind, SamplerName } from './types';

export const RECEIPT_KIND = 'decoding-studio/decode-receipt';
export const RECEIPT_VERSION = 1;

export interface DecodeReceipt {
  kind: typeof RECEIPT_KIND;
  receiptVersion: typeof RECEIPT_VERSION;
  /** App version that wrote it (package.json version). */
  appVersion: string;
  createdAt: string;
  model: { name: string; sha256: string; synthetic: boolean };
  /** `sampleIndex` is the row within `split` (GOD npz: train, test-single, test-avg; other files: their split name). */
  fmri: { fileName: string; sha256: string; split: string; sampleIndex: number; roi?: string; inputs?: ReceiptInput[] };
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
}

// ---- data-set inputs (issue 13) ----
/**
 * Every file a multi-file or masked input was read from, data parts in their concatenation order. For such
 * an input `fmri.sha256` is the sha256 of the parts' hex digests joined by newlines, in order (so a changed
 * order is a different input).
 */
export interface ReceiptInput { role: 'data' | 'mask' | 'stimuli'; fileName: string; sha256: string }
const INPUT_ROLES = ['data', 'mask', 'stimuli'];
// ---- end data-set inputs ----

export class ReceiptError extends Error {
  constructor(readonly field: string, expected: string, found: unknown) {
    super(`decode receipt: ${field} must be ${expected}, found ${describe(found)}`);
    this.name = 'ReceiptError';
  }
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing (missing)';
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

export const MAX_SEED = 2 ** 32 - 1;
export const MAX_SAMPLES = 16;
const SHA256 = /^[0-9a-f]{64}$/;
const SAMPLERS: readonly SamplerName[] = ['plms', 'ddim'];
const BACKENDS: readonly BackendName[] = ['webgpu', 'wasm', 'cpu'];
const INITS: readonly InitKind[] = ['noise', 'lowlevel'];

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

/** Validate a receipt given as JSON text or an already parsed value. */
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
  const model = { name: str(m, 'name', 'model.'), sha256: str(m, 'sha256', 'model.', SHA256, '64 lowercase hex digits'), synthetic: m.synthetic };

  const f = obj(o.fmri, 'fmri');
  const fmri: DecodeReceipt['fmri'] = {
    fileName: str(f, 'fileName', 'fmri.'),
    sha256: str(f, 'sha256', 'fmri.', SHA256, '64 lowercase hex digits'),
    split: str(f, 'split', 'fmri.'),
    sampleIndex: int(f, 'sampleIndex', 'fmri.', 0, Number.MAX_SAFE_INTEGER),
  };
  if (f.roi !== undefined) fmri.roi = str(f, 'roi', 'fmri.');
  // data-set inputs (issue 13)
  if (f.inputs !== undefined) {
    if (!Array.isArray(f.inputs)) throw new ReceiptError('fmri.inputs', 'a list of {role, fileName, sha256}', f.inputs);
    fmri.inputs = f.inputs.map((x: unknown, i: number) => {
      const e = obj(x, `fmri.inputs[${i}]`);
      const role = str(e, 'role', `fmri.inputs[${i}].`);
      if (!INPUT_ROLES.includes(role)) throw new ReceiptError(`fmri.inputs[${i}].role`, `one of ${INPUT_ROLES.join(', ')}`, role);
      return { role: role as ReceiptInput['role'], fileName: str(e, 'fileName', `fmri.inputs[${i}].`), sha256: str(e, 'sha256', `fmri.inputs[${i}].`, SHA256, '64 lowercase hex digits') };
    });
  }

  const sampler = oneOf(o, 'sampler', SAMPLERS);
  const steps = int(o, 'steps', '', 1, 1000);
  const eta = o.eta;
  if (typeof eta !== 'number' || !Number.isFinite(eta) || eta < 0 || eta > 1) throw new ReceiptError('eta', 'a number in [0, 1]', eta);
  // The authors' PLMS refuses eta ≠ 0; a receipt claiming otherwise cannot be replayed faithfully.
  if (sampler === 'plms' && eta !== 0) throw new ReceiptError('eta', '0 for the PLMS sampler', eta);
  const init = o.init === undefined ? 'noise' : oneOf(o, 'init', INITS);
  const strength = o.strength === undefined ? 1 : o.strength;
  if (typeof strength !== 'number' || !(strength > 0 && strength <= 1)) throw new ReceiptError('strength', 'a number in (0, 1]', strength);
  if (strength < 1 && init !== 'lowlevel') throw new ReceiptError('strength', `1 unless init is "lowlevel" (init is "${init}")`, strength);
  const guidance = o.guidance === undefined ? 1 : o.guidance;
  if (typeof guidance !== 'number' || !Number.isFinite(guidance) || guidance < 0) throw new ReceiptError('guidance', 'a finite number ≥ 0', guidance);
  let timesteps: number[] | undefined;
  if (o.timesteps !== undefined) {
    const ts = o.timesteps;
    if (!Array.isArray(ts) || ts.length === 0 || !ts.every((t, i) => Number.isInteger(t) && t >= 0 && (i === 0 || t < ts[i - 1]))) {
      throw new ReceiptError('timesteps', 'a non-empty descending list of integer timesteps', ts);
    }
    timesteps = ts as number[];
  }
  return {
    kind: RECEIPT_KIND,
    receiptVersion: RECEIPT_VERSION,
    appVersion,
    createdAt,
    model,
    fmri,
    sampler,
    steps,
    eta,
    seed: int(o, 'seed', '', 0, MAX_SEED),
    numSamples: int(o, 'numSamples', '', 1, MAX_SAMPLES),
    backend: oneOf(o, 'backend', BACKENDS),
    init,
    strength,
    guidance,
    ...(timesteps ? { timesteps } : {}),
  };
}

/**
 * Throws ReceiptError when a receipt's recorded step list is not the one its settings give for a schedule
 * (`plan` is runTimesteps / decodeTimesteps for the receipt's steps, init and strength).
 */
export function checkReceiptTimesteps(r: DecodeReceipt, plan: number[]): void {
  if (r.timesteps && r.timesteps.join() !== plan.join()) {
    throw new ReceiptError('timesteps', `[${plan.join(', ')}] for ${r.steps} steps, init ${r.init}, strength ${r.strength}`, r.timesteps);
  }
}

export function makeReceipt(fields: Omit<DecodeReceipt, 'kind' | 'receiptVersion' | 'createdAt' | 'init' | 'strength' | 'guidance'>
  & Partial<Pick<DecodeReceipt, 'init' | 'strength' | 'guidance'>>, now = new Date()): DecodeReceipt {
  // Round-trip through the validator so a receipt we write is always one we (and the CLI) accept.
  return parseReceipt({ kind: RECEIPT_KIND, receiptVersion: RECEIPT_VERSION, createdAt: now.toISOString(), ...fields });
}

export function receiptToJson(r: DecodeReceipt): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}
