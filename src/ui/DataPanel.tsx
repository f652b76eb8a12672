// fMRI data: picker, bundled synthetic samples, split/sample/ROI picker, ground truth, preprocessing summary.
import { useId, useState } from 'react';
import { runActive, type StudioState } from '../store/reducer';
import { useStudio } from '../store/studio';
import {
  addGroundTruth,
  cancelRead,
  handleFiles,
  openBundled,
  reorderParts,
  rescaleFmri,
  scaleFieldValue,
  selectSample,
} from './controller';
import { FMRI_EXTENSIONS } from './dropped';
import { ErrorBox, formatBytes, RgbaCanvas, SyntheticTag, VoxelPlot, voxelRange } from './widgets';
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

/** A split's label: its name, and whether its samples are single trials or averages (when the reader knows). */
function splitLabel(name: string, kinds: Record<string, 'single' | 'averaged'> | undefined): string {
  const kind = kinds?.[name];
  if (kind === 'averaged') return `${name === 'test-avg' ? 'test' : name} (averaged over repetitions)`;
  if (kind === 'single') return `${name === 'test-single' ? 'test' : name} (single trials)`;
  return SPLIT_NAMES[name] ?? name;
}

const pickedFiles = (list: FileList | null) => Array.from(list ?? []).map((f) => ({ path: f.webkitRelativePath || f.name, file: f }));

/** The parts of a multi-file subject in their concatenation order, each movable up or down (re-reads). */
function PartsOrder({ parts, locked }: { parts: string[]; locked: boolean }) {
  const move = (i: number, d: -1 | 1) => {
    const order = [...parts];
    [order[i], order[i + d]] = [order[i + d], order[i]];
    void reorderParts(order);
  };
  return (
    <details className="small" open data-testid="parts">
      <summary>{parts.length} files concatenated along voxels, in this order</summary>
      <ol>
        {parts.map((p, i) => (
          <li key={p}>
            <code>{p}</code>{' '}
            <button type="button" disabled={locked || i === 0} aria-label={`move ${p} up`} onClick={() => move(i, -1)}>
              ↑
            </button>
            <button type="button" disabled={locked || i === parts.length - 1} aria-label={`move ${p} down`} onClick={() => move(i, 1)}>
              ↓
            </button>
          </li>
        ))}
      </ol>
    </details>
  );
}

export function DataPanel() {
  const file = useStudio((s) => s.file);
  const sample = useStudio((s) => s.sample);
  // A new file or sample would replace what the active run decodes: cancel the run first.
  const locked = useStudio((s) => runActive(s.run));
  const splitId = useId(),
    indexId = useId(),
    roiId = useId(),
    scaleId = useId();
  const [scaleText, setScaleText] = useState('');
  const scaleValue = scaleFieldValue(scaleText);
  const info = file.info;
  const ref = sample.ref;
  const split = info?.splits.find((s) => s.name === ref?.split);
  const go = (patch: Partial<NonNullable<typeof ref>>) => {
    if (ref) void selectSample({ ...ref, ...patch });
  };
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
          <input
            type="file"
            className="visually-hidden"
            data-testid="fmri-input"
            multiple
            disabled={locked}
            accept={[...FMRI_EXTENSIONS, '.txt'].join(',')}
            onChange={(e) => {
              const files = pickedFiles(e.target.files);
              e.target.value = '';
              void handleFiles(files);
            }}
          />
        </label>
        <label className="button">
          Open folder…
          <input
            type="file"
            className="visually-hidden"
            data-testid="fmri-folder-input"
            disabled={locked}
            {...{ webkitdirectory: '' }}
            onChange={(e) => {
              const files = pickedFiles(e.target.files);
              e.target.value = '';
              void handleFiles(files);
            }}
          />
        </label>
        <span className="muted">
          or drop it anywhere ({FMRI_EXTENSIONS.join(' ')}; with its mask, e.g. nsdgeneral.nii.gz; several files of one subject, e.g.
          BOLD5000's per-ROI .npy with the stimulus list; ground-truth images)
        </span>
      </div>
      <div className="bundled">
        <span>
          Bundled samples <SyntheticTag text="synthetic — simulated responses, not brain data" />:
        </span>
        {BUNDLED.map((b) => (
          <button type="button" key={b.file} disabled={locked} onClick={() => void openBundled(b.file, b.mask)}>
            {b.label}
          </button>
        ))}
      </div>
      {locked ? (
        <p className="muted small" data-testid="data-locked">
          Cancel the run to change the data.
        </p>
      ) : null}
      {file.status === 'busy' ? (
        <div className="status" data-testid="file-reading">
          <span>
            Reading {file.name}…{file.progress ? readProgressText(file.progress) : ''}
          </span>{' '}
          {file.progress ? (
            <progress
              value={file.progress.done}
              max={file.progress.total}
              aria-label={file.progress.phase === 'volumes' ? `reading the masked volumes of ${file.name}` : `reading ${file.name}`}
            />
          ) : null}{' '}
          <button type="button" data-testid="cancel-read" onClick={() => void cancelRead()}>
            Cancel
          </button>
        </div>
      ) : null}
      <ErrorBox error={file.error} testId="file-error" />
      {info ? (
        <div data-testid="file-info">
          <p>
            <strong>{info.name}</strong>{' '}
            <span className="muted">
              {info.format}, {formatBytes(info.bytes)}, {info.voxels} voxels{info.roi ? ` (ROI ${info.roi})` : ''}
            </span>{' '}
            <SyntheticTag text={info.syntheticLabel} />
          </p>
          {info.note ? (
            <p className="muted small" data-testid="file-note">
              {info.note}
            </p>
          ) : null}
          {info.parts ? <PartsOrder parts={info.parts} locked={locked} /> : null}
          {info.inputs ? (
            <details className="muted small">
              <summary>{info.inputs.length} files read (recorded in the receipt with their sha256)</summary>
              <ul data-testid="file-inputs">
                {info.inputs.map((x) => (
                  <li key={`${x.role}:${x.fileName}`}>
                    <code>{x.fileName}</code>
                    {x.role !== 'data' ? ` (${x.role})` : ''} sha256 {x.sha256.slice(0, 12)}…
                  </li>
                ))}
              </ul>
            </details>
          ) : null}
          <div className="picker">
            <label className="button">
              Ground-truth images…
              <input
                type="file"
                className="visually-hidden"
                data-testid="truth-input"
                multiple
                disabled={locked}
                accept=".npz,.npy,image/*"
                onChange={(e) => {
                  const files = Array.from(e.target.files ?? []).map((f) => ({ name: f.name, file: f as Blob }));
                  e.target.value = '';
                  void addGroundTruth(files);
                }}
              />
            </label>
            <span className="muted small" data-testid="truth-name">
              {info.truthName
                ? `ground truth: ${info.truthName}`
                : "GOD's images_256.npz, converted BOLD5000 images (scripts/bold5000_images.py), or image files named by stimulus"}
            </span>
          </div>
          <div className="picker">
            {/* Integer-coded data (NSD betas: int16 × 300) needs a scale; it applies to every format. */}
            <label htmlFor={scaleId}>Scale</label>
            <HelpTip id="scale" />
            <input
              id={scaleId}
              type="text"
              inputMode="decimal"
              placeholder="as stored (e.g. 1/300)"
              value={scaleText}
              disabled={locked}
              data-testid="fmri-scale"
              aria-invalid={Number.isNaN(scaleValue)}
              onChange={(e) => setScaleText(e.target.value)}
            />
            <button type="button" disabled={locked || Number.isNaN(scaleValue)} onClick={() => void rescaleFmri(scaleValue)}>
              Apply
            </button>
            {Number.isNaN(scaleValue) ? <span className="muted small">a non-zero number or fraction</span> : null}
          </div>
          <div className="picker">
            <label htmlFor={splitId}>Split</label>
            <HelpTip id="split" />
            <select
              id={splitId}
              disabled={locked}
              value={ref?.split ?? info.defaultSplit}
              onChange={(e) => go({ split: e.target.value, index: 0 })}
            >
              {info.splits.map((sp) => (
                <option key={sp.name} value={sp.name}>
                  {splitLabel(sp.name, info.splitKinds)} — {sp.count}
                </option>
              ))}
            </select>
            <label htmlFor={indexId}>Sample</label>
            <HelpTip id="sample" />
            <input
              id={indexId}
              type="number"
              min={0}
              max={(split?.count ?? 1) - 1}
              value={ref?.index ?? 0}
              data-testid="sample-index"
              disabled={locked}
              onChange={(e) => {
                const v = Number(e.target.value);
                if (Number.isInteger(v) && v >= 0 && v < (split?.count ?? 1)) go({ index: v });
              }}
            />
            <span className="muted">of {split?.count ?? 0}</span>
            {info.roiNames.length ? (
              <>
                <label htmlFor={roiId}>ROI</label>
                <HelpTip id="roi" />
                <select id={roiId} disabled={locked} value={ref?.roi ?? info.roi ?? ''} onChange={(e) => setRoi(e.target.value)}>
                  {/* Without a default ROI (no VC mask) the file's sample is every voxel: offer that explicitly. */}
                  {info.roi === undefined ? <option value="">(all voxels)</option> : null}
                  {info.roiNames.map((r) => (
                    <option key={r} value={r}>
                      {r}
                    </option>
                  ))}
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
            <RgbaCanvas
              image={s.groundTruth}
              label={s.groundTruth ? 'Ground-truth stimulus image' : 'No ground-truth image for this sample'}
              size={96}
              testId="ground-truth"
            />
            <figcaption>{s.groundTruth ? 'stimulus (ground truth)' : 'no ground truth'}</figcaption>
          </figure>
          <div className="summary">
            <h3>Preprocessing</h3>
            {s.preprocess ? (
              <table data-testid="preprocess">
                <tbody>
                  {/* The file's ROI, not the model's: a file without ROI masks is all its voxels. */}
                  <tr>
                    <th scope="row">voxels</th>
                    <td>
                      {s.preprocess.rawVoxels}
                      {(ref?.roi ?? info?.roi) ? ` (ROI ${ref?.roi ?? info?.roi})` : ' (all voxels of the file)'}
                    </td>
                  </tr>
                  <tr>
                    <th scope="row">
                      wrap padding <HelpTip id="wrapPadding" />
                    </th>
                    <td>
                      +{s.preprocess.pad} → {s.preprocess.paddedVoxels}
                    </td>
                  </tr>
                  <tr>
                    <th scope="row">
                      z-score <HelpTip id="zscore" />
                    </th>
                    <td>
                      {s.preprocess.mean !== undefined && s.preprocess.std !== undefined
                        ? `${describeZscore(s.preprocess.mean, s.preprocess.std)} (training-set scalars)`
                        : 'none (values used as given)'}
                    </td>
                  </tr>
                </tbody>
              </table>
            ) : (
              <p className="muted">{s.preprocessError ? '' : 'Load a model to see how this sample is prepared.'}</p>
            )}
            <ErrorBox error={s.preprocessError} testId="preprocess-error" />
            {s.voxelOrder ? (
              <p className="muted small" data-testid="voxel-order">
                {s.voxelOrder}
              </p>
            ) : null}
          </div>
          <VoxelPlot voxels={s.voxels} />
          {/* The values as the model gets them, after any scale: int16 × 300 or percent signal change is visible here. */}
          <p className="muted small" data-testid="voxel-range">
            {voxelRange(s.voxels)}
          </p>
        </div>
      ) : null}
    </section>
  );
}

/** The read's progress after "Reading NAME…": bytes with their count, or (HDF5 reading a masked 4-D series, after the
 * bytes were read through) the masked volumes, counted in values. */
function readProgressText(p: NonNullable<StudioState['file']['progress']>): string {
  const pct = Math.floor((100 * p.done) / Math.max(1, p.total));
  return p.phase === 'volumes' ? ` the masked volumes ${pct}%` : ` ${pct}% (${formatBytes(p.done)} of ${formatBytes(p.total)})`;
}
