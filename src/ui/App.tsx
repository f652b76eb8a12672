// The studio page: header with backend status, banners, the four panels, and a page-wide drop zone.
import { useEffect, useState } from 'react';
import { dispatch, useStudio } from '../store/studio';
import { runActive } from '../store/reducer';
import type { BackendOverride } from '../engine/backendChoice';
import { backendLabel } from '../engine/backendChoice';
import { backendOverride, handleFiles, setBackendOverride } from './controller';
import { HelpPanel, HelpTip, type HelpPage } from './Help';
import { DataPanel } from './DataPanel';
import { ExplainPanel } from './ExplainPanel';
import { filesFromDataTransfer } from './dropzone';
import { ModelPanel } from './ModelPanel';
import { RunPanel } from './RunPanel';
import { Viewer } from './Viewer';
import { ErrorBox } from './widgets';

function useDropZone(): boolean {
  const [over, setOver] = useState(false);
  useEffect(() => {
    let depth = 0;
    const hasFiles = (e: DragEvent) => Array.from(e.dataTransfer?.types ?? []).includes('Files');
    const enter = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth++;
      setOver(true);
    };
    const leave = () => {
      depth = Math.max(0, depth - 1);
      if (depth === 0) setOver(false);
    };
    const overFn = (e: DragEvent) => {
      if (hasFiles(e)) {
        e.preventDefault();
        e.dataTransfer!.dropEffect = 'copy';
      }
    };
    const drop = (e: DragEvent) => {
      e.preventDefault();
      depth = 0;
      setOver(false);
      if (e.dataTransfer) void filesFromDataTransfer(e.dataTransfer).then(handleFiles);
    };
    window.addEventListener('dragenter', enter);
    window.addEventListener('dragleave', leave);
    window.addEventListener('dragover', overFn);
    window.addEventListener('drop', drop);
    return () => {
      window.removeEventListener('dragenter', enter);
      window.removeEventListener('dragleave', leave);
      window.removeEventListener('dragover', overFn);
      window.removeEventListener('drop', drop);
    };
  }, []);
  return over;
}

/** The backend that runs, how it was chosen and why, and the user's override (persisted). */
function BackendStatus() {
  const backend = useStudio((s) => s.backend);
  const busy = useStudio((s) => s.model.status === 'busy' || runActive(s.run));
  const [override, setOverride] = useState<BackendOverride>(backendOverride);
  const info = backend.info;
  const threads = info?.backend === 'wasm' && info.threads ? ` (${info.threads} thread${info.threads === 1 ? '' : 's'})` : '';
  return (
    <div className="backend" aria-live="polite">
      <div>
        <span className="muted">backend</span>{' '}
        <strong data-testid="backend" title={info ? backendLabel(info.backend) + threads : undefined}>
          {info?.backend ?? (backend.status === 'error' ? 'none' : '…')}
        </strong>
        {threads ? <span className="muted small">{threads}</span> : null}
        {info?.adapter && info.backend === 'webgpu' ? (
          <>
            {' '}
            <span className="muted">adapter</span>{' '}
            <strong data-testid="adapter">
              {info.adapter.vendor}/{info.adapter.architecture}
            </strong>
          </>
        ) : null}{' '}
        <HelpTip id="backend" />
      </div>
      <label className="small">
        Run on{' '}
        <select
          data-testid="backend-override"
          value={override}
          disabled={busy}
          onChange={(e) => {
            const v = e.target.value as BackendOverride;
            setOverride(v);
            void setBackendOverride(v);
          }}
        >
          <option value="auto">the faster, by measurement</option>
          <option value="webgpu">WebGPU</option>
          <option value="wasm">WebAssembly</option>
        </select>
      </label>
      {info?.choice ? (
        <div className="small reason" data-testid="backend-reason">
          {info.choice.reason}
        </div>
      ) : null}
      {info?.backend === 'wasm' && info.threadsNote ? (
        <div className="muted small" data-testid="wasm-threads">
          WebAssembly: {info.threadsNote}
        </div>
      ) : null}
      <div className="muted small">
        {typeof crossOriginIsolated !== 'undefined' && crossOriginIsolated ? 'cross-origin isolated' : 'not isolated'} · no data leaves this
        page
      </div>
    </div>
  );
}

export function App() {
  const backend = useStudio((s) => s.backend);
  const notice = useStudio((s) => s.notice);
  const over = useDropZone();
  const [page, setPage] = useState<HelpPage | null>(null);
  const info = backend.info;
  // WebGPU not usable at all (missing, no adapter, lost): say so. A measured choice of WebAssembly is no fallback.
  const noWebGpu = info && info.backend !== 'webgpu' && (info.choice ? info.choice.how === 'only' : !!info.fallbackReason);
  return (
    <>
      <header className="top">
        <div>
          <h1>Decoding Studio</h1>
          <p className="subtitle">fMRI → image reconstruction (Contrast, Attend and Diffuse), running entirely in this browser.</p>
          <div className="button-row">
            <button
              type="button"
              data-testid="open-help"
              aria-expanded={page === 'help'}
              onClick={() => setPage(page === 'help' ? null : 'help')}
            >
              Help: terms and controls
            </button>
            <button
              type="button"
              data-testid="open-real-data"
              aria-expanded={page === 'real-data'}
              onClick={() => setPage(page === 'real-data' ? null : 'real-data')}
            >
              Real data and checkpoints
            </button>
          </div>
        </div>
        <BackendStatus />
      </header>
      {page ? <HelpPanel page={page} onPage={setPage} onClose={() => setPage(null)} /> : null}
      {noWebGpu ? (
        <div className="banner warning" role="alert" data-testid="fallback-banner">
          WebGPU unavailable: running on {info.backend === 'wasm' ? 'WebAssembly' : 'the CPU'}.
          {info.fallbackReason && !info.choice ? <span className="small"> {info.fallbackReason}</span> : null}
          {info.choice ? <span className="small"> {info.choice.reason}</span> : null}
        </div>
      ) : null}
      {backend.deviceLost ? (
        <div className="banner error" role="alert" data-testid="device-lost">
          {backend.deviceLost}
          {/continues on/.test(backend.deviceLost)
            ? ''
            : `; the studio continues on ${info ? backendLabel(info.backend) : 'another backend'}`}
          . The model panel shows whether the model could be reloaded.
        </div>
      ) : null}
      <ErrorBox error={backend.error} />
      {notice ? (
        <div className={`banner ${notice.kind}`} role={notice.kind === 'info' ? 'status' : 'alert'} data-testid="notice">
          {notice.text}
          <button type="button" className="link" onClick={() => dispatch({ type: 'notice' })} aria-label="Dismiss message">
            ×
          </button>
        </div>
      ) : null}
      <main className="layout">
        <div className="column">
          <ModelPanel />
          <DataPanel />
        </div>
        <div className="column wide">
          <RunPanel />
          <Viewer />
          <ExplainPanel />
        </div>
      </main>
      {over ? (
        <div className="drop-overlay" aria-hidden="true">
          <div>Drop an fMRI file, a model bundle (folder or .zip) or a decode receipt</div>
        </div>
      ) : null}
    </>
  );
}
