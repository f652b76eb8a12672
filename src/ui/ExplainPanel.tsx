// Issue 14: why the decoder drew what it drew. For the shown run and timeline position (scrubbed with the
// viewer's timeline): a heatmap over the image of the cross-attention that reaches a chosen ROI's voxels,
// attention mass per ROI, voxel importance for a brushed image region, and counterfactual decoding on the
// same seed (lesion, ROI-only, controls, another trial, interpolation) side by side with the original.
// Maps are computed only while "Show attention maps" is on, so normal decoding keeps its speed. The counterfactual form
// and result are in the store (src/store/counterfactual.ts), so a dropped receipt restores and decodes its edit.
import { useEffect, useId, useRef, useState } from 'react';
import type { ExplainView, RgbaImage } from '../engine/protocol';
import type { CounterfactualEdit, LesionFill } from '../explain/counterfactual';
import type { VoxelCoords } from '../io/coords';
import { heatToRgb, inferno } from '../explain/render';
import { dispatch, useStudio } from '../store/studio';
import { counterfactualShown, previewShown } from '../store/reducer';
import type { CounterfactualForm, EditKind } from '../store/counterfactual';
import { makeReceipt, receiptToJson } from '../engine/receipt';
import { asEngineError } from '../worker/client';
import { cancelCounterfactual, decodeCounterfactual, explainEngine } from './controller';
import { RgbaCanvas, usePaintedCanvas } from './widgets';

declare const __APP_VERSION__: string;

/**
 * The shown run's receipt with the counterfactual edit recorded (`counterfactual`), as a download:
 * `npm run decode -- --fmri <file> --receipt <it>` replays the counterfactual.
 */
function downloadCounterfactualReceipt(edit: CounterfactualEdit): string | null {
  const { model, file, run, backend } = useStudio.getState();
  if (!model.info || !file.info || !run.settings || !run.sample || !backend.info) return 'nothing to record: run a decode first';
  try {
    const receipt = makeReceipt({
      appVersion: __APP_VERSION__,
      model: { name: model.info.config.name, sha256: model.info.sha256, synthetic: !!model.info.syntheticLabel },
      fmri: {
        fileName: file.info.name,
        sha256: file.info.sha256,
        split: run.sample.split,
        sampleIndex: run.sample.index,
        ...(run.sample.roi ? { roi: run.sample.roi } : {}),
      },
      ...run.settings,
      timesteps: run.steps.filter((st) => st.kind === 'step').map((st) => st.t),
      backend: backend.info.backend,
      counterfactual: edit,
    });
    const url = URL.createObjectURL(new Blob([receiptToJson(receipt)], { type: 'application/json' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `${file.info.name.replace(/\.(nii\.gz|[a-z0-9]+)$/i, '')}-${run.sample.split}${run.sample.index}-${edit.kind}-receipt.json`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
    return null;
  } catch (e) {
    return asEngineError(e).message;
  }
}

/** Controls and images in one wrapping line (styles.css has no generic row class). */
const ROW = { display: 'flex', flexWrap: 'wrap', gap: 8, alignItems: 'center' } as const;

const ROI_COLOURS = ['#e4572e', '#29335c', '#f3a712', '#669bbc', '#8a8a8a', '#a8c686', '#c17fbf'];

function rgbaOf(rgb: Float32Array, width: number, height: number): RgbaImage {
  const pixels = new Uint8ClampedArray(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    for (let c = 0; c < 3; c++) pixels[p * 4 + c] = Math.round(rgb[p * 3 + c] * 255);
    pixels[p * 4 + 3] = 255;
  }
  return { width, height, pixels };
}

function rgbOf(img: RgbaImage): Float32Array {
  const out = new Float32Array(img.width * img.height * 3);
  for (let p = 0; p < img.width * img.height; p++) for (let c = 0; c < 3; c++) out[p * 3 + c] = img.pixels[p * 4 + c] / 255;
  return out;
}

/** The ROI heatmap over the step's predicted image, with the brushed region outlined; drag to brush, Shift-drag to erase. */
function HeatmapBrush({
  view,
  under,
  region,
  onRegion,
}: {
  view: ExplainView;
  under?: RgbaImage;
  region: number[];
  onRegion: (r: number[]) => void;
}) {
  const drag = useRef<null | 0 | 1>(null);
  const size = 256;
  const [cursor, setCursor] = useState(0);
  const [focused, setFocused] = useState(false);
  const ref = usePaintedCanvas(
    (canvas) => {
      const W = under?.width ?? view.width * 4,
        H = under?.height ?? view.height * 4;
      let lo = Infinity,
        hi = -Infinity;
      for (const v of view.heat) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      const img = rgbaOf(heatToRgb(view.heat, view.height, view.width, H, W, lo, hi, under ? rgbOf(under) : undefined), W, H);
      canvas.width = W;
      canvas.height = H;
      const g = canvas.getContext('2d')!;
      g.putImageData(new ImageData(img.pixels as Uint8ClampedArray<ArrayBuffer>, W, H), 0, 0);
      g.strokeStyle = '#00e5ff';
      g.lineWidth = 1;
      const fy = H / view.height,
        fx = W / view.width;
      region.forEach((on, i) => {
        if (on) g.strokeRect((i % view.width) * fx + 0.5, Math.floor(i / view.width) * fy + 0.5, fx - 1, fy - 1);
      });
      if (focused) {
        g.strokeStyle = '#fff';
        g.strokeRect((cursor % view.width) * fx + 0.5, Math.floor(cursor / view.width) * fy + 0.5, fx - 1, fy - 1);
      }
    },
    [view, under, region, cursor, focused],
  );
  const cell = (e: React.PointerEvent<HTMLCanvasElement>): number => {
    const r = e.currentTarget.getBoundingClientRect();
    const x = Math.min(view.width - 1, Math.floor(((e.clientX - r.left) / r.width) * view.width));
    const y = Math.min(view.height - 1, Math.floor(((e.clientY - r.top) / r.height) * view.height));
    return y * view.width + x;
  };
  const paint = (e: React.PointerEvent<HTMLCanvasElement>) => {
    if (drag.current === null) return;
    const i = cell(e);
    if (region[i] === drag.current) return;
    const next = region.length === view.height * view.width ? [...region] : new Array<number>(view.height * view.width).fill(0);
    next[i] = drag.current;
    onRegion(next);
  };
  // Keyboard: arrows move the cursor cell (outlined in white), Space / Enter toggles it in the region.
  const onKey = (e: React.KeyboardEvent<HTMLCanvasElement>) => {
    const { width: w, height: h } = view;
    const moves: Record<string, number> = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -w, ArrowDown: w };
    if (e.key in moves) {
      e.preventDefault();
      const d = moves[e.key],
        x = cursor % w;
      if ((d === -1 && x === 0) || (d === 1 && x === w - 1)) return;
      setCursor(Math.min(w * h - 1, Math.max(0, cursor + d)));
    } else if (e.key === ' ' || e.key === 'Enter') {
      e.preventDefault();
      const next = region.length === w * h ? [...region] : new Array<number>(w * h).fill(0);
      next[cursor] = next[cursor] ? 0 : 1;
      onRegion(next);
    }
  };
  return (
    <canvas
      ref={ref}
      tabIndex={0}
      onKeyDown={onKey}
      onFocus={() => setFocused(true)}
      onBlur={() => setFocused(false)}
      className="pixels"
      role="img"
      data-testid="explain-heatmap"
      style={{ width: size, height: size, cursor: 'crosshair', touchAction: 'none' }}
      aria-label={`Heatmap of the cross-attention reaching ${view.roi ?? "the mappers' constant part"} at step t = ${view.t}; drag to brush a region, or use the arrow keys and Space`}
      onPointerDown={(e) => {
        drag.current = e.shiftKey ? 0 : 1;
        e.currentTarget.setPointerCapture(e.pointerId);
        paint(e);
      }}
      onPointerMove={paint}
      onPointerUp={() => {
        drag.current = null;
      }}
    />
  );
}

/** Voxels in file order, one column per voxel group, coloured by ROI and as bright as their importance. */
function VoxelImportance({ view }: { view: ExplainView }) {
  const ref = usePaintedCanvas(
    (canvas) => {
      const W = 512,
        H = 48,
        n = view.importance.length;
      canvas.width = W;
      canvas.height = H;
      const g = canvas.getContext('2d')!;
      g.fillStyle = '#fff';
      g.fillRect(0, 0, W, H);
      const cols = new Float64Array(W),
        roi = new Int16Array(W).fill(-1);
      for (let v = 0; v < n; v++) {
        const x = Math.floor((v / n) * W);
        cols[x] += view.importance[v];
        if (roi[x] === -1) roi[x] = view.roiOf[v];
      }
      const max = Math.max(...cols, 1e-12);
      for (let x = 0; x < W; x++) {
        const h = (cols[x] / max) * (H - 6);
        g.fillStyle = roi[x] >= 0 ? ROI_COLOURS[roi[x] % ROI_COLOURS.length] : '#bbb';
        g.fillRect(x, H - h, 1, h);
        g.fillRect(x, 0, 1, 3);
      }
    },
    [view],
  );
  return (
    <canvas
      ref={ref}
      className="pixels"
      data-testid="explain-voxels"
      style={{ width: '100%', height: 64 }}
      role="img"
      aria-label="Voxel importance for the brushed region, voxels in file order, coloured by ROI"
    />
  );
}

/**
 * A slice of the voxels with coordinates at one value of the third coordinate: each voxel a cell coloured by its
 * importance (same colormap as the heatmap, scaled to the largest voxel of the whole volume), its ROI as a dot.
 * GOD's voxel_xyz: MNI mm, axial (z), x to the right and y (anterior) upwards, 3 mm cells. A NIfTI / mask grid:
 * voxel indices (i, j, k), slices of k, i to the right and j upwards (axial for the usual RAS/LAS storage; the
 * affine is not applied, so left/right follow the file's storage order).
 */
function BrainSlice({ view }: { view: ExplainView & { coords: VoxelCoords } }) {
  const id = useId();
  const { xyz: c, step, space } = view.coords;
  const n = view.importance.length;
  const zs = [...new Set(Array.from({ length: n }, (_, v) => c[v * 3 + 2]))].sort((a, b) => a - b);
  const [zIndex, setZIndex] = useState(() => Math.floor(zs.length / 2));
  const z = zs[Math.min(zIndex, zs.length - 1)];
  const ref = usePaintedCanvas(
    (canvas) => {
      let x0 = Infinity,
        x1 = -Infinity,
        y0 = Infinity,
        y1 = -Infinity,
        max = 0;
      for (let v = 0; v < n; v++) {
        x0 = Math.min(x0, c[v * 3]);
        x1 = Math.max(x1, c[v * 3]);
        y0 = Math.min(y0, c[v * 3 + 1]);
        y1 = Math.max(y1, c[v * 3 + 1]);
        max = Math.max(max, view.importance[v]);
      }
      const cell = 6,
        W = Math.round((x1 - x0) / step + 1) * cell,
        H = Math.round((y1 - y0) / step + 1) * cell;
      canvas.width = W;
      canvas.height = H;
      const g = canvas.getContext('2d')!;
      g.fillStyle = '#111';
      g.fillRect(0, 0, W, H);
      for (let v = 0; v < n; v++) {
        if (c[v * 3 + 2] !== z) continue;
        // Radiological habit aside: x grows to the right, y upwards.
        const px = Math.round((c[v * 3] - x0) / step) * cell,
          py = H - cell - Math.round((c[v * 3 + 1] - y0) / step) * cell;
        const [r, gg, b] = inferno(max > 0 ? view.importance[v] / max : 0);
        g.fillStyle = `rgb(${r * 255},${gg * 255},${b * 255})`;
        g.fillRect(px, py, cell, cell);
        if (view.roiOf[v] >= 0) {
          g.fillStyle = ROI_COLOURS[view.roiOf[v] % ROI_COLOURS.length];
          g.fillRect(px + cell / 2 - 1, py + cell / 2 - 1, 2, 2);
        }
      }
    },
    [view, z, c, n, step],
  );
  const where = space === 'mm' ? `Axial slice z = ${z} mm (MNI)` : `Slice k = ${z} of the ${view.coords.dims?.join('×') ?? ''} grid`;
  return (
    <div>
      <label htmlFor={id} className="small">
        {where}{' '}
      </label>
      <input
        id={id}
        type="range"
        min={0}
        max={zs.length - 1}
        value={zIndex}
        onChange={(e) => setZIndex(Number(e.target.value))}
        data-testid="explain-slice-z"
      />
      <br />
      <canvas
        ref={ref}
        className="pixels"
        data-testid="explain-slice"
        style={{ height: 220 }}
        role="img"
        aria-label={`Voxel importance on the slice ${space === 'mm' ? `z = ${z} mm` : `k = ${z} (voxel index)`}, dots coloured by ROI`}
      />
    </div>
  );
}

export function ExplainPanel() {
  const run = useStudio((s) => s.run);
  const position = useStudio((s) => s.position);
  const preview = useStudio((s) => previewShown(s));
  const fileInfo = useStudio((s) => s.file.info);
  const sampleCount = useStudio((s) => fileInfo?.splits.find((x) => x.name === s.run.sample?.split)?.count ?? 0);
  const synthetic = useStudio((s) => s.model.info?.syntheticLabel ?? s.file.info?.syntheticLabel);
  const [on, setOn] = useState(false);
  const [roi, setRoi] = useState<string | undefined>();
  const [sample, setSample] = useState(0);
  const [region, setRegion] = useState<number[]>([]);
  const [view, setView] = useState<ExplainView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // The counterfactual form and result live in the store: a dropped receipt restores and decodes them.
  const form = useStudio((s) => s.cf.form);
  const { kind, roi: editRoi, fill, value, other, alpha, seed } = form;
  const setForm = (patch: Partial<CounterfactualForm>) => dispatch({ type: 'cfForm', patch });
  const cf = useStudio((s) => counterfactualShown(s));
  const cfError = useStudio((s) => (s.cf.status === 'error' && s.cf.runId === s.run.id ? s.cf.error : undefined));
  const cfBusy = useStudio((s) => s.cf.status === 'busy');
  const ids = {
    on: useId(),
    roi: useId(),
    kind: useId(),
    eroi: useId(),
    fill: useId(),
    value: useId(),
    other: useId(),
    alpha: useId(),
    seed: useId(),
  };
  const hasRun = run.steps.length > 0 && run.id !== undefined;

  useEffect(() => {
    if (!on || !hasRun) return;
    let live = true;
    setBusy(true);
    explainEngine()
      .call('explain', { position, sample, ...(roi ? { roi } : {}), ...(region.some((x) => x) ? { region } : {}) })
      .then(
        (v) => {
          if (live) {
            setView(v);
            setError(null);
          }
        },
        (e: unknown) => {
          if (live) setError(asEngineError(e).message);
        },
      )
      .finally(() => {
        if (live) setBusy(false);
      });
    return () => {
      live = false;
    };
  }, [on, hasRun, run.id, run.steps.length, position, roi, region, sample]);

  useEffect(() => {
    setRegion([]);
  }, [run.id]);
  const roiNames = view?.roiNames ?? fileInfo?.roiNames ?? [];
  const n = run.settings?.numSamples ?? 1;

  return (
    <section className="panel explain" aria-labelledby="explain-h" data-testid="explain-panel">
      <h2 id="explain-h">Explain</h2>
      {synthetic ? (
        <p className="muted small">{synthetic}: maps and counterfactuals describe the model on simulated data, not a brain.</p>
      ) : null}
      <label htmlFor={ids.on}>
        <input id={ids.on} type="checkbox" checked={on} onChange={(e) => setOn(e.target.checked)} data-testid="explain-toggle" /> Show
        attention maps for the timeline position (one extra UNet call per position shown)
      </label>
      {!hasRun ? <p className="muted">Run the sampler; then the maps follow the timeline.</p> : null}
      {on && hasRun ? (
        <div className="explain-maps">
          <div className="row" style={ROW}>
            <label htmlFor={ids.roi}>ROI </label>
            <select id={ids.roi} value={roi ?? view?.roi ?? ''} onChange={(e) => setRoi(e.target.value)} data-testid="explain-roi">
              {roiNames.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
            {n > 1 ? (
              <label>
                {' '}
                sample{' '}
                <select value={sample} onChange={(e) => setSample(Number(e.target.value))}>
                  {Array.from({ length: n }, (_, i) => (
                    <option key={i} value={i}>
                      {i + 1}
                    </option>
                  ))}
                </select>
              </label>
            ) : null}
            <button type="button" onClick={() => setRegion([])} disabled={!region.some((x) => x)}>
              Whole image
            </button>
            {busy ? (
              <span className="muted small" role="status">
                {' '}
                computing…
              </span>
            ) : null}
          </div>
          {error ? (
            <div className="banner error" role="alert" data-testid="explain-error">
              {error}
            </div>
          ) : null}
          {view ? (
            <>
              <div className="row" style={ROW}>
                <HeatmapBrush view={view} under={preview?.x0[sample]} region={region} onRegion={setRegion} />
                <div>
                  <p className="small">
                    Step t = {view.t} (position {view.position}); {view.layers} attn2 layers averaged over heads at {view.height}×
                    {view.width}. Bright = more of that position's cross-attention reaches {view.roi ?? 'the constant part'} (stretched to
                    this map's range).
                  </p>
                  <table className="small" data-testid="explain-mass">
                    <thead>
                      <tr>
                        <th>ROI</th>
                        <th>attention mass</th>
                        <th>per voxel (1 = size)</th>
                        <th>region importance</th>
                      </tr>
                    </thead>
                    <tbody>
                      {Object.keys(view.mass).map((r) => (
                        <tr key={r}>
                          <td>{r}</td>
                          <td>{view.mass[r].toFixed(3)}</td>
                          <td>{view.perVoxel[r].toFixed(2)}</td>
                          <td>{view.roiImportance[r].toFixed(3)}</td>
                        </tr>
                      ))}
                      <tr>
                        <td>constant (no voxel)</td>
                        <td>{view.bias.toFixed(3)}</td>
                        <td />
                        <td />
                      </tr>
                    </tbody>
                  </table>
                </div>
              </div>
              <p className="small">
                Voxel importance for {region.some((x) => x) ? 'the brushed region' : 'the whole image'} (drag on the map to brush,
                Shift-drag to erase; or focus it, arrows and Space):
              </p>
              <VoxelImportance view={view} />
              {view.coords ? (
                <BrainSlice view={view as ExplainView & { coords: VoxelCoords }} />
              ) : (
                <p className="muted small">
                  No voxel coordinates in this file (no NIfTI grid or voxel_xyz): no brain slice (voxels are shown in file order).
                </p>
              )}
              <p className="small legend">
                {['V1', 'V2', 'V3', 'HVC']
                  .filter((r) => view.roiNames.includes(r))
                  .map((r, k) => (
                    <span key={r} style={{ color: ROI_COLOURS[k] }}>
                      ■ {r}{' '}
                    </span>
                  ))}
              </p>
            </>
          ) : null}
        </div>
      ) : null}

      <h3>Counterfactual decoding (same seed and settings)</h3>
      <div className="row" style={ROW}>
        <label htmlFor={ids.kind}>Edit </label>
        <select id={ids.kind} value={kind} onChange={(e) => setForm({ kind: e.target.value as EditKind })} data-testid="cf-kind">
          <option value="lesion">lesion an ROI</option>
          <option value="roi-only">ROI-only input</option>
          <option value="control-shuffle">shuffled control</option>
          <option value="control-mean">all-mean control</option>
          <option value="trial">another trial</option>
          <option value="interpolate">interpolate to another trial</option>
        </select>
        {kind === 'lesion' || kind === 'roi-only' ? (
          <>
            <label htmlFor={ids.eroi}> ROI </label>
            <select id={ids.eroi} value={editRoi} onChange={(e) => setForm({ roi: e.target.value })} data-testid="cf-roi">
              {(fileInfo?.roiNames ?? []).map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </>
        ) : null}
        {kind === 'lesion' ? (
          <>
            <label htmlFor={ids.fill}> fill </label>
            <select id={ids.fill} value={fill} onChange={(e) => setForm({ fill: e.target.value as LesionFill })} data-testid="cf-fill">
              <option value="mean">training mean</option>
              <option value="zero">zero</option>
              <option value="shuffle">shuffled</option>
            </select>
          </>
        ) : null}
        {kind === 'roi-only' ? (
          <>
            <label htmlFor={ids.value}> value </label>
            <input
              id={ids.value}
              type="number"
              step="0.5"
              value={value}
              onChange={(e) => setForm({ value: Number(e.target.value) })}
              style={{ width: 64 }}
            />
          </>
        ) : null}
        {(kind === 'lesion' && fill === 'shuffle') || kind === 'control-shuffle' ? (
          <>
            <label htmlFor={ids.seed}> shuffle seed </label>
            <input
              id={ids.seed}
              type="number"
              min={0}
              step={1}
              value={seed}
              onChange={(e) => setForm({ seed: Number(e.target.value) })}
              style={{ width: 64 }}
              data-testid="cf-seed"
            />
          </>
        ) : null}
        {kind === 'trial' || kind === 'interpolate' ? (
          <>
            <label htmlFor={ids.other}> other sample </label>
            <input
              id={ids.other}
              type="number"
              min={0}
              max={Math.max(0, sampleCount - 1)}
              value={other}
              onChange={(e) => setForm({ other: Number(e.target.value) })}
              style={{ width: 64 }}
              data-testid="cf-other"
            />
          </>
        ) : null}
        {kind === 'interpolate' ? (
          <>
            <label htmlFor={ids.alpha}> α = {alpha.toFixed(2)} </label>
            <input
              id={ids.alpha}
              type="range"
              min={0}
              max={1}
              step={0.05}
              value={alpha}
              onChange={(e) => setForm({ alpha: Number(e.target.value) })}
              data-testid="cf-alpha"
              aria-valuetext={`alpha ${alpha.toFixed(2)}: ${(1 - alpha).toFixed(2)} of this trial, ${alpha.toFixed(2)} of sample ${other}`}
            />
          </>
        ) : null}
        <button
          type="button"
          onClick={() => void decodeCounterfactual()}
          disabled={!hasRun || cfBusy || run.status === 'running' || run.status === 'paused'}
          data-testid="cf-run"
        >
          {cfBusy ? 'Decoding…' : 'Decode'}
        </button>
        {cfBusy ? (
          <button type="button" onClick={() => void cancelCounterfactual()} data-testid="cf-cancel">
            Cancel
          </button>
        ) : null}
      </div>
      {!hasRun ? <p className="muted small">Run a decode first; the counterfactual uses its sample, seed and settings.</p> : null}
      {cfError ? (
        <div className="banner error" role="alert" data-testid="cf-error">
          {cfError}
        </div>
      ) : null}
      {cf ? (
        <div data-testid="cf-result">
          <p className="small">
            {cf.description}
            {cf.baselineSource ? ` — training mean: ${cf.baselineSource}` : ''}
          </p>
          <button
            type="button"
            data-testid="cf-receipt"
            onClick={() => {
              const why = downloadCounterfactualReceipt(cf.edit);
              if (why) dispatch({ type: 'notice', notice: { kind: 'error', text: `Receipt of the counterfactual: ${why}` } });
            }}
          >
            Export receipt of this counterfactual (JSON)
          </button>
          <div className="row" style={ROW}>
            {cf.original.map((img, i) => (
              <figure key={`o${i}`}>
                <RgbaCanvas image={img} label={`original sample ${i + 1}`} testId="cf-original" />
                <figcaption className="small">original {i + 1}</figcaption>
              </figure>
            ))}
            {cf.edited.map((img, i) => (
              <figure key={`e${i}`}>
                <RgbaCanvas image={img} label={`${cf.description}, sample ${i + 1}`} testId="cf-edited" />
                <figcaption className="small">
                  {cf.edit.kind} {i + 1}
                </figcaption>
              </figure>
            ))}
          </div>
        </div>
      ) : null}
    </section>
  );
}
