// The studio page: header with backend status, banners, the four panels, and a page-wide drop zone.
import { useEffect, useState } from 'react';
import { dispatch, useStudio } from '../store/studio';
import { handleFiles } from './controller';
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
    const enter = (e: DragEvent) => { if (!hasFiles(e)) return; e.preventDefault(); depth++; setOver(true); };
    const leave = () => { depth = Math.max(0, depth - 1); if (depth === 0) setOver(false); };
    const overFn = (e: DragEvent) => { if (hasFiles(e)) { e.preventDefault(); e.dataTransfer!.dropEffect = 'copy'; } };
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

export function App() {
  const backend = useStudio((s) => s.backend);
  const notice = useStudio((s) => s.notice);
  const over = useDropZone();
  const info = backend.info;
  const fellBack = info && info.backend !== 'webgpu';
  return (
    <>
      <header className="top">
        <div>
          <h1>Decoding Studio</h1>
          <p className="subtitle">fMRI → image reconstruction (Contrast, Attend and Diffuse), running entirely in this browser.</p>
        </div>
        <div className="backend" aria-live="polite">
          <span className="muted">backend</span>{' '}
          <strong data-testid="backend">{info?.backend ?? (backend.status === 'error' ? 'none' : '…')}</strong>
          {info?.adapter ? <> <span className="muted">adapter</span> <strong data-testid="adapter">{info.adapter.vendor}/{info.adapter.architecture}</strong></> : null}
          <div className="muted small">{typeof crossOriginIsolated !== 'undefined' && crossOriginIsolated ? 'cross-origin isolated' : 'not isolated'} · no data leaves this page</div>
        </div>
      </header>
      {fellBack ? (
        <div className="banner warning" role="alert" data-testid="fallback-banner">
          WebGPU unavailable: running on {info.backend === 'wasm' ? 'WebAssembly' : 'the CPU'} (slower).
          {info.fallbackReason ? <span className="small"> {info.fallbackReason}</span> : null}
        </div>
      ) : null}
      {backend.deviceLost ? <div className="banner error" role="alert">{backend.deviceLost}. The studio continues on {info?.backend}; the model panel shows whether the model could be reloaded.</div> : null}
      <ErrorBox error={backend.error} />
      {notice ? (
        <div className={`banner ${notice.kind}`} role={notice.kind === 'info' ? 'status' : 'alert'} data-testid="notice">
          {notice.text}
          <button type="button" className="link" onClick={() => dispatch({ type: 'notice' })} aria-label="Dismiss message">×</button>
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
      {over ? <div className="drop-overlay" aria-hidden="true"><div>Drop an fMRI file, a model bundle (folder or .zip) or a decode receipt</div></div> : null}
    </>
  );
}
