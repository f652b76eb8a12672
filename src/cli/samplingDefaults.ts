// The sampler settings `npm run decode` and `npm run eval` use when a flag is not typed: the model's own
// (config.sampling, chosen by the training command on validation data), else the flags' spec defaults.
// One place for both CLIs, so that decode, eval and the studio (src/store/reducer.ts settingsForModel) agree.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MANIFEST_FILE, parseManifest } from '../io/bundle/manifest';
import type { SamplingDefaults } from '../model/config';
import { checkSamplingDefaults } from '../model/inferConfig';
import { MODEL_DEFAULT, UsageError, type FlagSpec, type ParsedArgs } from './args';
import {
  DEFAULT_RUN_SETTINGS,
  DEFAULTS_REASON,
  RunSettingsError,
  SAMPLERS,
  validateRunSettings,
  type RunSettings,
} from '../engine/settings';

/** The CLI flag of each run setting. */
export const SETTING_FLAGS: Record<keyof RunSettings, string> = {
  sampler: '--sampler',
  steps: '--steps',
  eta: '--eta',
  seed: '--seed',
  numSamples: '--samples',
  init: '--init',
  strength: '--strength',
  guidance: '--guidance',
};

/**
 * --sampler / --steps / --eta / --seed / --samples with the defaults every CLI and the studio share
 * (DEFAULT_RUN_SETTINGS); `prefix` starts each help line (eval: 'model: ').
 */
export function samplerFlagSpec(prefix = ''): Record<string, FlagSpec> {
  const d = DEFAULT_RUN_SETTINGS;
  return {
    steps: {
      type: 'number',
      default: d.steps,
      defaultFrom: MODEL_DEFAULT,
      help:
        `${prefix}sampler steps S, a whole number from 1 to the model's schedule length T (1000 for the published models). The authors' ` +
        "uniform spacing is used where it is valid (it may run a few more: 12 → 13); where it would reach t = T, diffusers' trailing spacing",
    },
    sampler: { type: 'string', help: `${prefix}sampler`, default: d.sampler, defaultFrom: MODEL_DEFAULT, choices: [...SAMPLERS] },
    eta: { type: 'number', help: `${prefix}DDIM eta, 0 to 1 (PLMS is deterministic: 0 only)`, default: d.eta },
    seed: { type: 'number', help: `${prefix}seed of x_T (and of DDIM noise), a whole number from 0 to 2^32 − 1`, default: d.seed },
  };
}

/** The paragraph the CLIs' --help ends with: where the defaults come from and why. */
export const DEFAULTS_HELP = `\n${DEFAULTS_REASON}\n`;

/**
 * The run settings the flags give, validated by the run-settings rules (src/engine/settings.ts) with the
 * step bound of the model's schedule when known; UsageError naming the flag and saying what it must be.
 */
export function cliRunSettings(s: RunSettings, numTimesteps?: number): RunSettings {
  try {
    return validateRunSettings(s, numTimesteps, (f) => SETTING_FLAGS[f]);
  } catch (e) {
    if (e instanceof RunSettingsError) throw new UsageError(e.message);
    throw e;
  }
}

/** The flags config.sampling can supply, in the order they are reported. */
export const SAMPLING_FLAGS = ['sampler', 'steps', 'init', 'strength', 'guidance'] as const;
export type SamplingFlag = (typeof SAMPLING_FLAGS)[number];

/** Flag names typed on the command line (`--steps 5` and `--steps=5` both give 'steps'). */
export function typedFlags(argv: readonly string[]): Set<string> {
  return new Set(argv.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=')[0]));
}

/**
 * Fills the sampling flags that are not in `given` (typed, or set by a replayed receipt) from the model's
 * `sampling` defaults, in place in `args`; without `sampling` args keep their spec defaults. A typed
 * `--init noise` keeps strength 1 rather than the model's img2img strength (strength < 1 needs the low-level
 * start). Returns the flags taken from the model and the one line that says so (undefined when none were).
 */
export function applyModelSampling(
  args: ParsedArgs,
  given: ReadonlySet<string>,
  sampling: SamplingDefaults | undefined,
): { taken: SamplingFlag[]; note?: string } {
  if (!sampling) return { taken: [] };
  const taken: SamplingFlag[] = [];
  for (const k of SAMPLING_FLAGS) {
    if (given.has(k)) continue;
    // The model's strength belongs to its own start: with a typed noise start it would be refused.
    if (k === 'strength' && given.has('init') && args.init === 'noise') {
      args.strength = 1;
      continue;
    }
    args[k] = sampling[k];
    taken.push(k);
  }
  if (taken.length === 0) return { taken };
  const flags = taken.map((k) => `--${k} ${sampling[k]}`).join(' ');
  return { taken, note: `sampler defaults from the model (config.sampling, chosen at training on validation data): ${flags}` };
}

/**
 * The `sampling` defaults of the bundle in directory `dir` (its manifest.json only; the weights are not read),
 * validated (checkSamplingDefaults); undefined when the bundle carries none (the authors' checkpoints, older
 * bundles). Throws UsageError naming --model when the manifest is missing, BundleError / ConfigInferenceError
 * when it or its sampling entry is malformed.
 */
export async function readBundleSampling(dir: string): Promise<SamplingDefaults | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST_FILE), 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(
      `--model ${dir}: ${code === 'ENOENT' ? `no ${MANIFEST_FILE} (give a converted bundle directory)` : (e as Error).message}`,
    );
  }
  const config = parseManifest(text).config as { sampling?: Partial<SamplingDefaults>; schedule?: { numTimesteps?: number } };
  if (config.sampling === undefined) return undefined;
  return checkSamplingDefaults(config.sampling, config.schedule?.numTimesteps ?? 1000);
}
