// Live previews per sample, the timeline scrubber, the comparison with the ground truth, and exports.
import { useEffect, useId } from 'react';
import { lastPosition } from '../store/reducer';
import { useStudio } from '../store/studio';
import { exportImage, exportReceipt, setPosition } from './controller';
import { RgbaCanvas } from './widgets';
import { HelpTip, ScoreLegend } from './Help';

export function Viewer() {
  const run = useStudio((s) => s.run);
  const position = useStudio((s) => s.position);
  const preview = useStudio((s) => s.previews[s.position]);
  const groundTruth = useStudio((s) => s.sample.info?.groundTruth);
  const groundTruthClass = useStudio((s) => s.sample.info?.groundTruthClass);
  const synthetic = useStudio((s) => s.model.info?.syntheticLabel);
  const scrubId = useId();
  const last = lastPosition(run);
  const hasData = run.steps.length > 0;
  const final = run.status === 'done' && position === run.steps.length;
  const step = run.steps[Math.min(position, run.steps.length - 1)];

  // Scrubbing to a position the store has no images for asks the worker (cached there).
  useEffect(() => { if (hasData && !preview) setPosition(position); }, [hasData, preview, position]);

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
  const positionText = final ? `final image (after ${run.steps.length - offset} steps)`
    : step?.kind === 'init' ? `low-level start (t = ${step.t}), frame 0 of ${run.total}`
      : `step ${position + 1 - offset} of ${run.total - offset}, t = ${step?.t}`;
  return (
    <section className="panel viewer" aria-labelledby="viewer-h">
      <h2 id="viewer-h">Reconstruction {synthetic ? <span className="tag synthetic">{synthetic}</span> : null}</h2>
      <div className="timeline">
        <label htmlFor={scrubId}>Timeline</label><HelpTip id="timeline" />
        <input id={scrubId} type="range" min={0} max={last} step={1} value={position} data-testid="scrubber"
          aria-valuetext={positionText} onChange={(e) => setPosition(Number(e.target.value))} />
        <output htmlFor={scrubId} data-testid="position-label">{positionText}</output>
      </div>
      <div className="samples" data-testid="previews">
        {groundTruth ? (
          <figure className="gt">
            <RgbaCanvas image={groundTruth} label="Ground truth" testId="compare-gt" />
            <figcaption>ground truth{groundTruthClass ? <span className="metrics" data-testid="gt-class"> · {groundTruthClass}</span> : null}</figcaption>
          </figure>
        ) : null}
        {Array.from({ length: n }, (_, i) => (
          <div className="sample-col" key={i}>
            <figure>
              <RgbaCanvas image={preview?.x0[i]} label={`Sample ${i + 1}: predicted x0, ${positionText}`} testId={`x0-${i}`} />
              <figcaption>
                sample {i + 1} · {final ? 'decoded' : atInit ? 'low-level image' : 'predicted x₀'}
                {preview?.metrics?.[i] ? <span className="metrics" data-testid={`metrics-${i}`}> · PCC {preview.metrics[i].pcc.toFixed(3)} · SSIM {preview.metrics[i].ssim.toFixed(3)}{preview.metrics[i].cnnClass ? ` · CNN: ${preview.metrics[i].cnnClass}` : ''}</span> : null}
              </figcaption>
            </figure>
            <figure>
              <RgbaCanvas image={preview?.xt[i]} label={`Sample ${i + 1}: latent ${final ? 'final' : 'x_t'} channels as RGB`} size={64} testId={`xt-${i}`} />
              <figcaption>{final ? 'final latent' : atInit ? `start latent x_${step.t}` : 'x_t'} (channels as RGB)</figcaption>
            </figure>
            <div className="button-row">
              <button type="button" onClick={() => void exportImage('png', i)} aria-label={`Export PNG of sample ${i + 1} at this position`}>PNG</button>
              <button type="button" disabled={run.status === 'running'} onClick={() => void exportImage('gif', i)} aria-label={`Export trajectory GIF of sample ${i + 1}`}>GIF</button>
            </div>
          </div>
        ))}
        {preview?.mean ? (
          <div className="sample-col">
            <figure>
              <RgbaCanvas image={preview.mean} label={`Pixel mean of the ${n} samples, ${positionText}`} testId="x0-mean" />
              <figcaption>
                mean of {n} samples
                {preview.meanMetrics ? <span className="metrics" data-testid="metrics-mean"> · PCC {preview.meanMetrics.pcc.toFixed(3)} · SSIM {preview.meanMetrics.ssim.toFixed(3)}{preview.meanMetrics.cnnClass ? ` · CNN: ${preview.meanMetrics.cnnClass}` : ''}</span> : null}
              </figcaption>
            </figure>
          </div>
        ) : null}
      </div>
      <div className="button-row">
        <button type="button" onClick={exportReceipt} disabled={run.status !== 'done'} data-testid="export-receipt">Export decode receipt (JSON)</button>
        <span className="muted small">x̂₀ <HelpTip id="x0" /> x_t <HelpTip id="xt" /></span>{groundTruth ? <ScoreLegend /> : null}
      </div>
    </section>
  );
}
