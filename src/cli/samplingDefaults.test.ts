import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BUNDLE_FORMAT, BUNDLE_VERSION } from '../io/bundle/manifest';
import { DECODE_MODE_SPEC, decodeMode, parseArgs, usage, type FlagSpec } from './args';
import { applyModelSampling, cliRunSettings, DEFAULTS_HELP, readBundleSampling, samplerFlagSpec, typedFlags } from './samplingDefaults';
import { DEFAULT_RUN_SETTINGS, type RunSettings } from '../engine/settings';

// The decode CLI's sampling flags with their spec defaults (src/cli/decode.ts).
const SPEC: Record<string, FlagSpec> = {
  steps: { type: 'number', help: '', default: 50 },
  sampler: { type: 'string', help: '', default: 'plms', choices: ['plms', 'ddim'] },
  seed: { type: 'number', help: '', default: 0 },
  ...DECODE_MODE_SPEC,
};
const sampling = { sampler: 'ddim' as const, steps: 20, init: 'lowlevel' as const, strength: 0.45, guidance: 3 };

function resolve(argv: string[], s: typeof sampling | undefined = sampling) {
  const args = parseArgs(argv, SPEC);
  const r = applyModelSampling(args, typedFlags(argv), s);
  return { args, ...r };
}

describe('help text names where the sampling defaults come from', () => {
  it("--sampler/--steps/--init/--strength/--guidance: the model's config.sampling first, then the shared default; others plain", () => {
    const help = usage('decode', '--fmri FILE', { ...samplerFlagSpec(), ...DECODE_MODE_SPEC });
    const d = DEFAULT_RUN_SETTINGS;
    for (const [flag, value] of [
      ['sampler', d.sampler],
      ['steps', d.steps],
      ['init', d.init],
      ['strength', d.strength],
      ['guidance', d.guidance],
    ] as const) {
      const block = help.slice(help.indexOf(`\n  --${flag} `)).split('\n  --')[1];
      expect(block, flag).toContain(`(default: the model's config.sampling when its bundle has one, else ${value})`);
    }
    expect(help).toContain(`(default ${d.eta})`);
    expect(help).not.toContain(`(default: the model's config.sampling when its bundle has one, else ${d.eta})`);
  });
});

describe('sampler defaults from the model (config.sampling)', () => {
  it('fills every untyped sampling flag from the model and says which', () => {
    const r = resolve(['--seed', '4']);
    expect(r.args).toMatchObject({ sampler: 'ddim', steps: 20, init: 'lowlevel', strength: 0.45, guidance: 3, seed: 4 });
    expect(r.taken).toEqual(['sampler', 'steps', 'init', 'strength', 'guidance']);
    expect(r.note).toBe(
      'sampler defaults from the model (config.sampling, chosen at training on validation data): ' +
        '--sampler ddim --steps 20 --init lowlevel --strength 0.45 --guidance 3',
    );
    expect(decodeMode(r.args)).toEqual({ init: 'lowlevel', strength: 0.45, guidance: 3 });
  });

  it('typed flags win, in either spelling', () => {
    const r = resolve(['--steps=8', '--guidance', '1', '--sampler', 'plms']);
    expect(r.args).toMatchObject({ sampler: 'plms', steps: 8, init: 'lowlevel', strength: 0.45, guidance: 1 });
    expect(r.taken).toEqual(['init', 'strength']);
    expect(r.note).toMatch(/: --init lowlevel --strength 0\.45$/);
  });

  it('a typed noise start keeps strength 1 instead of the model strength', () => {
    const r = resolve(['--init', 'noise']);
    expect(r.args).toMatchObject({ init: 'noise', strength: 1, guidance: 3, steps: 20 });
    expect(r.taken).toEqual(['sampler', 'steps', 'guidance']);
    expect(decodeMode(r.args)).toEqual({ init: 'noise', strength: 1, guidance: 3 });
  });

  it('all typed: nothing from the model, no line', () => {
    const r = resolve(['--sampler', 'plms', '--steps', '5', '--init', 'noise', '--strength', '1', '--guidance', '1']);
    expect(r.taken).toEqual([]);
    expect(r.note).toBeUndefined();
  });

  it('a model without sampling defaults keeps the flag defaults', () => {
    const args = parseArgs([], SPEC);
    const r = { args, ...applyModelSampling(args, typedFlags([]), undefined) };
    expect(r.args).toMatchObject({ sampler: 'plms', steps: 50, init: 'noise', strength: 1, guidance: 1 });
    expect(r.taken).toEqual([]);
    expect(r.note).toBeUndefined();
  });
});

describe('readBundleSampling', () => {
  let dir = '';
  const manifest = (config: object) =>
    JSON.stringify({ format: BUNDLE_FORMAT, version: BUNDLE_VERSION, dtype: 'float32', config, tensors: [], shards: [], sources: [] });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reads and checks config.sampling from manifest.json; none when absent; names --model when no manifest', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sampling-'));
    await writeFile(join(dir, 'manifest.json'), manifest({ name: 'x', schedule: { numTimesteps: 1000 }, sampling }));
    expect(await readBundleSampling(dir)).toEqual(sampling);
    await writeFile(join(dir, 'manifest.json'), manifest({ name: 'x' }));
    expect(await readBundleSampling(dir)).toBeUndefined();
    await writeFile(join(dir, 'manifest.json'), manifest({ name: 'x', sampling: { ...sampling, strength: 0.5, init: 'noise' } }));
    await expect(readBundleSampling(dir)).rejects.toThrow(
      /config\.sampling\.strength must be 1 unless the run starts from the low-level latent \(init lowlevel; init is "noise"\) \(got 0\.5\)/,
    );
    await expect(readBundleSampling(join(dir, 'missing'))).rejects.toThrow(/--model .*missing: no manifest\.json/);
  });
});

describe('CLI run settings (the shared rules, named by flag)', () => {
  const ok: RunSettings = { ...DEFAULT_RUN_SETTINGS };

  it('takes the flag defaults from the shared defaults and says why in --help', () => {
    const args = parseArgs([], { ...samplerFlagSpec(), ...DECODE_MODE_SPEC });
    expect(args).toMatchObject({
      sampler: DEFAULT_RUN_SETTINGS.sampler,
      steps: DEFAULT_RUN_SETTINGS.steps,
      eta: DEFAULT_RUN_SETTINGS.eta,
      seed: DEFAULT_RUN_SETTINGS.seed,
      init: DEFAULT_RUN_SETTINGS.init,
      strength: DEFAULT_RUN_SETTINGS.strength,
      guidance: DEFAULT_RUN_SETTINGS.guidance,
    });
    expect(DEFAULTS_HELP).toMatch(/PLMS, the sampler of the paper's code, with 50 steps/);
  });

  it.each([
    [{ steps: 0 }, undefined, /^--steps must be a whole number of at least 1 \(got 0\)$/],
    [{ steps: 2.5 }, 1000, /^--steps must be a whole number from 1 to 1000 \(got 2\.5\)$/],
    [{ steps: 1001 }, 1000, /^--steps must be a whole number from 1 to 1000 \(this model's schedule has 1000 timesteps\) \(got 1001\)$/],
    [{ eta: 0.5 }, 1000, /^--eta must be 0 with the PLMS sampler \(use DDIM for eta above 0\) \(got 0\.5\)$/],
    [{ numSamples: 0 }, 1000, /^--samples must be a whole number from 1 to 16 \(got 0\)$/],
  ])('refuses %o in words, naming the flag', (patch, T, message) => {
    expect(() => cliRunSettings({ ...ok, ...patch } as RunSettings, T)).toThrow(message);
  });

  it('refuses -1 and an empty --steps in words', () => {
    expect(() => cliRunSettings({ ...ok, steps: -1 }, 1000)).toThrow(/^--steps must be a whole number from 1 to 1000 \(got -1\)$/);
    expect(() => parseArgs(['--steps', ''], samplerFlagSpec())).toThrow(/^--steps needs a number \(got nothing\)$/);
    expect(() => parseArgs(['--steps='], samplerFlagSpec())).toThrow(/^--steps needs a number \(got nothing\)$/);
    expect(() => parseArgs(['--steps', 'many'], samplerFlagSpec())).toThrow(/^--steps needs a number \(got 'many'\)$/);
  });

  it('accepts every step-count edge that can run: 1, 2, 3, 999, 1000', () => {
    for (const steps of [1, 2, 3, 999, 1000]) expect(cliRunSettings({ ...ok, steps }, 1000).steps).toBe(steps);
  });

  it('decodeMode names the flag', () => {
    expect(() => decodeMode({ init: 'noise', strength: 0.5, guidance: 1 })).toThrow(
      /^--strength must be 1 unless the run starts from the low-level latent/,
    );
    expect(() => decodeMode({ init: 'noise', strength: 1, guidance: -1 })).toThrow(
      /^--guidance must be a finite number of at least 0 \(got -1\)$/,
    );
  });
});
