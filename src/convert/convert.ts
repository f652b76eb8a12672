// Checkpoints → web bundle: maps the authors' checkpoint layouts onto the phase-3 names, merges several
// files (later ones win), infers the ModelConfig from tensor shapes (+ pickled configs + overrides),
// keeps only the tensors inference needs, and reports missing / extra / mis-shaped tensors by name.
import { PUBLISHED_GOD_SBJ3, type ModelConfig, type PreprocessConfig } from '../model/config';
import {
  expectedShapes,
  LOWLEVEL_COEF_NORM,
  LOWLEVEL_NAMES,
  LOWLEVEL_PREFIX,
  lowLevelShapes,
  VOXEL_XYZ_MM,
  vqEncoderShapes,
  type ShapeMap,
} from '../model/layout';
import { inferModelConfig, type DeepPartial } from './inferConfig';
import { storesAsFloat16, type BundleManifest, type SourceEntry, type StorageDtype } from '../io/bundle/manifest';
import { writeBundle, type BundleSink } from '../io/bundle/writer';
import { ConvertError } from './errors';
import type { Checkpoint, LazyTensor } from './torch/types';

export type { DeepPartial };

export interface ConvertInput {
  checkpoint: Checkpoint;
  /** sha256 of the checkpoint file (recorded in the manifest's sources). */
  sha256: string;
}

export type CheckpointKind = 'phase1/2 encoder' | 'phase3' | 'ldm' | 'full state dict';

export interface ConvertReport {
  kinds: { file: string; kind: CheckpointKind; tensors: number }[];
  /** Tensors given by several files: the later file's value was kept. */
  overridden: { name: string; from: string; by: string }[];
  /** Tensors not needed for inference that were expected to be there (MAE decoder, schedule buffers, …). */
  dropped: number;
  /** Their names (original names, as in the checkpoint after any wrapper prefix is stripped). */
  droppedNames: string[];
  /** Tensors not needed for inference and not of a known kind: worth a look. */
  extra: string[];
  missing: string[];
  misShaped: { name: string; expected: number[]; found: number[] }[];
  /** Where config values came from, and what was assumed. */
  notes: string[];
  /**
   * This project's own tensors (`decoding_studio.*`: the low-level decoder, the null context, the voxel positions) passed
   * through into the bundle, and whether the VQ encoder was kept for the low-level decoder (it is
   * dropped otherwise, as for the authors' checkpoints).
   */
  extras: string[];
  keptVQEncoder: boolean;
}

export interface ConversionPlan {
  config: ModelConfig;
  /** Inference tensors by phase-3 name, in expectedShapes order. */
  tensors: Record<string, LazyTensor>;
  sources: SourceEntry[];
  report: ConvertReport;
  params: Record<string, number>;
}

export interface ConvertOptions {
  /** Config values that win over everything inferred (e.g. from --config overrides.json). */
  overrides?: DeepPartial<ModelConfig>;
  /** Preprocessing of the subject (raw voxel count, z-score statistics). */
  preprocess?: Partial<PreprocessConfig>;
}

const ENCODER_PREFIX = 'cond_stage_model.mae.';
/** Tensors of this project (not in the authors' checkpoints); no key of theirs starts with it. */
export const EXTRAS_PREFIX = 'decoding_studio.';
const NULL_CONTEXT = `${EXTRAS_PREFIX}null_context`;

/** Tensors that exist in the authors' checkpoints but are never used for inference. */
const KNOWN_UNUSED = [
  /^(betas|alphas_cumprod|alphas_cumprod_prev|sqrt_.*|log_one_minus_alphas_cumprod|posterior_.*|logvar)$/,
  /^cond_stage_model\.mae\.(decoder_|mask_token|cls_token|cross_)/,
  /^cond_stage_model\.embedding\./, // CompVis class embedder, replaced by the fMRI encoder
  /^first_stage_model\.(encoder\.|quant_conv\.|loss\.)/,
  /^model_ema\./,
];

function kindOf(ck: Checkpoint): CheckpointKind {
  const names = Object.keys(ck.tensors);
  if (names.includes('patch_embed.proj.weight')) return 'phase1/2 encoder';
  if (ck.stateDictKey === 'model_state_dict') return 'phase3';
  if (ck.stateDictKey === 'state_dict') return 'ldm';
  return 'full state dict';
}

/** Phase-3 name of a checkpoint tensor, or undefined for tensors that are dropped on sight. */
function mapName(kind: CheckpointKind, name: string): string | undefined {
  if (kind === 'phase1/2 encoder') {
    if (/^(decoder_|mask_token|cross_|cls_token)/.test(name)) return undefined;
    return ENCODER_PREFIX + name;
  }
  if (kind === 'ldm' && name.startsWith('cond_stage_model.embedding.')) return undefined;
  return name;
}

/** Encoder hyper-parameters the shapes cannot tell (heads) from pickled config objects. */
function configFromObjects(ck: Checkpoint, notes: string[]): DeepPartial<ModelConfig> {
  const out: DeepPartial<ModelConfig> = {};
  for (const key of ['config', 'config_merge']) {
    const c = ck.objects[key] as Record<string, unknown> | undefined;
    if (!c || typeof c !== 'object') continue;
    const cls = typeof c.__class__ === 'string' ? c.__class__ : key;
    const num = (k: string) => (typeof c[k] === 'number' ? (c[k] as number) : undefined);
    const encoder: DeepPartial<ModelConfig['encoder']> = {};
    if (num('num_heads') !== undefined) encoder.numHeads = num('num_heads');
    if (num('mlp_ratio') !== undefined) encoder.mlpRatio = num('mlp_ratio');
    if (num('patch_size') !== undefined) encoder.patchSize = num('patch_size');
    if (Object.keys(encoder).length) {
      out.encoder = { ...out.encoder, ...encoder };
      notes.push(
        `${ck.file}: ${Object.entries(encoder)
          .map(([k, v]) => `encoder.${k}=${v}`)
          .join(', ')} from pickled ${cls}`,
      );
    }
    if (typeof c.roi === 'string') out.preprocess = { ...out.preprocess, roi: c.roi };
  }
  return out;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return !!x && typeof x === 'object' && !Array.isArray(x);
}

function deepMerge<T>(base: DeepPartial<T>, over: DeepPartial<T> | undefined): DeepPartial<T> {
  if (!over) return base;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over as Record<string, unknown>)) {
    out[k] = isObject(v) && isObject(out[k]) ? deepMerge(out[k] as DeepPartial<unknown>, v as DeepPartial<unknown>) : v;
  }
  return out as DeepPartial<T>;
}

function network(name: string): string {
  if (name.startsWith(ENCODER_PREFIX)) return 'fmriEncoder';
  if (name.startsWith('cond_stage_model.')) return 'condMappers';
  if (name.startsWith('model.diffusion_model.')) return 'unet';
  if (/^first_stage_model\.(encoder|quant_conv)\./.test(name)) return 'vqEncoder';
  if (name.startsWith('first_stage_model.')) return 'vq';
  if (name.startsWith(LOWLEVEL_PREFIX)) return 'lowLevel';
  return 'other';
}

const shapeText = (s: number[]) => `[${s.join(', ')}]`;
const sameShape = (a: number[], b: number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** Everything short of reading tensor values: mapping, merge, config, checks. Throws ConvertError. */
export function planConversion(inputs: ConvertInput[], opts: ConvertOptions = {}): ConversionPlan {
  if (inputs.length === 0) throw new ConvertError('no checkpoint given');
  const report: ConvertReport = {
    kinds: [],
    overridden: [],
    dropped: 0,
    droppedNames: [],
    extra: [],
    missing: [],
    misShaped: [],
    notes: [],
    extras: [],
    keptVQEncoder: false,
  };
  const merged = new Map<string, { tensor: LazyTensor; file: string }>();
  let fromObjects: DeepPartial<ModelConfig> = {};
  const sources: SourceEntry[] = [];
  for (const { checkpoint: original, sha256 } of inputs) {
    const ck = withoutWrapperPrefix(original, report.notes);
    const kind = kindOf(ck);
    report.kinds.push({ file: ck.file, kind, tensors: Object.keys(ck.tensors).length });
    sources.push({ file: ck.file, sha256, kind });
    fromObjects = deepMerge(fromObjects, configFromObjects(ck, report.notes));
    for (const [name, tensor] of Object.entries(ck.tensors)) {
      const mapped = mapName(kind, name);
      if (mapped === undefined) {
        report.dropped++;
        report.droppedNames.push(name);
        continue;
      }
      const prev = merged.get(mapped);
      if (prev) report.overridden.push({ name: mapped, from: prev.file, by: ck.file });
      merged.set(mapped, { tensor, file: ck.file });
    }
  }
  const shapes: Record<string, number[]> = Object.fromEntries([...merged].map(([n, { tensor }]) => [n, tensor.shape]));
  // Without the phase-3 mappers there is nothing to infer from: name every phase-3-only tensor (their
  // names do not depend on sizes, so the published layout lists them).
  const phase3Only = Object.keys(expectedShapes(PUBLISHED_GOD_SBJ3)).filter((n) => PHASE3_ONLY.some((re) => re.test(n)));
  if (phase3Only.filter((n) => !n.includes('time_embed_condtion')).every((n) => !merged.has(n))) {
    report.missing = phase3Only.filter((n) => !merged.has(n));
    const published = expectedShapes(PUBLISHED_GOD_SBJ3);
    report.extra = [...merged.keys()].filter((n) => !(n in published) && !KNOWN_UNUSED.some((re) => re.test(n)));
    throw new ConvertError(describeProblems(report));
  }
  if (!merged.has('model.diffusion_model.time_embed_condtion.0.weight')) {
    report.notes.push('no time_embed_condtion tensors: the UNet is converted without time conditioning (timeCond false)');
  }
  const overrides = deepMerge(deepMerge(fromObjects, opts.preprocess ? { preprocess: opts.preprocess } : {}), opts.overrides);
  if (overrides.encoder?.numHeads === undefined) {
    report.notes.push(
      'encoder.numHeads is in no checkpoint config and no override: the default embedDim / 64 (timm head width) is used — give --config {"encoder":{"numHeads":N}} if it differs',
    );
  }
  if (overrides.unet?.imageSize === undefined && overrides.vq?.resolution === undefined) {
    report.notes.push(
      'image size is not visible in the weights: the published 256×256 (latent 64) is assumed — give --config {"vq":{"resolution":N}} for other sizes',
    );
  }
  if (overrides.preprocess?.rawVoxels === undefined) {
    report.notes.push(
      "the subject's ROI voxel count is unknown (no --raw-voxels): the bundle accepts any vector that wrap-pads to the encoder's length",
    );
  }
  if (overrides.preprocess?.mean === undefined) {
    report.notes.push('no training-set z-score statistics (--mean/--std): inputs must already be z-scored as in training');
  }
  let config: ModelConfig;
  try {
    config = inferModelConfig(shapes, overrides);
  } catch (e) {
    throw new ConvertError(`cannot infer the model configuration: ${(e as Error).message}`);
  }
  const expected: ShapeMap = { ...expectedShapes(config), ...extraShapes(config, merged, report) };
  const tensors: Record<string, LazyTensor> = {};
  const params: Record<string, number> = {};
  for (const [name, shape] of Object.entries(expected)) {
    const got = merged.get(name);
    if (!got) {
      report.missing.push(name);
      continue;
    }
    if (!sameShape(got.tensor.shape, shape)) {
      report.misShaped.push({ name, expected: shape, found: got.tensor.shape });
      continue;
    }
    tensors[name] = got.tensor;
    // The voxel positions describe the input; they are not parameters of any network.
    if (name === VOXEL_XYZ_MM) continue;
    const net = network(name);
    params[net] = (params[net] ?? 0) + shape.reduce((a, b) => a * b, 1);
  }
  params.total = Object.values(params).reduce((a, b) => a + b, 0);
  for (const name of merged.keys()) {
    if (name in expected) continue;
    if (KNOWN_UNUSED.some((re) => re.test(name))) {
      report.dropped++;
      report.droppedNames.push(name);
    } else report.extra.push(name);
  }
  if (report.missing.length || report.misShaped.length) throw new ConvertError(describeProblems(report));
  checkVoxelPositions(config, merged.get(VOXEL_XYZ_MM)?.tensor, report);
  const coefNorm = merged.get(LOWLEVEL_COEF_NORM)?.tensor.read()[0];
  if (coefNorm !== undefined && !(coefNorm > 0 && Number.isFinite(coefNorm)))
    throw new ConvertError(
      `${LOWLEVEL_COEF_NORM} must be a positive finite norm, found ${coefNorm}: every low-level image would be flat or inverted`,
    );
  return { config, tensors, sources, report, params };
}

/**
 * Shapes of the `decoding_studio.*` tensors present (passed through into the bundle) and, when the
 * low-level decoder is among them, of the VQ encoder it runs through (kept; dropped otherwise). Known
 * names are checked: the low-level tensors against the encoder's voxel count and the VQ resolution
 * (K from the ridge bias), the null context as [outTokens, condDim]; other `decoding_studio.*` names pass
 * with their own shapes and a note. Records what it kept in the report.
 */
function extraShapes(config: ModelConfig, merged: Map<string, { tensor: LazyTensor }>, report: ConvertReport): ShapeMap {
  const names = [...merged.keys()].filter((n) => n.startsWith(EXTRAS_PREFIX)).sort();
  if (!names.length) return {};
  const shapes: ShapeMap = {};
  for (const n of names) shapes[n] = merged.get(n)!.tensor.shape;
  if (merged.has(NULL_CONTEXT)) shapes[NULL_CONTEXT] = [config.cond.outTokens, config.cond.condDim];
  const lowNames = [...Object.values(LOWLEVEL_NAMES), LOWLEVEL_COEF_NORM] as string[];
  if (names.some((n) => n.startsWith(LOWLEVEL_PREFIX))) {
    const bias = merged.get(LOWLEVEL_NAMES.ridgeBias)?.tensor.shape;
    const k = bias?.length === 1 ? bias[0] : (merged.get(LOWLEVEL_NAMES.ridgeWeight)?.tensor.shape[1] ?? 0);
    Object.assign(shapes, lowLevelShapes(config, k));
    if (merged.has(LOWLEVEL_COEF_NORM)) shapes[LOWLEVEL_COEF_NORM] = [1];
    const vqEncoder = vqEncoderShapes(config);
    Object.assign(shapes, vqEncoder);
    report.keptVQEncoder = true;
    report.notes.push(
      `low-level decoder (${LOWLEVEL_PREFIX}*, K = ${k}) present: kept the VQ encoder and quant_conv ` +
        `(${Object.keys(vqEncoder).length} tensors) that turn its image into the sampler's starting latent`,
    );
  }
  const unknown = names.filter((n) => n !== NULL_CONTEXT && n !== VOXEL_XYZ_MM && !lowNames.includes(n));
  if (unknown.length)
    report.notes.push(`passed through ${unknown.length} unrecognised ${EXTRAS_PREFIX}* tensor(s) unchecked: ${unknown.join(', ')}`);
  report.extras = Object.keys(shapes).filter((n) => n.startsWith(EXTRAS_PREFIX));
  return shapes;
}

/**
 * The model's input voxel positions (VOXEL_XYZ_MM), when given, must be [preprocess.rawVoxels, 3] finite
 * millimetres: a file's voxels are put into this order by them (src/io/voxelOrder.ts), so a wrong shape or a NaN
 * would misplace every voxel. Notes what was kept.
 * @throws ConvertError naming the tensor, the shape found and the one expected (or the missing --raw-voxels), or
 *   the first non-finite value
 */
function checkVoxelPositions(config: ModelConfig, t: LazyTensor | undefined, report: ConvertReport): void {
  if (!t) return;
  const raw = config.preprocess.rawVoxels;
  if (raw === undefined)
    throw new ConvertError(
      `${VOXEL_XYZ_MM} gives one position per raw input voxel, but the raw voxel count is unknown: give --raw-voxels N`,
    );
  if (!sameShape(t.shape, [raw, 3]))
    throw new ConvertError(
      `${VOXEL_XYZ_MM} has shape ${shapeText(t.shape)}; the voxel positions must be [rawVoxels, 3] = [${raw}, 3]: ` +
        'one (x, y, z) in mm per input voxel of the model, in input order, before wrap padding',
    );
  const xyz = t.read();
  const bad = xyz.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0)
    throw new ConvertError(
      `${VOXEL_XYZ_MM}: voxel ${Math.floor(bad / 3)} has a non-finite coordinate (${xyz[bad]}); the voxel positions must be finite millimetres`,
    );
  report.notes.push(
    `voxel positions (${VOXEL_XYZ_MM}, ${raw} × 3 mm) present: files with voxel positions are put into the model's voxel order by them`,
  );
}

/**
 * Wrappers that prefix every key of a state dict: DataParallel / DistributedDataParallel (`module.`),
 * torch.compile (`_orig_mod.`), a LightningModule holding the network as `self.model` (`model.`). They
 * nest (`module._orig_mod.`). A prefix is stripped only when every key has it; `model.` also only when
 * the keys are not already the LDM's own (`model.diffusion_model.*` is the UNet, not a wrapper).
 */
export function withoutWrapperPrefix(ck: Checkpoint, notes: string[]): Checkpoint {
  let names = Object.keys(ck.tensors);
  const stripped: string[] = [];
  const KNOWN_ROOTS =
    /^(model\.diffusion_model\.|cond_stage_model\.|first_stage_model\.|patch_embed\.|blocks\.|decoding_studio\.|model_ema\.)/;
  for (;;) {
    if (names.length === 0) break;
    const prefix = ['module.', '_orig_mod.', 'model.'].find((p) => names.every((n) => n.startsWith(p) && n.length > p.length));
    if (!prefix) break;
    if (prefix === 'model.' && (names.some((n) => KNOWN_ROOTS.test(n)) || !names.some((n) => KNOWN_ROOTS.test(n.slice(prefix.length)))))
      break;
    stripped.push(prefix);
    names = names.map((n) => n.slice(prefix.length));
  }
  if (!stripped.length) return ck;
  const p = stripped.join('');
  notes.push(
    `${ck.file}: the prefix '${p}' shared by all ${names.length} tensor names (a DataParallel/DDP, torch.compile or Lightning wrapper) was stripped`,
  );
  return { ...ck, tensors: Object.fromEntries(Object.entries(ck.tensors).map(([n, t]) => [n.slice(p.length), t])) };
}

/** The longest dotted prefix (ending in '.') that every name shares, or ''. */
function commonPrefix(names: string[]): string {
  if (names.length < 2) return '';
  let p = names[0];
  for (const n of names) while (!n.startsWith(p)) p = p.slice(0, -1);
  return p.slice(0, p.lastIndexOf('.') + 1);
}

/** Tensors that only phase-3 training produces: name them when a phase-1 + LDM pair lacks them. */
const PHASE3_ONLY = [/^cond_stage_model\.(channel_mapper|dim_mapper)\./, /^model\.diffusion_model\.time_embed_condtion\./];

function describeProblems(r: ConvertReport): string {
  const lines: string[] = [];
  if (r.missing.length) {
    lines.push(`${r.missing.length} tensor${r.missing.length > 1 ? 's' : ''} missing:`);
    lines.push(...r.missing.map((n) => `  ${n}`));
    if (r.missing.some((n) => PHASE3_ONLY.some((re) => re.test(n)))) {
      lines.push(
        'The fMRI mappers (channel_mapper, dim_mapper) and the time conditioning (time_embed_condtion) are trained in phase 3:' +
          ' add a phase-3 checkpoint (model_state_dict) to the inputs.',
      );
    }
    if (r.keptVQEncoder && r.missing.some((n) => /^first_stage_model\.(encoder|quant_conv)\./.test(n))) {
      lines.push(
        `The low-level decoder (${LOWLEVEL_PREFIX}*) runs its image through the VQ encoder:` +
          ' add a checkpoint that has first_stage_model.encoder.* and quant_conv (phase3.pth or the LDM), or leave the low-level tensors out.',
      );
    }
  }
  if (r.missing.length && r.extra.length) {
    // Tensors that were there but under names the converter does not know: often the real cause.
    lines.push(
      `${r.extra.length} tensor${r.extra.length > 1 ? 's' : ''} of the inputs ignored (names the converter does not know)${r.extra.length > 20 ? ', the first 20' : ''}:`,
    );
    lines.push(...r.extra.slice(0, 20).map((n) => `  ${n}`));
    const common = commonPrefix(r.extra);
    if (common) lines.push(`They all start with '${common}': a wrapper prefix? Re-save the state dict without it.`);
  }
  if (r.misShaped.length) {
    lines.push(`${r.misShaped.length} tensor${r.misShaped.length > 1 ? 's' : ''} with an unexpected shape:`);
    lines.push(...r.misShaped.map((m) => `  ${m.name}: expected ${shapeText(m.expected)}, found ${shapeText(m.found)}`));
  }
  return lines.join('\n');
}

export interface BundleWriteOptions {
  dtype?: StorageDtype;
  shardBytes?: number;
  onProgress?(bytesDone: number, bytesTotal: number): void;
}

/** Writes the planned tensors as a bundle; the model card records params, bytes and the report. */
export async function writeConvertedBundle(sink: BundleSink, plan: ConversionPlan, opts: BundleWriteOptions = {}): Promise<BundleManifest> {
  const dtype = opts.dtype ?? 'float32';
  const bytes = Object.entries(plan.tensors).reduce(
    (a, [n, t]) => a + t.shape.reduce((x, y) => x * y, 1) * (storesAsFloat16(dtype, n, t.shape) ? 2 : 4),
    0,
  );
  const { report } = plan;
  const card = {
    params: plan.params,
    dtype,
    bytes,
    conversion: {
      inputs: report.kinds,
      overridden: report.overridden.length,
      dropped: report.dropped,
      extra: report.extra,
      notes: report.notes,
    },
  };
  return writeBundle(sink, plan.config, plan.tensors, {
    dtype,
    shardBytes: opts.shardBytes,
    sources: plan.sources,
    card,
    onProgress: opts.onProgress,
  });
}
