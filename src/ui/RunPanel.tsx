// Sampler settings and run controls.
import { useEffect, useId, useState } from 'react';
import type { SamplingDefaults } from '../model/config';
import { runStatusLine } from '../store/reducer';
import { DEFAULT_NUM_TIMESTEPS, DEFAULTS_REASON, MAX_GUIDANCE, MAX_SAMPLES, MAX_SEED, parseStepsField, stepPlan } from '../engine/settings';
import { dispatch, useStudio } from '../store/studio';
import { cancelRun, pause, resume, runDecode, stepOnce } from './controller';
import { HelpTip } from './Help';

export function RunPanel() {
  const settings = useStudio((s) => s.settings);
  const run = useStudio((s) => s.run);
  // Two string selectors: a selector returning a fresh object would re-render forever.
  const status = { tone: useStudio((s) => runStatusLine(s).tone), text: useStudio((s) => runStatusLine(s).text) };
  const ready = useStudio(
    (s) => s.backend.status === 'ready' && s.model.status === 'ready' && s.sample.status === 'ready' && !s.sample.info?.preprocessError,
  );
  const backend = useStudio((s) => s.backend.info);
  const caps = useStudio((s) => s.model.info?.capabilities);
  const modelDefaults = useStudio((s) => s.model.info?.config.sampling);
  // The step bound is the loaded model's schedule length.
  const numTimesteps = useStudio((s) => s.model.info?.config.schedule.numTimesteps) ?? DEFAULT_NUM_TIMESTEPS;
  const ids = {
    sampler: useId(),
    steps: useId(),
    stepsHelp: useId(),
    eta: useId(),
    seed: useId(),
    samples: useId(),
    init: useId(),
    initHelp: useId(),
    strength: useId(),
    strengthHelp: useId(),
    guidance: useId(),
    guidanceHelp: useId(),
  };
  // Before a model is loaded nothing is known to be missing; the worker refuses what the model cannot do anyway.
  const noLowLevel = !!caps && !caps.lowLevel;
  const noNull = !!caps && !caps.nullContext;
  const active = run.status === 'running' || run.status === 'paused';
  const set = (patch: Partial<typeof settings>) => dispatch({ type: 'settings', patch });
  // The steps field keeps what the user typed: a value that cannot run is refused here, in words, and never
  // reaches the store (no rounding, no clamping). A change from elsewhere (model defaults, a receipt) replaces it.
  const [stepsText, setStepsText] = useState(String(settings.steps));
  useEffect(() => {
    setStepsText((text) => (parseStepsField(text, numTimesteps).steps === settings.steps ? text : String(settings.steps)));
  }, [settings.steps, numTimesteps]);
  const stepsField = parseStepsField(stepsText, numTimesteps);
  const stepsError = stepsField.problem;
  const plan = stepsField.steps !== undefined ? stepPlan(stepsField.steps, numTimesteps, settings) : undefined;
  const canRun = ready && !active && !stepsError;
  const ms = run.steps.map((s) => s.ms);
  // The first step includes shader compilation: report it apart from the steady state.
  const steady = ms.length > 1 ? ms.slice(1).reduce((a, b) => a + b, 0) / (ms.length - 1) : undefined;
  return (
    <section className="panel" aria-labelledby="run-h">
      <h2 id="run-h">Decode</h2>
      <form
        className="settings"
        onSubmit={(e) => {
          e.preventDefault();
          if (canRun) void runDecode();
        }}
      >
        <div className="field">
          <label htmlFor={ids.sampler}>Sampler</label>
          <HelpTip id="sampler" />
          <select
            id={ids.sampler}
            value={settings.sampler}
            disabled={active}
            onChange={(e) => set({ sampler: e.target.value as 'plms' | 'ddim' })}
          >
            <option value="plms">PLMS (paper)</option>
            <option value="ddim">DDIM</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.steps}>Steps</label>
          <HelpTip id="steps" />
          <input
            id={ids.steps}
            type="number"
            min={1}
            max={numTimesteps}
            step={1}
            value={stepsText}
            disabled={active}
            aria-invalid={stepsError ? true : undefined}
            aria-describedby={ids.stepsHelp}
            onChange={(e) => {
              setStepsText(e.target.value);
              const r = parseStepsField(e.target.value, numTimesteps);
              if (r.steps !== undefined) set({ steps: r.steps });
            }}
          />
        </div>
        <p
          id={ids.stepsHelp}
          className={`steps-note small ${stepsError ? 'error' : 'muted'}`}
          role={stepsError ? 'alert' : undefined}
          data-testid={stepsError ? 'steps-error' : 'steps-help'}
        >
          {stepsError ?? plan?.note}
        </p>
        <div className="field">
          <label htmlFor={ids.eta}>eta</label>
          <HelpTip id="eta" />
          <input
            id={ids.eta}
            type="number"
            min={0}
            max={1}
            step={0.1}
            value={settings.eta}
            disabled={active || settings.sampler === 'plms'}
            title={settings.sampler === 'plms' ? 'PLMS is deterministic: eta 0' : undefined}
            onChange={(e) => set({ eta: Number(e.target.value) })}
          />
        </div>
        <div className="field">
          <label htmlFor={ids.seed}>Seed</label>
          <HelpTip id="seed" />
          <input
            id={ids.seed}
            type="number"
            min={0}
            max={MAX_SEED}
            value={settings.seed}
            disabled={active}
            onChange={(e) => set({ seed: Number(e.target.value) })}
          />
        </div>
        <div className="field">
          <label htmlFor={ids.samples}>Samples</label>
          <HelpTip id="samples" />
          <input
            id={ids.samples}
            type="number"
            min={1}
            max={MAX_SAMPLES}
            value={settings.numSamples}
            disabled={active}
            onChange={(e) => set({ numSamples: Number(e.target.value) })}
          />
        </div>
        <div className="field">
          <label htmlFor={ids.init}>Start</label>
          <HelpTip id="init" />
          <select
            id={ids.init}
            value={settings.init}
            disabled={active || noLowLevel}
            aria-describedby={ids.initHelp}
            onChange={(e) => set({ init: e.target.value as 'noise' | 'lowlevel' })}
          >
            <option value="noise">noise (x_T)</option>
            <option value="lowlevel">low-level start (img2img)</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.strength}>Strength</label>
          <HelpTip id="strength" />
          <span className="range-field">
            <input
              id={ids.strength}
              type="range"
              min={0.05}
              max={1}
              step={0.05}
              value={settings.strength}
              aria-describedby={ids.strengthHelp}
              aria-valuetext={`strength ${strengthText(settings.strength)}`}
              disabled={active || settings.init !== 'lowlevel'}
              onChange={(e) => set({ strength: Number(e.target.value) })}
            />
            <output htmlFor={ids.strength} data-testid="strength-value">
              {strengthText(settings.strength)}
            </output>
          </span>
        </div>
        <div className="field">
          <label htmlFor={ids.guidance}>Guidance</label>
          <HelpTip id="guidance" />
          <input
            id={ids.guidance}
            type="number"
            min={0}
            max={MAX_GUIDANCE}
            step={0.5}
            value={settings.guidance}
            aria-describedby={ids.guidanceHelp}
            disabled={active || noNull}
            onChange={(e) => set({ guidance: Number(e.target.value) })}
          />
        </div>
        <ul className="help muted small" data-testid="run-help">
          <li id={ids.initHelp} data-testid="init-help">
            <strong>Start</strong>:{' '}
            {noLowLevel
              ? 'this model has no low-level decoder, so sampling starts from noise.'
              : "noise draws x_T; the low-level start encodes the model's fMRI-predicted low-level image (ridge → pixels → first-stage encoder) and denoises from there (timeline frame 0)."}
          </li>
          <li id={ids.strengthHelp}>
            <strong>Strength</strong> (img2img, low-level start only): how much of the schedule is re-run from the fMRI-predicted low-level
            image: the image is noised to t ≈ strength·T and only the remaining steps run; 1 re-runs everything, small values stay close to
            it.
          </li>
          <li id={ids.guidanceHelp} data-testid="guidance-help">
            <strong>Guidance</strong>:{' '}
            {noNull
              ? 'no null context: guidance needs a model trained with conditioning dropout.'
              : 'classifier-free guidance scale g: ε = ε_u + g·(ε_c − ε_u), with ε_u predicted from the null context; 1 = off, larger values follow the fMRI conditioning harder (one batched UNet call per step).'}
          </li>
          <li data-testid="defaults-reason">{DEFAULTS_REASON}</li>
          {modelDefaults ? (
            <li data-testid="model-defaults">
              <strong>Model defaults</strong> (chosen on validation data at training): {describeDefaults(modelDefaults)}
            </li>
          ) : null}
        </ul>
        <div className="button-row controls">
          <button type="submit" className="primary" disabled={!canRun}>
            Run
          </button>
          {run.status === 'paused' ? (
            <button type="button" onClick={() => void resume()}>
              Resume
            </button>
          ) : (
            <button type="button" disabled={run.status !== 'running'} onClick={() => void pause()}>
              Pause
            </button>
          )}
          <button type="button" disabled={run.status !== 'paused'} onClick={() => void stepOnce()}>
            Step
          </button>
          <button type="button" disabled={!active} onClick={() => void cancelRun()}>
            Cancel
          </button>
        </div>
      </form>
      {/* Status line (engine branch): the actual blocker or outcome, from the store's runStatusLine. */}
      <p
        className={`status${status.tone === 'error' ? ' error' : ''}`}
        role={status.tone === 'error' ? 'alert' : 'status'}
        data-testid="run-status"
      >
        {status.text}
      </p>
      <dl className="stats">
        <dt>ms / step</dt>
        <dd data-testid="ms-per-step">
          {ms.length ? `${(steady ?? ms[0]).toFixed(0)}${steady !== undefined ? ` (first ${ms[0].toFixed(0)})` : ''}` : '–'}
        </dd>
        <dt>backend</dt>
        <dd>
          {backend
            ? `${backend.backend}${backend.adapter ? ` · ${backend.adapter.vendor}/${backend.adapter.architecture}${backend.adapter.description ? ` (${backend.adapter.description})` : ''}` : ''}`
            : '–'}
        </dd>
      </dl>
    </section>
  );
}

/** The strength as shown: two decimals, or as given when smaller (a receipt's 0.001 must not read 0.00). */
function strengthText(s: number): string {
  return s >= 0.01 ? s.toFixed(2) : String(s);
}

/** One line for the settings a model's training command chose (config.sampling). */
export function describeDefaults(d: SamplingDefaults): string {
  const start = d.init === 'lowlevel' ? `low-level start, strength ${d.strength}` : 'noise start';
  return `${d.sampler.toUpperCase()} ${d.steps} steps, ${start}, guidance ${d.guidance}`;
}
