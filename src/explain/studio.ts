// The studio's explanation ops as plain functions of the loaded model, the open file's sample and the
// run's latents (issue 14). The engine worker calls them from one small block; nothing here reads worker
// state, so they can move into the engine class unchanged.
import type { EngineModel } from '../engine/pipeline';
import { decodeLatents, decodeSteps, decodeTimesteps, runToEnd } from '../engine/pipeline';
import type { DecodeOptions } from '../engine/types';
import type { VoxelCoords } from '../io/coords';
import type { FmriFile } from '../io/fmriFile';
import { latentShape } from '../model/config';
import { applyEdit, baselineFromFile, describeEdit, roiMasksForSample, type EditContext } from './counterfactual';
import { regionVoxelImportance, sampleMaps, sampleTokenVoxel } from './roi';
import { startExplainer, type StepExplainer } from './session';
import type { ExplainArgs, ExplainView, CounterfactualArgs, CounterfactualView } from '../engine/protocol';
import { batchToRgba } from '../worker/images';

/** An explainer for one run's fMRI vector, kept while the run is shown (dispose when it is replaced). */
export interface RunExplainer {
  runId: number;
  explainer: StepExplainer;
  voxels: number;
}

export async function runExplainer(
  model: EngineModel,
  file: FmriFile,
  runId: number,
  fmriRaw: Float32Array,
  numSamples: number,
): Promise<RunExplainer> {
  return { runId, explainer: await startExplainer(model, fmriRaw, numSamples, roiMasksForSample(file)), voxels: fmriRaw.length };
}

/**
 * Maps of timeline position `position` (its x_t; the init frame and the final position use the nearest
 * sampler step's input) for sample `sample`: the heatmap of an ROI, the attention mass per ROI, and the
 * voxel importance of a brushed region (all positions when none is given) summed per ROI.
 */
export async function explainPosition(
  model: EngineModel,
  rx: RunExplainer,
  settings: DecodeOptions,
  frames: { xt: Float32Array }[],
  args: ExplainArgs,
  coords?: VoxelCoords,
): Promise<ExplainView> {
  const [ch, h, w] = latentShape(model.config);
  const lowlevel = settings.init === 'lowlevel';
  const timesteps = decodeTimesteps(model.config, settings);
  const last = frames.length - 1;
  if (last < 0) throw new Error('no step to explain yet: run the sampler first');
  const frame = Math.min(Math.max(0, args.position), last);
  const stepIndex = Math.min(timesteps.length - 1, Math.max(0, frame - (lowlevel ? 1 : 0)));
  const per = ch * h * w;
  if (!(args.sample >= 0 && args.sample < settings.numSamples)) throw new RangeError(`sample ${args.sample} does not exist`);
  const xt = frames[frame].xt;
  const s = await rx.explainer.explainStep({ index: stepIndex, t: timesteps[stepIndex], xt: xt.slice(0, per * settings.numSamples) });
  const names = Object.keys(rx.explainer.rois);
  if (args.roi && !names.includes(args.roi))
    throw new Error(`no ROI '${args.roi}' for this sample; ROIs: ${names.join(', ') || 'none (the file carries no masks)'}`);
  const roi = args.roi ?? names.find((n) => n === 'V1') ?? names[0];
  const hw = h * w;
  const heat = roi
    ? s.heat[roi].slice(args.sample * hw, (args.sample + 1) * hw)
    : s.biasHeat.slice(args.sample * hw, (args.sample + 1) * hw);
  const region = args.region && args.region.length === hw && args.region.some((x) => x) ? args.region : new Array<number>(hw).fill(1);
  const a = rx.explainer.attribution;
  const importance = regionVoxelImportance(sampleMaps(s.maps, args.sample), a.tokens, region, sampleTokenVoxel(a, 0), a.voxels);
  const roiImportance = Object.fromEntries(names.map((n) => [n, rx.explainer.rois[n].reduce((acc, v) => acc + importance[v], 0)]));
  return {
    position: frame,
    t: s.t,
    height: h,
    width: w,
    roi: roi ?? null,
    roiNames: names,
    heat,
    biasHeat: s.biasHeat.slice(args.sample * hw, (args.sample + 1) * hw),
    mass: s.mass.mass,
    perVoxel: s.mass.perVoxel,
    bias: s.mass.bias,
    importance,
    roiImportance,
    roiOf: voxelRoiLabels(rx.explainer.rois, a.voxels, ['V1', 'V2', 'V3', 'HVC']),
    layers: s.maps.layers,
    ...(coords && coords.xyz.length === 3 * a.voxels ? { coords } : {}),
  };
}

/** Per voxel, the index (into `order`, else the first mask that has it) of its ROI, −1 for none: the strip plot's colours. */
function voxelRoiLabels(rois: Record<string, number[]>, voxels: number, order: string[]): Int16Array {
  const out = new Int16Array(voxels).fill(-1);
  const names = [...order.filter((n) => rois[n]), ...Object.keys(rois).filter((n) => !order.includes(n))];
  names.forEach((n, k) => {
    for (const v of rois[n]) if (out[v] === -1) out[v] = k;
  });
  return out;
}

/**
 * The original and the edited fMRI decoded on the same seed and settings: final images side by side.
 * Trial and interpolate edits use another sample of the same file (`other.sampleIndex`).
 */
export async function counterfactualPair(
  model: EngineModel,
  file: FmriFile,
  index: number,
  settings: DecodeOptions,
  args: CounterfactualArgs,
  signal?: AbortSignal,
): Promise<CounterfactualView> {
  const original = file.getSample(index);
  const edit = args.edit;
  const ctx: EditContext = { masks: roiMasksForSample(file) };
  if (edit.kind === 'trial' || edit.kind === 'interpolate') ctx.other = file.getSample(edit.other.sampleIndex);
  let baselineSource: string | undefined;
  if ((edit.kind === 'lesion' && edit.fill === 'mean') || edit.kind === 'roi-only' || (edit.kind === 'control' && edit.fill === 'mean')) {
    const b = baselineFromFile(file);
    ctx.baseline = b.values;
    baselineSource = b.source;
  }
  const edited = applyEdit(original, edit, ctx);
  const decode = async (x: Float32Array) =>
    batchToRgba(await decodeLatents(model, await runToEnd(decodeSteps(model, x, settings, signal)), settings.numSamples));
  const originalImages = args.skipOriginal ? [] : await decode(original);
  const editedImages = await decode(edited);
  return {
    edit,
    description: describeEdit(edit),
    original: originalImages,
    edited: editedImages,
    ...(baselineSource ? { baselineSource } : {}),
  };
}
