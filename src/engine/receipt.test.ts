import { describe, expect, it } from 'vitest';
import {
  checkReceiptTimesteps,
  makeReceipt,
  parseReceipt,
  RECEIPT_KIND,
  RECEIPT_VERSION,
  ReceiptError,
  receiptArgs,
  receiptToJson,
} from './receipt';

const HEX = 'ab'.repeat(32);
const valid = () => ({
  kind: RECEIPT_KIND,
  receiptVersion: RECEIPT_VERSION,
  appVersion: '0.1.0',
  createdAt: '2026-11-24T12:00:00.000Z',
  model: { name: 'tiny', sha256: HEX, synthetic: true },
  fmri: { fileName: 'sbj_3.npz', sha256: 'cd'.repeat(32), split: 'test-avg', sampleIndex: 3 },
  sampler: 'ddim',
  steps: 12,
  eta: 0.5,
  seed: 7,
  numSamples: 2,
  backend: 'webgpu',
});

function errorOf(v: unknown): ReceiptError {
  try {
    parseReceipt(v);
  } catch (e) {
    return e as ReceiptError;
  }
  throw new Error('parseReceipt accepted an invalid receipt');
}

describe('decode receipt', () => {
  it('round-trips through JSON unchanged', () => {
    const { kind: _k, receiptVersion: _v, createdAt: _c, ...fields } = valid();
    const r = makeReceipt(fields as Parameters<typeof makeReceipt>[0], new Date('2026-01-02T03:04:05Z'));
    expect(r.createdAt).toBe('2026-01-02T03:04:05.000Z');
    expect(parseReceipt(receiptToJson(r))).toEqual(r);
  });

  it('keeps the optional ROI and drops unknown fields', () => {
    const v = { ...valid(), extra: 1, fmri: { ...valid().fmri, roi: 'V1' } };
    const r = parseReceipt(v);
    expect(r.fmri.roi).toBe('V1');
    expect('extra' in r).toBe(false);
  });

  it.each([
    ['kind', { kind: 'something-else' }, /kind must be/],
    ['version', { receiptVersion: 2 }, /receiptVersion must be 1, found 2/],
    ['sampler', { sampler: 'euler' }, /sampler must be one of plms, ddim, found "euler"/],
    ['steps 0', { steps: 0 }, /steps must be a whole number of at least 1, found 0/],
    ['steps fractional', { steps: 2.5 }, /steps must be a whole number of at least 1, found 2.5/],
    ['eta > 1', { eta: 1.5 }, /eta must be a number from 0 to 1, found 1.5/],
    ['plms with eta', { sampler: 'plms', eta: 0.3 }, /eta must be 0 with the PLMS sampler \(use DDIM for eta above 0\), found 0.3/],
    ['seed negative', { seed: -1 }, /seed must be a whole number from 0 to 4294967295, found -1/],
    ['samples', { numSamples: 17 }, /numSamples must be a whole number from 1 to 16, found 17/],
    ['backend', { backend: 'webgl' }, /backend must be one of webgpu, wasm, cpu/],
    ['date', { createdAt: 'yesterday' }, /createdAt must be an ISO date/],
    ['model hash', { model: { name: 'x', sha256: 'ABC', synthetic: false } }, /model.sha256 must be 64 lowercase hex digits, found "ABC"/],
    ['model synthetic', { model: { name: 'x', sha256: HEX } }, /model.synthetic must be a boolean, found nothing/],
    ['fmri missing', { fmri: undefined }, /fmri must be an object/],
    ['fmri split', { fmri: { fileName: 'a.npy', sha256: HEX, sampleIndex: 0 } }, /fmri.split must be a non-empty string/],
    ['init', { init: 'pixels' }, /init must be one of noise, lowlevel, found "pixels"/],
    ['strength 0', { init: 'lowlevel', strength: 0 }, /strength must be a number above 0 and at most 1, found 0/],
    [
      'strength without lowlevel',
      { strength: 0.5 },
      /strength must be 1 unless the run starts from the low-level latent \(init lowlevel; init is "noise"\), found 0.5/,
    ],
    ['guidance', { guidance: -1 }, /guidance must be a finite number of at least 0, found -1/],
    ['steps missing', { steps: undefined }, /steps must be a whole number of at least 1, found nothing/],
    ['spacing', { spacing: 'leading' }, /spacing must be one of uniform, trailing, found "leading"/],
    ['timesteps ascending', { timesteps: [1, 501] }, /timesteps must be a non-empty descending list of integer timesteps, found \[1,501\]/],
  ])('rejects a bad %s with a message naming the field', (_what, patch, message) => {
    const e = errorOf({ ...valid(), ...patch });
    expect(e).toBeInstanceOf(ReceiptError);
    expect(e.message).toMatch(message);
  });

  it('rejects text that is not JSON and values that are not objects', () => {
    expect(errorOf('{not json').message).toMatch(/must be valid JSON/);
    expect(errorOf([1, 2]).message).toMatch(/\(document\) must be an object/);
  });

  it('PLMS with eta 0 is accepted', () => {
    expect(parseReceipt({ ...valid(), sampler: 'plms', eta: 0 }).sampler).toBe('plms');
  });

  it('a receipt from before img2img and guidance replays as init noise, strength 1, guidance 1', () => {
    const r = parseReceipt(valid());
    expect(r).toMatchObject({ init: 'noise', strength: 1, guidance: 1 });
    expect(r.timesteps).toBeUndefined();
  });

  it('keeps init, strength, guidance and the step list, and checks the list against the settings', () => {
    const r = parseReceipt({
      ...valid(),
      steps: 10,
      init: 'lowlevel',
      strength: 0.5,
      guidance: 3,
      timesteps: [501, 401, 301, 201, 101, 1],
    });
    expect(parseReceipt(receiptToJson(r))).toEqual(r);
    expect(() => checkReceiptTimesteps(r, [501, 401, 301, 201, 101, 1])).not.toThrow();
    expect(() => checkReceiptTimesteps(r, [601, 501, 401, 301, 201, 101, 1])).toThrow(
      /timesteps must be \[601, 501, 401, 301, 201, 101, 1\] for 10 steps, init lowlevel, strength 0.5, found \[501,401/,
    );
  });

  it('keeps the spacing and checks it against the steps on replay; older receipts have none', () => {
    const r = parseReceipt({ ...valid(), steps: 3, eta: 0, timesteps: [999, 666, 332], spacing: 'trailing' });
    expect(r.spacing).toBe('trailing');
    expect(parseReceipt(receiptToJson(r))).toEqual(r);
    expect(() => checkReceiptTimesteps(r, [999, 666, 332], 'trailing')).not.toThrow();
    expect(() => checkReceiptTimesteps(r, [999, 666, 332], 'uniform')).toThrow(
      /spacing must be "uniform" for 3 steps on this model, found "trailing"/,
    );
    expect(parseReceipt(valid()).spacing).toBeUndefined();
  });
});

describe('decode receipt: ROI, value scale and metrics (studio receipts)', () => {
  const metrics = {
    perSample: [
      { pcc: 0.5, ssim: 0.25 },
      { pcc: null, ssim: 0.125 },
    ],
    mean: { pcc: 0.6, ssim: 0.3 },
    spread: { pcc: { min: 0.5, max: 0.5, mean: 0.5, sd: 0 }, ssim: { min: 0.125, max: 0.25, mean: 0.1875, sd: 0.0625 } },
    pixelSd: { mean: 0.01, max: 0.2 },
  };

  it('parses them, NaN PCC (a constant image, written as null) included', () => {
    const r = parseReceipt({ ...valid(), fmri: { ...valid().fmri, roi: 'V1', scale: 1 / 300 }, metrics });
    expect(r.fmri).toMatchObject({ roi: 'V1', scale: 1 / 300 });
    expect(r.metrics?.perSample[1].pcc).toBeNaN();
    expect(r.metrics?.spread?.ssim.sd).toBe(0.0625);
    expect(r.metrics?.pixelSd).toEqual({ mean: 0.01, max: 0.2 });
  });

  it('names the bad field', () => {
    expect(errorOf({ ...valid(), fmri: { ...valid().fmri, scale: 0 } }).field).toBe('fmri.scale');
    expect(errorOf({ ...valid(), metrics: { perSample: [] } }).field).toBe('metrics.perSample');
    expect(errorOf({ ...valid(), metrics: { ...metrics, mean: { pcc: 'x', ssim: 1 } } }).field).toBe('metrics.mean.pcc');
    expect(errorOf({ ...valid(), metrics: { ...metrics, spread: { pcc: metrics.spread.pcc } } }).field).toBe('metrics.spread.ssim');
  });

  it('turns into decode flags that read the same voxels: split, sample, ROI and scale', () => {
    const r = parseReceipt({ ...valid(), fmri: { ...valid().fmri, roi: 'VC', scale: 0.5 } });
    expect(receiptArgs(r)).toEqual({
      sampler: 'ddim',
      steps: 12,
      eta: 0.5,
      seed: 7,
      samples: 2,
      init: 'noise',
      strength: 1,
      guidance: 1,
      sample: 3,
      split: 'test-avg',
      roi: 'VC',
      scale: '0.5',
    });
    expect(receiptArgs(parseReceipt(valid()))).not.toHaveProperty('scale');
  });
});
