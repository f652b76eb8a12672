// Sampler settings and run controls.
import { useId } from 'react';
import { dispatch, useStudio } from '../store/studio';
import { cancelRun, pause, resume, runDecode, stepOnce } from './controller';

export function RunPanel() {
  const settings = useStudio((s) => s.settings);
  const run = useStudio((s) => s.run);
  const ready = useStudio((s) => s.backend.status === 'ready' && s.model.status === 'ready' && s.sample.status === 'ready' && !s.sample.info?.preprocessError);
  const backend = useStudio((s) => s.backend.info);
  const ids = { sampler: useId(), steps: useId(), eta: useId(), seed: useId(), samples: useId() };
  const active = run.status === 'running' || run.status === 'paused';
  const set = (patch: Partial<typeof settings>) => dispatch({ type: 'settings', patch });
  const ms = run.steps.map((s) => s.ms);
  // The first step includes shader compilation: report it apart from the steady state.
  const steady = ms.length > 1 ? ms.slice(1).reduce((a, b) => a + b, 0) / (ms.length - 1) : undefined;
  return (
    <section className="panel" aria-labelledby="run-h">
      <h2 id="run-h">Decode</h2>
      <form className="settings" onSubmit={(e) => { e.preventDefault(); if (ready && !active) void runDecode(); }}>
        <div className="field">
          <label htmlFor={ids.sampler}>Sampler</label>
          <select id={ids.sampler} value={settings.sampler} disabled={active} onChange={(e) => set({ sampler: e.target.value as 'plms' | 'ddim' })}>
            <option value="plms">PLMS (paper)</option>
            <option value="ddim">DDIM</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.steps}>Steps</label>
          <input id={ids.steps} type="number" min={1} max={1000} value={settings.steps} disabled={active} onChange={(e) => set({ steps: Number(e.target.value) })} />
        </div>
        <div className="field">
          <label htmlFor={ids.eta}>eta</label>
          <input id={ids.eta} type="number" min={0} max={1} step={0.1} value={settings.eta} disabled={active || settings.sampler === 'plms'}
            title={settings.sampler === 'plms' ? 'PLMS uses eta 0' : undefined} onChange={(e) => set({ eta: Number(e.target.value) })} />
        </div>
        <div className="field">
          <label htmlFor={ids.seed}>Seed</label>
          <input id={ids.seed} type="number" min={0} value={settings.seed} disabled={active} onChange={(e) => set({ seed: Number(e.target.value) })} />
        </div>
        <div className="field">
          <label htmlFor={ids.samples}>Samples</label>
          <input id={ids.samples} type="number" min={1} max={16} value={settings.numSamples} disabled={active} onChange={(e) => set({ numSamples: Number(e.target.value) })} />
        </div>
        <div className="button-row controls">
          <button type="submit" className="primary" disabled={!ready || active}>Run</button>
          {run.status === 'paused'
            ? <button type="button" onClick={() => void resume()}>Resume</button>
            : <button type="button" disabled={run.status !== 'running'} onClick={() => void pause()}>Pause</button>}
          <button type="button" disabled={run.status !== 'paused'} onClick={() => void stepOnce()}>Step</button>
          <button type="button" disabled={!active} onClick={() => void cancelRun()}>Cancel</button>
        </div>
      </form>
      <p className="status" role="status" data-testid="run-status">
        {run.status === 'idle' ? (ready ? 'Ready to run.' : 'Load a model and choose a sample.') : null}
        {active ? `${run.status === 'paused' ? 'Paused' : 'Running'}: step ${run.steps.length} of ${run.total}` : null}
        {run.status === 'done' ? `Done: ${run.steps.length} steps` : null}
        {run.status === 'cancelled' ? `Cancelled after ${run.steps.length} of ${run.total} steps` : null}
        {run.status === 'error' ? `Stopped: ${run.error?.code}: ${run.error?.message}` : null}
      </p>
      <dl className="stats">
        <dt>ms / step</dt>
        <dd data-testid="ms-per-step">{ms.length ? `${(steady ?? ms[0]).toFixed(0)}${steady !== undefined ? ` (first ${ms[0].toFixed(0)})` : ''}` : '–'}</dd>
        <dt>backend</dt>
        <dd>{backend ? `${backend.backend}${backend.adapter ? ` · ${backend.adapter.vendor}/${backend.adapter.architecture}${backend.adapter.description ? ` (${backend.adapter.description})` : ''}` : ''}` : '–'}</dd>
      </dl>
    </section>
  );
}
