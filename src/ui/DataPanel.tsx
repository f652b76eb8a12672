// fMRI data: picker, bundled synthetic samples, split/sample/ROI picker, ground truth, preprocessing summary.
import { useId, useState } from 'react';
import { runActive } from '../store/reducer';
import { useStudio } from '../store/studio';
import { handleFiles, openBundled, rescaleFmri, scaleFieldValue, selectSample } from './controller';
import { FMRI_EXTENSIONS } from './dropped';
import { ErrorBox, formatBytes, RgbaCanvas, SyntheticTag, VoxelPlot } from './widgets';
import { describeZscore } from '../model/preprocess';
import { HelpTip } from './Help';

const BUNDLED: { label: string; file: string; mask?: string }[] = [
  { label: 'sbj_3.npz (GOD layout)', file: 'sbj_3.npz' },
  { label: 'test0 .npy', file: 'sample_test0.npy' },
  { label: 'test0 .h5', file: 'sample_test0.h5' },
  { label: 'test0 .csv', file: 'sample_test0.csv' },
  { label: 'test0 .nii.gz + mask', file: 'sample_test0.nii.gz', mask: 'sample_mask.nii.gz' },
];

const SPLIT_NAMES: Record<string, string> = {
  'test-avg': 'test (averaged over trials)',
  'test-single': 'test (single trials)',
  train: 'train (single trials)',
};

export function DataPanel() {
  const file = useStudio((s) => s.file);
  const sample = useStudio((s) => s.sample);
  // A new file or sample would replace what the active run decodes: cancel the run first.
  const locked = useStudio((s) => runActive(s.run));
  const splitId = useId(), indexId = useId(), roiId = useId(), scaleId = useId();
  const [scaleText, setScaleText] = useState('');
  const scaleValue = scaleFieldValue(scaleText);
  const info = file.info;
  const ref = sample.ref;
  const split = info?.splits.find((s) => s.name === ref?.split);
  const go = (patch: Partial<NonNullable<typeof ref>>) => { if (ref) void selectSample({ ...ref, ...patch }); };
  const setRoi = (roi: string) => {
    if (!ref) return;
    const { roi: _old, ...rest } = ref;
    void selectSample(roi ? { ...rest, roi } : rest);
  };
  const s = sample.info;
  return (
    <section className="panel" aria-labelledby="data-h">
      <h2 id="data-h">fMRI data</h2>
      <div className="button-row">
        <label className="button primary">
          Open fMRI file…
          <input type="file" className="visually-hidden" data-testid="fmri-input" multiple disabled={locked}
            accept={FMRI_EXTENSIONS.join(',')}
            onChange={(e) => {
              const files = Array.from(e.target.files ?? []).map((f) => ({ path: f.name, file: f }));
              e.target.value = '';
              void handleFiles(files);
            }} />
        </label>
        <span className="muted">or drop it anywhere ({FMRI_EXTENSIONS.join(' ')}; a 3-D NIfTI with its mask)</span>
      </div>
      <div className="bundled">
        <span>Bundled samples <SyntheticTag text="synthetic — simulated responses, not brain data" />:</span>
        {BUNDLED.map((b) => (
          <button type="button" key={b.file} disabled={locked} onClick={() => void openBundled(b.file, b.mask)}>{b.label}</button>
        ))}
      </div>
      {locked ? <p className="muted small" data-testid="data-locked">Cancel the run to change the data.</p> : null}
      {file.status === 'busy' ? <p className="status">Reading {file.name}…</p> : null}
      <ErrorBox error={file.error} testId="file-error" />
      {info ? (
        <div data-testid="file-info">
          <p>
            <strong>{info.name}</strong> <span className="muted">{info.format}, {formatBytes(info.bytes)}, {info.voxels} voxels{info.roi ? ` (ROI ${info.roi})` : ''}</span>{' '}
            <SyntheticTag text={info.syntheticLabel} />
          </p>
          {info.note ? <p className="muted small" data-testid="file-note">{info.note}</p> : null}
          <div className="picker">
            {/* Integer-coded data (NSD betas: int16 × 300) needs a scale; it applies to every format. */}
            <label htmlFor={scaleId}>Scale</label><HelpTip id="scale" />
            <input id={scaleId} type="text" inputMode="decimal" placeholder="as stored (e.g. 1/300)" value={scaleText} disabled={locked}
              data-testid="fmri-scale" aria-invalid={Number.isNaN(scaleValue)} onChange={(e) => setScaleText(e.target.value)} />
            <button type="button" disabled={locked || Number.isNaN(scaleValue)} onClick={() => void rescaleFmri(scaleValue)}>Apply</button>
            {Number.isNaN(scaleValue) ? <span className="muted small">a non-zero number or fraction</span> : null}
          </div>
          <div className="picker">
            <label htmlFor={splitId}>Split</label><HelpTip id="split" />
            <select id={splitId} disabled={locked} value={ref?.split ?? info.defaultSplit} onChange={(e) => go({ split: e.target.value, index: 0 })}>
              {info.splits.map((sp) => <option key={sp.name} value={sp.name}>{SPLIT_NAMES[sp.name] ?? sp.name} — {sp.count}</option>)}
            </select>
            <label htmlFor={indexId}>Sample</label><HelpTip id="sample" />
            <input id={indexId} type="number" min={0} max={(split?.count ?? 1) - 1} value={ref?.index ?? 0} data-testid="sample-index" disabled={locked}
              onChange={(e) => { const v = Number(e.target.value); if (Number.isInteger(v) && v >= 0 && v < (split?.count ?? 1)) go({ index: v }); }} />
            <span className="muted">of {split?.count ?? 0}</span>
            {info.roiNames.length ? (
              <>
                <label htmlFor={roiId}>ROI</label><HelpTip id="roi" />
                <select id={roiId} disabled={locked} value={ref?.roi ?? info.roi ?? ''} onChange={(e) => setRoi(e.target.value)}>
                  {/* Without a default ROI (no VC mask) the file's sample is every voxel: offer that explicitly. */}
                  {info.roi === undefined ? <option value="">(all voxels)</option> : null}
                  {info.roiNames.map((r) => <option key={r} value={r}>{r}</option>)}
                </select>
              </>
            ) : null}
          </div>
        </div>
      ) : null}
      <ErrorBox error={sample.error} testId="sample-error" />
      {s ? (
        <div className="sample" data-testid="sample-info">
          <figure>
            <RgbaCanvas image={s.groundTruth} label={s.groundTruth ? 'Ground-truth stimulus image' : 'No ground-truth image for this sample'} size={96} testId="ground-truth" />
            <figcaption>{s.groundTruth ? 'stimulus (ground truth)' : 'no ground truth'}</figcaption>
          </figure>
          <div className="summary">
            <h3>Preprocessing</h3>
            {s.preprocess ? (
              <table data-testid="preprocess">
                <tbody>
                  <tr><th scope="row">voxels</th><td>{s.preprocess.rawVoxels}{s.preprocess.roi ? ` (ROI ${s.preprocess.roi})` : ''}</td></tr>
                  <tr><th scope="row">wrap padding <HelpTip id="wrapPadding" /></th><td>+{s.preprocess.pad} → {s.preprocess.paddedVoxels}</td></tr>
                  <tr><th scope="row">z-score <HelpTip id="zscore" /></th><td>{s.preprocess.mean !== undefined && s.preprocess.std !== undefined
                    ? `${describeZscore(s.preprocess.mean, s.preprocess.std)} (training-set scalars)` : 'none (values used as given)'}</td></tr>
                </tbody>
              </table>
            ) : <p className="muted">{s.preprocessError ? '' : 'Load a model to see how this sample is prepared.'}</p>}
            <ErrorBox error={s.preprocessError} testId="preprocess-error" />
          </div>
          <VoxelPlot voxels={s.voxels} />
        </div>
      ) : null}
    </section>
  );
}
