// Conversion of the golden 'tiny' checkpoints (python/cad_ref) into bundles.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { goldenConfig, goldenDir, goldenNpy } from '../../test/golden';
import type { ModelConfig } from '../model/config';
import { expectedShapes, LOWLEVEL_COEF_NORM, LOWLEVEL_NAMES, VOXEL_XYZ_MM, vqEncoderShapes } from '../model/layout';
import { loadBundle } from '../io/bundle/loader';
import { dirSink, dirSource } from '../io/bundle/node';
import { planConversion, writeConvertedBundle, type ConvertInput } from './convert';
import { ConvertError } from './errors';
import { npyToFloat32 } from '../io/npy';
import { memoryAccess, readCheckpoint, type Checkpoint } from './torch/index';

const run = promisify(execFile);
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'convert-test-'));
  dirs.push(d);
  return d;
};

async function input(file: string): Promise<ConvertInput> {
  const dir = await goldenDir('tiny');
  const bytes = new Uint8Array(readFileSync(join(dir, file)));
  return { checkpoint: readCheckpoint(file, memoryAccess(bytes)), sha256: 'f'.repeat(64) };
}

const networks = (c: ModelConfig) => ({ encoder: c.encoder, cond: c.cond, unet: c.unet, vq: c.vq, schedule: c.schedule });

describe('convert golden tiny checkpoints', () => {
  it('phase3.pth → bundle: config equals model_config.json, tensors equal tensors/*.npy', async () => {
    const golden = await goldenConfig(await goldenDir('tiny'));
    const plan = planConversion([await input('phase3.pth')], {
      // Neither the head count nor the image size is visible in the weights (phase3.pth's pickled config has neither).
      overrides: { encoder: { numHeads: golden.encoder.numHeads }, vq: { resolution: golden.vq.resolution } },
      preprocess: { rawVoxels: golden.preprocess.rawVoxels, mean: golden.preprocess.mean, std: golden.preprocess.std },
    });
    expect(networks(plan.config)).toEqual(networks(golden));
    expect(plan.config.preprocess).toMatchObject(golden.preprocess);
    expect(plan.report.extra).toEqual([]);
    expect(plan.report.dropped).toBeGreaterThan(0); // schedule buffers, VQ encoder, cls/mask tokens
    expect(plan.report.extras).toEqual([]);
    expect(plan.report.keptVQEncoder).toBe(false);
    expect(Object.keys(plan.tensors).some((n) => n.startsWith('first_stage_model.encoder.'))).toBe(false);
    const out = tmp();
    const manifest = await writeConvertedBundle(dirSink(out), plan, { shardBytes: 256 * 1024 });
    expect(manifest.shards.length).toBeGreaterThan(1);
    const loaded = await loadBundle(dirSource(out));
    const dir = await goldenDir('tiny');
    const names = Object.keys(expectedShapes(plan.config));
    expect(Object.keys(loaded.tensors).sort()).toEqual([...names].sort());
    for (const name of names) {
      const want = npyToFloat32(await goldenNpy(dir, `tensors/${name}`));
      expect([name, loaded.tensors[name].data.length === want.length && loaded.tensors[name].data.every((v, i) => v === want[i])]).toEqual([
        name,
        true,
      ]);
    }
    expect(manifest.card?.params).toMatchObject({ total: plan.params.total });
    expect(plan.params.total).toBe(names.reduce((a, n) => a + expectedShapes(plan.config)[n].reduce((x, y) => x * y, 1), 0));
  });

  it('phase3.pth + extras.safetensors: decoding_studio.* pass through, the VQ encoder is kept, values unchanged', async () => {
    const golden = await goldenConfig(await goldenDir('tiny'));
    const overrides = { encoder: { numHeads: golden.encoder.numHeads }, vq: { resolution: golden.vq.resolution } };
    const plan = planConversion([await input('phase3.pth'), await input('extras.safetensors')], { overrides });
    const dir = await goldenDir('tiny');
    const extras = JSON.parse(readFileSync(join(dir, 'extras.json'), 'utf8')) as string[];
    const encoder = Object.keys(vqEncoderShapes(plan.config));
    expect(networks(plan.config)).toEqual(networks(golden));
    expect(plan.report.extra).toEqual([]);
    expect(extras).toEqual(expect.arrayContaining(Object.values(LOWLEVEL_NAMES)));
    expect(plan.report.extras).toEqual(extras);
    expect(plan.report.keptVQEncoder).toBe(true);
    expect(plan.report.notes.join('\n')).toMatch(/low-level decoder \(decoding_studio\.lowlevel\.\*, K = 8\) present: kept the VQ encoder/);
    const names = [...Object.keys(expectedShapes(plan.config)), ...encoder, ...extras];
    expect(Object.keys(plan.tensors).sort()).toEqual([...names].sort());
    expect(plan.params.vqEncoder).toBe(encoder.reduce((a, n) => a + plan.tensors[n].shape.reduce((x, y) => x * y, 1), 0));
    expect(plan.params.lowLevel).toBe(112 * 8 + 8 + 8 * 1024 + 1024 + 1); // + coef_norm
    // The authors' part of the plan is what phase3.pth alone gives.
    const alone = planConversion([await input('phase3.pth')], { overrides });
    expect(alone.config).toEqual(plan.config);
    const bytes = (t: { read(): Float32Array }) => {
      const a = t.read();
      return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    };
    for (const n of Object.keys(alone.tensors)) {
      expect([n, plan.tensors[n].shape, bytes(plan.tensors[n]).equals(bytes(alone.tensors[n]))]).toEqual([n, alone.tensors[n].shape, true]);
    }
    const out = tmp();
    await writeConvertedBundle(dirSink(out), plan);
    const loaded = await loadBundle(dirSource(out));
    expect(Object.keys(loaded.tensors).sort()).toEqual([...names].sort());
    for (const name of [...encoder, ...extras]) {
      const want = npyToFloat32(await goldenNpy(dir, `tensors/${name}`));
      expect([name, loaded.tensors[name].data.every((v, i) => v === want[i]) && loaded.tensors[name].data.length === want.length]).toEqual([
        name,
        true,
      ]);
    }
  });

  it('low-level tensors without a VQ encoder, or mis-shaped, are refused by name', async () => {
    const base = (await input('phase3.pth')).checkpoint;
    const noEncoder: Checkpoint = {
      ...base,
      tensors: Object.fromEntries(Object.entries(base.tensors).filter(([n]) => !/^first_stage_model\.(encoder|quant_conv)\./.test(n))),
    };
    const extras = (await input('extras.safetensors')).checkpoint;
    const overrides = { encoder: { numHeads: 2 }, vq: { resolution: 32 } };
    expect(() =>
      planConversion(
        [
          { checkpoint: noEncoder, sha256: '0'.repeat(64) },
          { checkpoint: extras, sha256: '1'.repeat(64) },
        ],
        { overrides },
      ),
    ).toThrow(/missing:[\s\S]*first_stage_model\.encoder\.conv_in\.weight[\s\S]*runs its image through the VQ encoder/);
    const wrong: Checkpoint = {
      ...extras,
      file: 'wrong.safetensors',
      tensors: {
        ...extras.tensors,
        [LOWLEVEL_NAMES.ridgeWeight]: { shape: [100, 8], dtype: 'float32', read: () => new Float32Array(800) },
      },
    };
    expect(() =>
      planConversion(
        [
          { checkpoint: base, sha256: '0'.repeat(64) },
          { checkpoint: wrong, sha256: '1'.repeat(64) },
        ],
        { overrides },
      ),
    ).toThrow(`${LOWLEVEL_NAMES.ridgeWeight}: expected [112, 8], found [100, 8]`);
    for (const [value, shape] of [
      [0, [1]],
      [-2, [1]],
      [Number.NaN, [1]],
    ] as const) {
      const bad: Checkpoint = {
        ...extras,
        file: 'bad-norm.safetensors',
        tensors: {
          ...extras.tensors,
          [LOWLEVEL_COEF_NORM]: { shape: [...shape], dtype: 'float32', read: () => new Float32Array([value]) },
        },
      };
      expect(() =>
        planConversion(
          [
            { checkpoint: base, sha256: '0'.repeat(64) },
            { checkpoint: bad, sha256: '1'.repeat(64) },
          ],
          { overrides },
        ),
      ).toThrow(`${LOWLEVEL_COEF_NORM} must be a positive finite norm, found ${value}`);
    }
    const twoNorms: Checkpoint = {
      ...extras,
      file: 'two-norms.safetensors',
      tensors: { ...extras.tensors, [LOWLEVEL_COEF_NORM]: { shape: [2], dtype: 'float32', read: () => new Float32Array([1, 1]) } },
    };
    expect(() =>
      planConversion(
        [
          { checkpoint: base, sha256: '0'.repeat(64) },
          { checkpoint: twoNorms, sha256: '1'.repeat(64) },
        ],
        { overrides },
      ),
    ).toThrow(`${LOWLEVEL_COEF_NORM}: expected [1], found [2]`);
  });

  it('voxel positions: kept float32 (exact) in an fp16 bundle, not counted as parameters; a wrong shape, a NaN or no raw voxel count refused', async () => {
    const base = (await input('phase3.pth')).checkpoint;
    const raw = 100;
    // Millimetres that half precision would round: 1.8 mm steps and a 0.1 mm offset.
    const xyz = Float32Array.from({ length: raw * 3 }, (_, n) => -72.1 + 1.8 * (n % 97));
    const positions = (shape: number[], values: Float32Array): Checkpoint => ({
      ...base,
      file: 'voxel_positions.safetensors',
      stateDictKey: '',
      objects: {},
      tensors: { [VOXEL_XYZ_MM]: { shape, dtype: 'float32', read: () => values } },
    });
    const plan = (ck: Checkpoint, rawVoxels: number | null = raw) =>
      planConversion(
        [
          { checkpoint: base, sha256: '0'.repeat(64) },
          { checkpoint: ck, sha256: '1'.repeat(64) },
        ],
        { overrides: { encoder: { numHeads: 2 } }, ...(rawVoxels !== null ? { preprocess: { rawVoxels } } : {}) },
      );
    const ok = plan(positions([raw, 3], xyz));
    const alone = planConversion([{ checkpoint: base, sha256: '0'.repeat(64) }], {
      overrides: { encoder: { numHeads: 2 } },
      preprocess: { rawVoxels: raw },
    });
    expect(ok.params).toEqual(alone.params);
    expect(ok.report.extras).toEqual([VOXEL_XYZ_MM]);
    expect(ok.report.notes.join('\n')).toContain(`voxel positions (${VOXEL_XYZ_MM}, 100 × 3 mm) present`);
    const out = tmp();
    const manifest = await writeConvertedBundle(dirSink(out), ok, { dtype: 'float16' });
    expect(manifest.tensors.find((t) => t.name === VOXEL_XYZ_MM)).toMatchObject({ shape: [raw, 3], dtype: 'float32' });
    expect(Array.from((await loadBundle(dirSource(out))).tensors[VOXEL_XYZ_MM].data)).toEqual(Array.from(xyz));

    expect(() => plan(positions([raw + 1, 3], new Float32Array((raw + 1) * 3)))).toThrow(
      `${VOXEL_XYZ_MM} has shape [101, 3]; the voxel positions must be [rawVoxels, 3] = [100, 3]`,
    );
    expect(() => plan(positions([3, raw], new Float32Array(raw * 3)))).toThrow(ConvertError);
    const nan = xyz.slice();
    nan[7] = Number.NaN;
    expect(() => plan(positions([raw, 3], nan))).toThrow(`${VOXEL_XYZ_MM}: voxel 2 has a non-finite coordinate (NaN)`);
    expect(() => plan(positions([raw, 3], xyz), null)).toThrow(/the raw voxel count is unknown: give --raw-voxels N/);
  });

  it('phase1.pth + phase3.pth: encoder heads come from the pickled phase-1 config, phase 3 overrides the encoder', async () => {
    const golden = await goldenConfig(await goldenDir('tiny'));
    const plan = planConversion([await input('phase1.pth'), await input('phase3.pth')], {
      overrides: { vq: { resolution: golden.vq.resolution } },
    });
    expect(networks(plan.config)).toEqual(networks(golden));
    expect(plan.report.notes.join('\n')).toMatch(/phase1\.pth: encoder\.numHeads=2.*Config_MBM_fMRI_contrast/);
    expect(plan.report.overridden.length).toBeGreaterThan(0);
    expect(plan.report.overridden.every((o) => o.from === 'phase1.pth' && o.by === 'phase3.pth')).toBe(true);
    expect(plan.report.kinds.map((k) => k.kind)).toEqual(['phase1/2 encoder', 'phase3']);
  });

  it('phase1.pth + ldm.ckpt: error names the phase-3 mapper and time-cond tensors', async () => {
    const inputs = [await input('phase1.pth'), await input('ldm.ckpt')];
    let caught: unknown;
    try {
      planConversion(inputs, { overrides: { encoder: { numHeads: 2 } } });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ConvertError);
    const msg = (caught as Error).message;
    expect(msg).toMatch(/cond_stage_model\.channel_mapper\.0\.weight/);
    expect(msg).toMatch(/cond_stage_model\.dim_mapper\.weight/);
    expect(msg).toMatch(/model\.diffusion_model\.time_embed_condtion\.0\.weight/);
    expect(msg).toMatch(/add a phase-3 checkpoint/);
  });

  it('a mis-shaped tensor is reported with expected and found shapes', async () => {
    const base = (await input('phase3.pth')).checkpoint;
    const name = 'first_stage_model.post_quant_conv.weight';
    const broken: Checkpoint = {
      ...base,
      file: 'broken.safetensors',
      stateDictKey: '',
      objects: {},
      tensors: { [name]: { shape: [3, 3, 1, 2], dtype: 'float32', read: () => new Float32Array(18) } },
    };
    expect(() =>
      planConversion(
        [
          { checkpoint: base, sha256: '0'.repeat(64) },
          { checkpoint: broken, sha256: '1'.repeat(64) },
        ],
        { overrides: { encoder: { numHeads: 2 } } },
      ),
    ).toThrow(`${name}: expected [3, 3, 1, 1], found [3, 3, 1, 2]`);
  });
});

describe('convert CLI', () => {
  const cli = join(process.cwd(), 'src', 'cli', 'convert.ts');
  const tsx = join(process.cwd(), 'node_modules', '.bin', 'tsx');

  it('converts phase3.pth with --fp16 and prints a summary; --help works', async () => {
    const dir = await goldenDir('tiny');
    const cfg = join(tmp(), 'over.json');
    writeFileSync(cfg, JSON.stringify({ encoder: { numHeads: 2 }, vq: { resolution: 32 } }));
    const out = join(tmp(), 'bundle');
    const { stdout } = await run(tsx, [
      cli,
      join(dir, 'phase3.pth'),
      '--out',
      out,
      '--fp16',
      '--config',
      cfg,
      '--raw-voxels',
      '100',
      '--mean',
      '0.5',
      '--std',
      '2',
      '--shard-mb',
      '0.25',
    ]);
    expect(stdout).toMatch(/phase3\.pth: phase3, 494 tensors/);
    expect(stdout).toMatch(/wrote .*float16/);
    expect(stdout).toMatch(/unet\s+[\d.]+ M params/);
    const loaded = await loadBundle(dirSource(out));
    expect(loaded.manifest.dtype).toBe('float16');
    expect(loaded.manifest.config.preprocess).toMatchObject({ rawVoxels: 100, mean: 0.5, std: 2 });
    expect(networks(loaded.manifest.config)).toEqual(networks(await goldenConfig(await goldenDir('tiny'))));
    const help = await run(tsx, [cli, '--help']);
    expect(help.stdout).toMatch(/--raw-voxels/);
    expect(stdout).toMatch(/no low-level decoder .*VQ encoder is not needed and was dropped/);
  });

  it('converts phase3.pth + extras.safetensors and says what it kept', async () => {
    const dir = await goldenDir('tiny');
    const cfg = join(tmp(), 'over.json');
    writeFileSync(cfg, JSON.stringify({ encoder: { numHeads: 2 }, vq: { resolution: 32 } }));
    const out = join(tmp(), 'bundle');
    const { stdout } = await run(tsx, [
      cli,
      join(dir, 'phase3.pth'),
      join(dir, 'extras.safetensors'),
      '--out',
      out,
      '--fp16',
      '--config',
      cfg,
    ]);
    const extras = JSON.parse(readFileSync(join(dir, 'extras.json'), 'utf8')) as string[];
    expect(stdout).toContain(`extras.safetensors: full state dict, ${extras.length} tensors`);
    expect(stdout).toContain(`kept ${extras.length} decoding_studio.* tensors: ${extras.join(', ')}`);
    expect(stdout).toMatch(/kept the VQ encoder and quant_conv for the low-level decoder/);
    expect(stdout).toMatch(/lowLevel\s+[\d.]+ M params/);
    const loaded = await loadBundle(dirSource(out));
    expect(loaded.tensors['first_stage_model.encoder.conv_in.weight'].shape).toEqual([32, 3, 3, 3]);
    expect(loaded.tensors[LOWLEVEL_NAMES.ridgeBias].shape).toEqual([8]);
  });

  it('exits non-zero with the missing tensors for phase1 + ldm', async () => {
    const dir = await goldenDir('tiny');
    const err = await run(tsx, [cli, join(dir, 'phase1.pth'), join(dir, 'ldm.ckpt'), '--out', join(tmp(), 'b')]).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(1);
    expect(err?.stderr).toMatch(/ConvertError: .*missing/s);
    expect(err?.stderr).toMatch(/time_embed_condtion/);
  });
});
