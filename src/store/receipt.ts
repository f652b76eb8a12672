// The decode receipt of the run on screen: a pure function of the studio state, so what the studio writes can be
// replayed by `npm run decode -- --receipt` in a test (src/store/receipt.test.ts).
import type { StepPreview } from '../engine/protocol';
import { makeReceipt, type DecodeReceipt, type ReceiptMetrics } from '../engine/receipt';
import { stepSpacing } from '../diffusion/schedule';
import { sameRef, type StudioState } from './reducer';

/** The final frame's scores as a receipt records them (absent without a ground truth). */
export function receiptMetrics(final: StepPreview): ReceiptMetrics | undefined {
  if (!final.metrics?.length) return undefined;
  return {
    perSample: final.metrics.map((m) => ({ pcc: m.pcc, ssim: m.ssim })),
    ...(final.meanMetrics ? { mean: { pcc: final.meanMetrics.pcc, ssim: final.meanMetrics.ssim } } : {}),
    ...(final.spread ? { spread: final.spread } : {}),
    ...(final.stdMean !== undefined && final.stdMax !== undefined ? { pixelSd: { mean: final.stdMean, max: final.stdMax } } : {}),
  };
}

/**
 * The receipt of the run on screen, or null when there is none to describe (no model, file, run or backend). Records
 * the ROI the sample was read with (also the file's default: the CLI would otherwise pick its own), the value scale
 * the file was read with, the visited timesteps and, once done, the final frame's metrics. Throws ReceiptError if a
 * field is out of range.
 */
export function studioReceipt(s: StudioState, appVersion: string, now = new Date()): DecodeReceipt | null {
  const { model, file, run, backend } = s;
  if (!model.info || !file.info || !run.settings || !run.sample || !backend.info) return null;
  const roi = run.sample.roi ?? (sameRef(s.sample.info?.ref, run.sample) ? s.sample.info?.roi : undefined) ?? file.info.roi;
  const metrics = run.final ? receiptMetrics(run.final) : undefined;
  return makeReceipt(
    {
      appVersion,
      model: { name: model.info.config.name, sha256: model.info.sha256, synthetic: !!model.info.syntheticLabel },
      fmri: {
        fileName: file.info.name,
        sha256: file.info.sha256,
        split: run.sample.split,
        sampleIndex: run.sample.index,
        ...(roi ? { roi } : {}),
        ...(file.info.scale !== undefined ? { scale: file.info.scale } : {}),
        ...(file.info.inputs ? { inputs: file.info.inputs } : {}), // every file of a multi-file subject, in order, with its sha256
      },
      // init / strength / guidance travel with the settings; the visited timesteps (img2img cut applied, the
      // low-level start frame excluded) let a replay check that it walks the same schedule.
      ...run.settings,
      timesteps: run.steps.filter((st) => st.kind === 'step').map((st) => st.t),
      spacing: stepSpacing(run.settings.steps, model.info.config.schedule.numTimesteps),
      backend: backend.info.backend,
      ...(metrics ? { metrics } : {}),
    },
    now,
  );
}
