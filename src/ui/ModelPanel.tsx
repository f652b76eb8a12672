// Model: the embedded default, a dropped/picked bundle (folder or zip), a URL; saved bundles; the model card.
import { useId, useState } from 'react';
import { runActive } from '../store/reducer';
import { useStudio } from '../store/studio';
import { cancelLoad, DEFAULT_MODEL_URL, deleteSaved, handleFiles, loadModel } from './controller';
import { HelpTip } from './Help';
import { ErrorBox, formatBytes, formatCount, SyntheticTag } from './widgets';

export function ModelPanel() {
  const model = useStudio((s) => s.model);
  const saved = useStudio((s) => s.saved);
  const [url, setUrl] = useState('');
  const urlId = useId(),
    urlHelpId = useId();
  // Loading replaces the weights the active run samples with: cancel the run first.
  const running = useStudio((s) => runActive(s.run));
  const loading = model.status === 'busy';
  const busy = loading || running;
  const p = model.progress;
  const info = model.info;
  return (
    <section className="panel" aria-labelledby="model-h">
      <h2 id="model-h">
        Model <HelpTip id="bundle" />
      </h2>
      <p className="status" data-testid="model-status">
        {loading ? (
          `Loading ${model.label ?? ''}…`
        ) : info ? (
          <>
            Ready: <strong>{info.label}</strong>
          </>
        ) : model.status === 'error' ? (
          'Not loaded'
        ) : (
          'No model'
        )}
      </p>
      {running ? <p className="muted small">Cancel the run to load another model.</p> : null}
      {loading && p ? (
        <div className="progress-row">
          <progress max={p.total || 1} value={p.done} aria-label="Model download progress" data-testid="model-progress" />
          <span className="mono">
            {formatBytes(p.done)}
            {p.total ? ` / ${formatBytes(p.total)}` : ''}
          </span>
          <button type="button" onClick={cancelLoad}>
            Cancel
          </button>
        </div>
      ) : null}
      <ErrorBox error={model.error} testId="model-error" />
      <div className="button-row">
        <button
          type="button"
          disabled={busy}
          onClick={() =>
            void loadModel({ kind: 'url', base: new URL(DEFAULT_MODEL_URL, location.href).href, label: 'Embedded default' }, false)
          }
        >
          Embedded default
        </button>
        <label className="button">
          Bundle folder…
          <input
            type="file"
            className="visually-hidden"
            disabled={busy}
            {...{ webkitdirectory: '', directory: '' }}
            onChange={(e) => {
              const files = Array.from(e.target.files ?? []).map((f) => ({ path: f.webkitRelativePath || f.name, file: f }));
              e.target.value = '';
              void handleFiles(files);
            }}
          />
        </label>
        <label className="button">
          Bundle .zip…
          <input
            type="file"
            accept=".zip"
            className="visually-hidden"
            disabled={busy}
            onChange={(e) => {
              const f = e.target.files?.[0];
              e.target.value = '';
              if (f) void handleFiles([{ path: f.name, file: f }]);
            }}
          />
        </label>
      </div>
      <form
        className="url-row"
        onSubmit={(e) => {
          e.preventDefault();
          if (url) void loadModel({ kind: 'url', base: url, label: url }, true);
        }}
      >
        <label htmlFor={urlId}>Bundle URL</label>
        <input
          id={urlId}
          type="url"
          placeholder="https://…/bundle/"
          value={url}
          aria-describedby={urlHelpId}
          onChange={(e) => setUrl(e.target.value)}
        />
        <button type="submit" disabled={busy || !url}>
          Load
        </button>
      </form>
      <p id={urlHelpId} className="muted small" data-testid="url-help">
        Another host must serve the bundle over https with CORS (Access-Control-Allow-Origin) and Cross-Origin-Resource-Policy: cross-origin
        headers, or the browser blocks the download.
      </p>
      {saved.length ? (
        <div>
          <h3>Saved in this browser</h3>
          <ul className="saved" data-testid="saved-models">
            {saved.map((m) => (
              <li key={m.id}>
                <span>
                  {m.label} <span className="muted">{formatBytes(m.bytes)}</span>
                </span>
                <span>
                  <button type="button" disabled={busy} onClick={() => void loadModel({ kind: 'saved', id: m.id }, false)}>
                    Load
                  </button>
                  <button type="button" onClick={() => void deleteSaved(m.id)} aria-label={`Delete ${m.label}`}>
                    Delete
                  </button>
                </span>
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      {info ? (
        <details className="card" open data-testid="model-card">
          <summary>
            Model card: {info.config.name} <SyntheticTag text={info.syntheticLabel} />
          </summary>
          {info.config.description ? <p className="muted">{info.config.description}</p> : null}
          <table>
            <tbody>
              {Object.entries(info.card.params)
                .filter(([k, v]) => v > 0 || k === 'total')
                .map(([k, v]) => (
                  <tr key={k}>
                    <th scope="row">{k === 'total' ? 'parameters (total)' : k}</th>
                    <td>{formatCount(v)}</td>
                  </tr>
                ))}
              <tr>
                <th scope="row">precision (stored)</th>
                <td>{info.card.dtype}</td>
              </tr>
              <tr>
                <th scope="row">bundle size</th>
                <td>{formatBytes(info.card.bytes)}</td>
              </tr>
              <tr>
                <th scope="row">weights on device</th>
                <td data-testid="model-device-bytes">
                  {formatBytes(info.memoryBytes)}{' '}
                  {info.packedF16
                    ? `(float32; ${info.packedF16.tensors} large matrices packed as f16, ${formatBytes(info.packedF16.bytesSaved)} saved)`
                    : '(float32)'}
                </td>
              </tr>
              <tr>
                <th scope="row">fMRI voxels</th>
                <td>
                  {info.config.preprocess.rawVoxels ??
                    `${info.config.encoder.numVoxels - info.config.encoder.patchSize}–${info.config.encoder.numVoxels}`}{' '}
                  → {info.config.encoder.numVoxels} ({info.config.preprocess.roi ?? 'any ROI'})
                </td>
              </tr>
              <tr>
                <th scope="row">latent</th>
                <td>
                  {info.config.vq.embedDim}×{info.config.unet.imageSize}×{info.config.unet.imageSize} → image {info.config.vq.resolution}²
                </td>
              </tr>
              <tr>
                <th scope="row">sha256</th>
                <td className="mono small">{info.sha256}</td>
              </tr>
            </tbody>
          </table>
        </details>
      ) : null}
    </section>
  );
}
