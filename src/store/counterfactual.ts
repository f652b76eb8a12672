// The Explain panel's counterfactual decoding in the store (issue 14): the form the panel shows, the decode of the
// shown run's sample with the edit, and a dropped receipt's counterfactual waiting for the receipt's run to finish.
// Pure functions of the state; the reducer (./reducer.ts) applies them, the controller asks the engine.
import type { CounterfactualView, RunSettings, SampleRef } from '../engine/protocol';
import type { DecodeReceipt } from '../engine/receipt';
import { describeEdit, type CounterfactualEdit, type LesionFill } from '../explain/counterfactual';

/** The form's edit kinds: the edits of counterfactual.ts, the two controls apart. */
export type EditKind = 'lesion' | 'roi-only' | 'control-shuffle' | 'control-mean' | 'trial' | 'interpolate';

/** The form's fields; each is kept while the kind changes, so switching back finds it as it was. */
export interface CounterfactualForm {
  kind: EditKind;
  /** ROI of a lesion or of the ROI-only input. */
  roi: string;
  fill: LesionFill;
  /** ROI-only: the ROI's constant (1 = one s.d. of z-scored data). */
  value: number;
  /** Trial / interpolate: the other sample, a row of the shown run's split of the open file. */
  other: number;
  /** Interpolate: (1 − α)·this + α·other, in [0, 1]. */
  alpha: number;
  /** Seed of the permutation of a shuffled lesion or the shuffled control (a replayed receipt's, else 0). */
  seed: number;
}

export const DEFAULT_FORM: CounterfactualForm = { kind: 'lesion', roi: 'V1', fill: 'mean', value: 1, other: 1, alpha: 0.5, seed: 0 };

/**
 * A dropped receipt's counterfactual: decoded beside the run once a run of the receipt's model, file, sample and
 * settings is done (the studio replays a receipt when the user presses Run; the edit follows that run).
 */
export interface CounterfactualReplay {
  edit: CounterfactualEdit;
  modelSha256: string;
  fmriSha256: string;
  sample: SampleRef;
  settings: RunSettings;
}

export interface CounterfactualState {
  form: CounterfactualForm;
  /** 'busy': a decode of `runId`'s sample with an edit is in progress; 'error': the last one failed with `error`. */
  status: 'idle' | 'busy' | 'done' | 'error';
  /** The run the result (or the decode in progress) belongs to; results of another run are dropped. */
  runId?: number;
  /** The last result for `runId` (kept on screen while the next edit decodes or if it fails). */
  view?: CounterfactualView;
  error?: string;
  replay?: CounterfactualReplay;
}

export const initialCounterfactual: CounterfactualState = { form: DEFAULT_FORM, status: 'idle' };

/** No result on screen (the run it belonged to is gone); the form and a waiting replay stay. */
export function idleCounterfactual(cf: CounterfactualState): CounterfactualState {
  return { form: cf.form, status: 'idle', ...(cf.replay ? { replay: cf.replay } : {}) };
}

/** The form showing `edit` (a replayed receipt's); fields the edit does not have stay as they were. */
export function formFromEdit(edit: CounterfactualEdit, base: CounterfactualForm): CounterfactualForm {
  switch (edit.kind) {
    case 'lesion':
      return { ...base, kind: 'lesion', roi: edit.roi, fill: edit.fill, seed: edit.seed };
    case 'roi-only':
      return { ...base, kind: 'roi-only', roi: edit.roi, value: edit.value };
    case 'control':
      return { ...base, kind: edit.fill === 'shuffle' ? 'control-shuffle' : 'control-mean', seed: edit.seed };
    case 'trial':
      return { ...base, kind: 'trial', other: edit.other.sampleIndex };
    case 'interpolate':
      return { ...base, kind: 'interpolate', other: edit.other.sampleIndex, alpha: edit.alpha };
  }
}

/**
 * The edit the form describes. Trial and interpolate name row `form.other` of `split` in the open file `file`
 * (the studio takes the other sample from the file on screen).
 */
export function editFromForm(form: CounterfactualForm, file: { name: string; sha256: string }, split: string): CounterfactualEdit {
  const other = { fileName: file.name, sha256: file.sha256, split, sampleIndex: form.other };
  switch (form.kind) {
    case 'lesion':
      return { kind: 'lesion', roi: form.roi, fill: form.fill, seed: form.seed };
    case 'roi-only':
      return { kind: 'roi-only', roi: form.roi, value: form.value };
    case 'control-shuffle':
      return { kind: 'control', fill: 'shuffle', seed: form.seed };
    case 'control-mean':
      return { kind: 'control', fill: 'mean', seed: form.seed };
    case 'trial':
      return { kind: 'trial', other };
    case 'interpolate':
      return { kind: 'interpolate', other, alpha: form.alpha };
  }
}

const SETTING_KEYS: readonly (keyof RunSettings)[] = ['sampler', 'steps', 'eta', 'seed', 'numSamples', 'init', 'strength', 'guidance'];

/** Whether a run with `settings` of `sample` on the model and file `on` is the run a replay waits for. */
export function replayMatches(
  r: CounterfactualReplay,
  on: { modelSha256?: string; fmriSha256?: string; sample?: SampleRef; settings?: RunSettings },
): boolean {
  const s = on.sample,
    settings = on.settings;
  return (
    r.modelSha256 === on.modelSha256 &&
    r.fmriSha256 === on.fmriSha256 &&
    !!s &&
    s.split === r.sample.split &&
    s.index === r.sample.index &&
    (s.roi ?? '') === (r.sample.roi ?? '') &&
    !!settings &&
    SETTING_KEYS.every((k) => settings[k] === r.settings[k])
  );
}

/**
 * The replay a receipt asks for, or why the studio cannot replay its counterfactual: the studio takes the other
 * sample of a trial / interpolation from the receipt's own file and split, so another file or split is refused
 * (`npm run decode --receipt … --interpolate <file>` replays those).
 */
export function replayOfReceipt(r: DecodeReceipt, settings: RunSettings): { replay?: CounterfactualReplay; problem?: string } {
  const edit = r.counterfactual;
  if (!edit) return {};
  if (
    (edit.kind === 'trial' || edit.kind === 'interpolate') &&
    (edit.other.sha256 !== r.fmri.sha256 || edit.other.split !== r.fmri.split)
  ) {
    return {
      problem:
        `its counterfactual (${describeEdit(edit)}) takes the other sample from ${edit.other.fileName} split '${edit.other.split}', ` +
        `not from ${r.fmri.fileName} split '${r.fmri.split}': the studio takes it from the open file's split, so replay it with ` +
        `npm run decode -- --receipt <receipt> --fmri ${r.fmri.fileName}${edit.kind === 'interpolate' ? ` --interpolate ${edit.other.fileName}` : ''}`,
    };
  }
  const sample: SampleRef = { split: r.fmri.split, index: r.fmri.sampleIndex, ...(r.fmri.roi ? { roi: r.fmri.roi } : {}) };
  return { replay: { edit, modelSha256: r.model.sha256, fmriSha256: r.fmri.sha256, sample, settings } };
}
