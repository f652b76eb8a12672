// Live previews per sample, the timeline scrubber, the comparison with the ground truth, uncertainty over samples
// (pixel mean, per-pixel sd map, spread of each metric) and exports. Views only read the store; the controller asks the
// engine for images when the user moves the timeline.
import { useId } from 'react';
import { DEFAULT_EXPORT_SCALE, EXPORT_SCALES, type MetricSpread, type SampleMetrics } from '../engine/protocol';
import { lastPosition, previewShown } from '../store/reducer';
import { dispatch, useStudio } from '../store/studio';
import { exportImage, exportReceipt, setPosition } from './controller';
import { RgbaCanvas } from './widgets';
import { HelpTip, ScoreLegend } from './Help';

const metricText = (m: SampleMetrics): string =>
  `PCC ${m.pcc.toFixed(3)} · SSIM ${m.ssim.toFixed(3)}${m.cnnClass ? ` · CNN: ${m.cnnClass}` : ''}`;
const spreadText = (name: string, s: MetricSpread): string =>
  `${name} over samples: min ${s.min.toFixed(3)}, max ${s.max.toFixed(3)}, mean ${s.mean.toFixed(3)}, sd ${s.sd.toFixed(3)}`;

export function Viewer() {
  const run = useStudio((s) => s.run);
  const position = useStudio((s) => s.position);
  const preview = useStudio(previewShown);
  const waiting = useStudio((s) => s.run.steps.length > 0 && !previewShown(s));
  const exportScale = useStudio((s) => s.exportScale);
  const groundTruth = useStudio((s) => s.sample.info?.groundTruth);
  const groundTruthClass = useStudio((s) => s.sample.info?.groundTruthClass);
  const synthetic = useStudio((s) => s.model.info?.syntheticLabel);
  const syntheticData = useStudio((s) => s.file.info?.syntheticLabel);
  const scrubId = useId();
  const scaleId = useId();
  const last = lastPosition(run);
  const hasData = run.steps.length > 0;
  const final = run.status === 'done' && position === run.steps.length;
  const step = run.steps[Math.min(position, run.steps.length - 1)];

  if (!hasData) {
    return (
      <section className="panel viewer" aria-labelledby="viewer-h">
        <h2 id="viewer-h">Reconstruction</h2>
        <p className="muted">{run.status === 'running' ? 'Computing the first step…' : 'Run the sampler to see each step here.'}</p>
      </section>
    );
  }
  const n = run.settings?.numSamples ?? 0;
  // With init 'lowlevel' frame 0 is the low-level start (x̂₀ = the low-level latent), not a sampler step.
  const offset = run.steps[0]?.kind === 'init' ? 1 : 0;
  const atInit = !final && step?.kind === 'init';
  const positionText = final
    ? `final image (after ${run.steps.length - offset} steps)`
    : step?.kind === 'init'
      ? `low-level start (t = ${step.t}), frame 0 of ${run.total}`
      : `step ${position + 1 - offset} of ${run.total - offset}, t = ${step?.t}`;
  const busy = run.status === 'running';
  // Ground truth, samples, mean and sd map share one row: smaller tiles when there are more than four.
  const tiles = (groundTruth ? 1 : 0) + n + (preview?.mean ? 1 : 0) + (preview?.std ? 1 : 0);
  const size = tiles > 4 ? 96 : 128;
  return (
    <section className="panel viewer" aria-labelledby="viewer-h">
      <h2 id="viewer-h">Reconstruction {synthetic ? <span className="tag synthetic">{synthetic}</span> : null}</h2>
      <div className="timeline">
        <label htmlFor={scrubId}>Timeline</label>
        <HelpTip id="timeline" />
        <input
          id={scrubId}
          type="range"
          min={0}
          max={last}
          step={1}
          value={position}
          data-testid="scrubber"
          aria-valuetext={positionText}
          onChange={(e) => setPosition(Number(e.target.value))}
        />
        <output htmlFor={scrubId} data-testid="position-label">
          {positionText}
          {waiting ? ' (loading…)' : ''}
        </output>
      </div>
      <div className="samples one-row" data-testid="previews">
        {groundTruth ? (
          <figure className="gt">
            <RgbaCanvas image={groundTruth} label="Ground truth" size={size} testId="compare-gt" />
            <figcaption>
              ground truth
              {groundTruthClass ? (
                <span className="metrics" data-testid="gt-class">
                  {' '}
                  · {groundTruthClass}
                </span>
              ) : null}
            </figcaption>
          </figure>
        ) : null}
        {Array.from({ length: n }, (_, i) => (
          <div className="sample-col" key={i}>
            <figure>
              <RgbaCanvas image={preview?.x0[i]} label={`Sample ${i + 1}: predicted x0, ${positionText}`} size={size} testId={`x0-${i}`} />
              <figcaption>
                sample {i + 1} · {final ? 'decoded' : atInit ? 'low-level image' : 'predicted x₀'}
                {preview?.metrics?.[i] ? (
                  <span className="metrics" data-testid={`metrics-${i}`}>
                    {metricText(preview.metrics[i])}
                  </span>
                ) : null}
              </figcaption>
            </figure>
            <figure>
              <RgbaCanvas
                image={preview?.xt[i]}
                label={`Sample ${i + 1}: latent ${final ? 'final' : 'x_t'} channels as RGB`}
                size={64}
                testId={`xt-${i}`}
              />
              <figcaption>{final ? 'final latent' : atInit ? `start latent x_${step.t}` : 'x_t'} (channels as RGB)</figcaption>
            </figure>
            <div className="button-row">
              <button
                type="button"
                onClick={() => void exportImage('png', i)}
                aria-label={`Export PNG of sample ${i + 1} at this position`}
              >
                PNG
              </button>
              <button
                type="button"
                disabled={busy}
                onClick={() => void exportImage('gif', i)}
                aria-label={`Export trajectory GIF of sample ${i + 1}`}
              >
                GIF
              </button>
            </div>
          </div>
        ))}
        {preview?.mean ? (
          <div className="sample-col">
            <figure>
              <RgbaCanvas image={preview.mean} label={`Pixel mean of the ${n} samples, ${positionText}`} size={size} testId="x0-mean" />
              <figcaption>
                mean of {n} samples
                {preview.meanMetrics ? (
                  <span className="metrics" data-testid="metrics-mean">
                    {metricText(preview.meanMetrics)}
                  </span>
                ) : null}
              </figcaption>
            </figure>
            <button type="button" onClick={() => void exportImage('png', 'mean')} aria-label={`Export PNG of the mean of the ${n} samples`}>
              PNG
            </button>
          </div>
        ) : null}
        {preview?.std ? (
          <div className="sample-col">
            <figure>
              <RgbaCanvas
                image={preview.std}
                label={`Per-pixel standard deviation over the ${n} samples, black 0, white ${preview.stdMax?.toFixed(3)}`}
                size={size}
                testId="x0-std"
              />
              <figcaption data-testid="std-caption">
                per-pixel sd over samples · black 0, white {preview.stdMax?.toFixed(3)} (mean {preview.stdMean?.toFixed(3)})
              </figcaption>
            </figure>
            <button
              type="button"
              onClick={() => void exportImage('png', 'std')}
              aria-label="Export PNG of the per-pixel standard deviation map"
            >
              PNG
            </button>
          </div>
        ) : null}
      </div>
      {preview?.spread ? (
        <p className="small" data-testid="metric-spread">
          {spreadText('PCC', preview.spread.pcc)}; {spreadText('SSIM', preview.spread.ssim)}.
        </p>
      ) : null}
      {syntheticData ? (
        <p className="muted small" data-testid="viewer-synthetic">
          Data: {syntheticData}. Scores are on SIMULATED responses.
        </p>
      ) : null}
      <div className="button-row">
        <label htmlFor={scaleId}>Export scale</label>
        <select
          id={scaleId}
          value={exportScale}
          data-testid="export-scale"
          onChange={(e) => dispatch({ type: 'exportScale', scale: Number(e.target.value) })}
        >
          {EXPORT_SCALES.map((k) => (
            <option key={k} value={k}>
              ×{k}
              {k === DEFAULT_EXPORT_SCALE ? ' (default)' : ''}
            </option>
          ))}
        </select>
        <button
          type="button"
          onClick={() => void exportImage('sheet', 0)}
          data-testid="export-sheet"
          aria-label="Export a sheet PNG: ground truth, samples, mean, sd map and metrics"
        >
          Sheet PNG
        </button>
        <button type="button" onClick={exportReceipt} disabled={run.status !== 'done'} data-testid="export-receipt">
          Export decode receipt (JSON)
        </button>
        <span className="muted small">
          x̂₀ <HelpTip id="x0" /> x_t <HelpTip id="xt" />
        </span>
        {groundTruth ? <ScoreLegend /> : null}
      </div>
      {groundTruth ? (
        <p className="muted small">
          Scored on the float images, as <code>npm run eval</code> scores them; sd: population sd of the grey samples.
        </p>
      ) : null}
    </section>
  );
}
