// `npm run decode` flags of issue 14 (attention maps, counterfactual decoding) and what they do around the
// decode: kept out of decode.ts, which calls prepareExplain() once and the returned run's hooks.
//   --attention-maps                    per-step cross-attention maps and ROI attributions (.npy + PNG) in <out>/attention/
//   --lesion ROI[:zero|mean|shuffle]    decode with the ROI's voxels at 0, the training mean (default) or permuted
//   --roi-only ROI [--roi-value v]      the ROI's voxels at v (default 1), every other voxel at the training mean
//   --control shuffle|mean              the whole vector permuted, or the all-mean input
//   --trial j                           another sample of the same file and split
//   --interpolate <file> [--interpolate-sample k] --alpha a   (1 − a)·this + a·that sample
// With an edit the original is decoded too, on the same seed, and written beside it (original_<i>.png,
// compare_<i>.png); the receipt records the edit, and `decode --receipt` replays it.
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { createHash } from 'node:crypto';
import { UsageError, type FlagSpec, type ParsedArgs } from './args';
import { decodeLatents, decodeSteps, runToEnd, type EngineModel } from '../engine/pipeline';
import type { DecodeOptions, ImageBatch, StepEvent } from '../engine/types';
import type { DecodeReceipt } from '../engine/receipt';
import { readFmriFile, type FmriFile } from '../io/fmriFile';
import { inModelOrder } from '../io/voxelOrder';
import { latentShape } from '../model/config';
import { writeNpy } from '../io/npy';
import { encodePng, toRgb8 } from '../io/png';
import {
  applyEdit,
  baselineFromFile,
  describeEdit,
  LESION_FILLS,
  roiMasksForSample,
  type CounterfactualEdit,
  type EditContext,
  type LesionFill,
} from '../explain/counterfactual';
import { startExplainer, type StepExplainer, type StepExplanation } from '../explain/session';
import { heatRange, heatToRgb, tile } from '../explain/render';

export const EXPLAIN_SPEC: Record<string, FlagSpec> = {
  'attention-maps': {
    type: 'boolean',
    help: 'write per-step cross-attention maps and ROI attributions to <out>/attention/ (.npy, layout in docs/explain.md, and PNG)',
  },
  lesion: {
    type: 'string',
    help: "counterfactual: ROI[:zero|mean|shuffle] sets the ROI's voxels to 0, the training mean (default) or permutes them; the original is decoded beside it",
  },
  'roi-only': { type: 'string', help: "counterfactual: the ROI's voxels at --roi-value, all others at the training mean" },
  'roi-value': {
    type: 'number',
    help: "value of the ROI's voxels for --roi-only (default 1, in the file's units: 1 = one s.d. for z-scored data)",
  },
  control: {
    type: 'string',
    help: 'counterfactual control: shuffle (all voxels permuted) or mean (the all-mean input)',
    choices: ['shuffle', 'mean'],
  },
  trial: { type: 'number', help: 'counterfactual: decode another sample (row) of the same file and split on the same seed' },
  interpolate: { type: 'string', help: 'counterfactual: fMRI file to interpolate towards (may be the same file), with --alpha' },
  'interpolate-sample': { type: 'number', help: 'sample of the --interpolate file (default: the same index as --sample)' },
  alpha: { type: 'number', help: 'interpolation weight a ∈ [0, 1]: (1 − a)·this + a·that' },
  'edit-seed': { type: 'number', help: 'seed of the shuffles of --lesion ROI:shuffle and --control shuffle (default 0)' },
};

const EDIT_FLAGS = ['lesion', 'roi-only', 'control', 'trial', 'interpolate'];

/** What the flags ask for, before any file is read; UsageError for contradictions. */
export interface ExplainFlags {
  attentionMaps: boolean;
  /** The edit without its other sample resolved (trial/interpolate get it in prepareExplain). */
  edit?:
    | { kind: 'lesion'; roi: string; fill: LesionFill; seed: number }
    | { kind: 'roi-only'; roi: string; value: number }
    | { kind: 'control'; fill: 'shuffle' | 'mean'; seed: number }
    | { kind: 'trial'; sample: number }
    | { kind: 'interpolate'; path: string; sample?: number; alpha: number };
}

export function parseExplainFlags(args: ParsedArgs): ExplainFlags {
  const given = EDIT_FLAGS.filter((f) => args[f] !== undefined);
  if (given.length > 1) throw new UsageError(`one counterfactual at a time: got ${given.map((f) => `--${f}`).join(' and ')}`);
  for (const [flag, needs] of [
    ['roi-value', 'roi-only'],
    ['interpolate-sample', 'interpolate'],
    ['alpha', 'interpolate'],
  ] as const) {
    if (args[flag] !== undefined && args[needs] === undefined) throw new UsageError(`--${flag} needs --${needs}`);
  }
  const seed = args['edit-seed'] === undefined ? 0 : Number(args['edit-seed']);
  if (!(Number.isInteger(seed) && seed >= 0 && seed <= 2 ** 32 - 1))
    throw new UsageError(`--edit-seed must be an integer in 0..${2 ** 32 - 1} (got ${seed})`);
  const out: ExplainFlags = { attentionMaps: !!args['attention-maps'] };
  if (args.lesion !== undefined) {
    const [roi, fill = 'mean', ...rest] = String(args.lesion).split(':');
    if (!roi || rest.length || !LESION_FILLS.includes(fill as LesionFill)) {
      throw new UsageError(`--lesion ${String(args.lesion)}: expected ROI[:zero|mean|shuffle], e.g. V1:zero`);
    }
    out.edit = { kind: 'lesion', roi, fill: fill as LesionFill, seed };
  } else if (args['roi-only'] !== undefined) {
    const value = args['roi-value'] === undefined ? 1 : Number(args['roi-value']);
    out.edit = { kind: 'roi-only', roi: String(args['roi-only']), value };
  } else if (args.control !== undefined) {
    out.edit = { kind: 'control', fill: args.control as 'shuffle' | 'mean', seed };
  } else if (args.trial !== undefined) {
    const j = Number(args.trial);
    if (!(Number.isInteger(j) && j >= 0)) throw new UsageError(`--trial must be a sample index ≥ 0 (got ${String(args.trial)})`);
    out.edit = { kind: 'trial', sample: j };
  } else if (args.interpolate !== undefined) {
    if (args.alpha === undefined) throw new UsageError('--interpolate needs --alpha a (0 = this sample, 1 = the other)');
    const alpha = Number(args.alpha);
    if (!(alpha >= 0 && alpha <= 1)) throw new UsageError(`--alpha must be in [0, 1] (got ${String(args.alpha)})`);
    const k = args['interpolate-sample'];
    if (k !== undefined && !(Number.isInteger(k) && Number(k) >= 0))
      throw new UsageError(`--interpolate-sample must be a sample index ≥ 0 (got ${String(k)})`);
    out.edit = { kind: 'interpolate', path: String(args.interpolate), alpha, ...(k !== undefined ? { sample: Number(k) } : {}) };
  }
  return out;
}

export interface ExplainContext {
  file: FmriFile;
  fileName: string;
  fileSha256: string;
  index: number;
  model: EngineModel;
  readInput(flag: string, path: string): Promise<Uint8Array>;
  log(line: string): void;
}

/** What decode.ts uses: the vector to decode, the receipt field, and hooks for each step and the end. */
export interface ExplainRun {
  /** The vector to decode: the edited one with a counterfactual, else the original. */
  input: Float32Array;
  edit?: CounterfactualEdit;
  onStep(s: StepEvent): Promise<void>;
  /** After the main images are written: the maps, and with an edit the original decode beside them. */
  finish(out: string, images: ImageBatch, opts: DecodeOptions): Promise<void>;
  dispose(): void;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Resolves the flags (or the receipt's recorded edit when no edit flag was typed) into an ExplainRun. */
export async function prepareExplain(args: ParsedArgs, receipt: DecodeReceipt | undefined, ctx: ExplainContext): Promise<ExplainRun> {
  const flags = parseExplainFlags(args);
  const original = ctx.file.getSample(ctx.index);
  const masks = roiMasksForSample(ctx.file);
  let edit: CounterfactualEdit | undefined;
  const ectx: EditContext = { masks };
  const fe = flags.edit ?? fromReceipt(receipt?.counterfactual, args);
  if (fe) {
    if (fe.kind === 'trial') {
      ectx.other = ctx.file.getSample(fe.sample);
      edit = { kind: 'trial', other: { fileName: ctx.fileName, sha256: ctx.fileSha256, split: ctx.file.split, sampleIndex: fe.sample } };
    } else if (fe.kind === 'interpolate') {
      const bytes = await ctx.readInput('interpolate', fe.path);
      let other = await readFmriFile(basename(fe.path), bytes);
      if (ctx.file.roi && other.masks?.[ctx.file.roi] && other.roi !== ctx.file.roi) other = other.select({ roi: ctx.file.roi });
      if (other.splits[ctx.file.split] !== undefined && other.split !== ctx.file.split) other = other.select({ split: ctx.file.split });
      // In the model's voxel order, as the decoded file is (decode.ts).
      other = inModelOrder(other, ctx.model).file;
      const k = fe.sample ?? ctx.index;
      ectx.other = other.getSample(k);
      const sha = sha256(bytes);
      const recorded = receipt?.counterfactual?.kind === 'interpolate' ? receipt.counterfactual.other : undefined;
      if (!flags.edit && recorded && recorded.sha256 !== sha) {
        ctx.log(`warning: ${basename(fe.path)} is not the file the receipt interpolated towards (${recorded.fileName}, sha256 differs)`);
      }
      edit = {
        kind: 'interpolate',
        alpha: fe.alpha,
        other: { fileName: basename(fe.path), sha256: sha, split: other.split, sampleIndex: k },
      };
    } else {
      edit = fe;
      if ((fe.kind === 'lesion' && fe.fill === 'mean') || fe.kind === 'roi-only' || (fe.kind === 'control' && fe.fill === 'mean')) {
        const b = baselineFromFile(ctx.file);
        ectx.baseline = b.values;
        ctx.log(`training mean: ${b.source}`);
      }
    }
  }
  const input = edit ? applyEdit(original, edit, ectx) : original;
  if (edit) ctx.log(`counterfactual: ${describeEdit(edit)} (the original is decoded beside it on the same seed)`);
  const steps: StepExplanation[] = [];
  let explainer: StepExplainer | undefined;
  if (flags.attentionMaps)
    explainer = await startExplainer(ctx.model, input, 1, masks).catch((e: Error) => {
      throw new UsageError(`--attention-maps: ${e.message}`);
    });
  return {
    input,
    ...(edit ? { edit } : {}),
    async onStep(s) {
      if (!explainer) return;
      // Maps of sample 0 only: the samples share the fMRI (so the attribution); their maps differ by x_t.
      const [ch, h, w] = latentShape(ctx.model.config);
      steps.push(await explainer.explainStep({ index: s.index, t: s.t, xt: s.xt.subarray(0, ch * h * w) }));
    },
    async finish(out, images, opts) {
      if (explainer) await writeAttention(join(out, 'attention'), steps, explainer, images, ctx.log);
      if (edit) {
        const final = await runToEnd(decodeSteps(ctx.model, original, opts));
        const orig = await decodeLatents(ctx.model, final, opts.numSamples);
        const per = images.height * images.width * 3;
        for (let i = 0; i < orig.n; i++) {
          const o = orig.data.subarray(i * per, (i + 1) * per),
            e = images.data.subarray(i * per, (i + 1) * per);
          await writeFile(join(out, `original_${i}.png`), encodePng(toRgb8(o), images.width, images.height));
          const t = tile([o, e], images.height, images.width, 4);
          await writeFile(join(out, `compare_${i}.png`), encodePng(toRgb8(t.rgb), t.width, t.height));
        }
        ctx.log(`wrote original_<i>.png and compare_<i>.png (left: original, right: ${describeEdit(edit)})`);
      }
    },
    dispose() {
      explainer?.dispose();
    },
  };
}

/** The receipt's edit as flags would give it (interpolate needs the other file's path again). */
function fromReceipt(e: CounterfactualEdit | undefined, args: ParsedArgs): ExplainFlags['edit'] {
  if (!e) return undefined;
  if (e.kind === 'trial') return { kind: 'trial', sample: e.other.sampleIndex };
  if (e.kind === 'interpolate') {
    if (args.interpolate === undefined) {
      throw new UsageError(
        `the receipt's counterfactual interpolates towards ${e.other.fileName} (${e.other.split} #${e.other.sampleIndex}); give that file with --interpolate <path>`,
      );
    }
    return { kind: 'interpolate', path: String(args.interpolate), sample: e.other.sampleIndex, alpha: e.alpha };
  }
  return e;
}

/**
 * <dir>/attn.npy [S, 1, h, w, tokens] (sample 0), roi_heat.npy [S, R, h, w] and bias_heat.npy [S, h, w],
 * token_patch.npy [tokens, L], token_bias.npy [tokens], token_voxel.npy [tokens, V], timesteps.npy [S],
 * roi_mass.json, and step_<k>.png (one panel per ROI and the bias share, each stretched to its own range, over the final image).
 */
async function writeAttention(
  dir: string,
  steps: StepExplanation[],
  ex: StepExplainer,
  images: ImageBatch,
  log: (l: string) => void,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  if (steps.length === 0) return;
  const { height: h, width: w, tokens } = steps[0].maps;
  const hw = h * w,
    S = steps.length;
  const roiNames = Object.keys(ex.rois);
  const attn = new Float32Array(S * hw * tokens),
    heat = new Float32Array(S * roiNames.length * hw),
    bias = new Float32Array(S * hw);
  steps.forEach((s, k) => {
    attn.set(s.maps.data.subarray(0, hw * tokens), k * hw * tokens);
    roiNames.forEach((r, j) => heat.set(s.heat[r].subarray(0, hw), (k * roiNames.length + j) * hw));
    bias.set(s.biasHeat.subarray(0, hw), k * hw);
  });
  const a = ex.attribution;
  const files: [string, Uint8Array][] = [
    ['attn.npy', writeNpy(attn, [S, 1, h, w, tokens])],
    ['roi_heat.npy', writeNpy(heat, [S, roiNames.length, h, w])],
    ['bias_heat.npy', writeNpy(bias, [S, h, w])],
    ['token_patch.npy', writeNpy(a.tokenPatch, [tokens, a.patches])],
    ['token_bias.npy', writeNpy(a.tokenBias, [tokens])],
    ['token_voxel.npy', writeNpy(a.tokenVoxel, [tokens, a.voxels])],
    ['timesteps.npy', writeNpy(Int32Array.from(steps.map((s) => s.t)), [S])],
  ];
  for (const [name, bytes] of files) await writeFile(join(dir, name), bytes);
  await writeFile(
    join(dir, 'roi_mass.json'),
    `${JSON.stringify(
      {
        rois: roiNames,
        roiVoxels: Object.fromEntries(roiNames.map((r) => [r, ex.rois[r].length])),
        voxels: a.voxels,
        steps: steps.map((s) => ({ index: s.index, t: s.t, layers: s.maps.layers, ...s.mass })),
      },
      null,
      1,
    )}\n`,
  );
  // Each PNG panel is stretched to its own range (ROI masses differ by their sizes; where in the image an
  // ROI is attended is the question a panel answers); the values are in roi_heat.npy.
  const img = images.data.subarray(0, images.height * images.width * 3);
  for (const s of steps) {
    const all = [...roiNames.map((r) => s.heat[r].subarray(0, hw)), s.biasHeat.subarray(0, hw)];
    const panels = all.map((x) => heatToRgb(x, h, w, images.height, images.width, ...heatRange(x), img));
    const t = tile(panels, images.height, images.width, 4);
    await writeFile(join(dir, `step_${String(s.index + 1).padStart(3, '0')}.png`), encodePng(toRgb8(t.rgb), t.width, t.height));
  }
  log(`wrote attention maps of ${S} step(s) to ${dir} (PNG panels: ${[...roiNames, 'bias'].join(', ')})`);
}
