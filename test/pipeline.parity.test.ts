// End-to-end parity: a checkpoint in the authors' phase-3 layout, written by the independent PyTorch
// reference (python/cad_ref), is converted with `npm run convert`, decoded with `npm run decode --dump`,
// and every dumped stage is compared with the PyTorch outputs: fp32 to 1e-4 relative on wasm and cpu.
import { beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { goldenConfig, goldenDir, goldenNpy, goldenSamplers, goldenTrajectory, REPO_ROOT } from './golden';
import { maxRel } from './compare';
import { npyToFloat32, readNpy, writeNpy, type NpyArray } from '../src/io/npy';
import type { ModelConfig } from '../src/model/config';
import { loadBundle } from '../src/io/bundle';
import { dirSource } from '../src/io/bundle/node';
import {
  conditioning,
  decodeLatents,
  decodeSteps,
  hasNullContext,
  modelFromWeights,
  NonFiniteError,
  nullContext,
  runToEnd,
  type EngineModel,
} from '../src/engine/pipeline';
import { guidedEps } from '../src/diffusion/guidance';
import { ddimSampler } from '../src/diffusion/ddim';
import { plmsSampler } from '../src/diffusion/plms';
import { unet } from '../src/model/unet';

const run = promisify(execFile);
const TSX = join(REPO_ROOT, 'node_modules/.bin/tsx');

/** Row `r` of axis `axis` of a C-order array. */
function take(a: NpyArray, axis: number, r: number): Float32Array {
  const data = npyToFloat32(a);
  const outer = a.shape.slice(0, axis).reduce((x, y) => x * y, 1);
  const inner = a.shape.slice(axis + 1).reduce((x, y) => x * y, 1);
  const n = a.shape[axis];
  const out = new Float32Array(outer * inner);
  for (let o = 0; o < outer; o++) out.set(data.subarray((o * n + r) * inner, (o * n + r + 1) * inner), o * inner);
  return out;
}

let dir: string, tmp: string, cfg: ModelConfig, bundle: string, bundle16: string;
const g = (name: string) => goldenNpy(dir, name);
const npyFile = async (path: string) => readNpy(new Uint8Array(await readFile(path)));

async function convert(out: string, extra: string[] = []): Promise<void> {
  const pre = cfg.preprocess;
  // Sizes that no tensor shape carries (the latent side) come from an overrides file, as a user would give them.
  const overrides = join(tmp, 'overrides.json');
  await writeFile(overrides, JSON.stringify({ unet: { imageSize: cfg.unet.imageSize }, vq: { resolution: cfg.vq.resolution } }));
  await run(
    TSX,
    [
      'src/cli/convert.ts',
      join(dir, 'phase3.pth'),
      '--out',
      out,
      '--raw-voxels',
      String(pre.rawVoxels),
      '--mean',
      String(pre.mean),
      '--std',
      String(pre.std),
      '--config',
      overrides,
      ...extra,
    ],
    { cwd: REPO_ROOT },
  );
}

beforeAll(async () => {
  dir = await goldenDir('tiny');
  cfg = await goldenConfig(dir);
  tmp = await mkdtemp(join(tmpdir(), 'parity-'));
  bundle = join(tmp, 'bundle');
  bundle16 = join(tmp, 'bundle16');
  await Promise.all([convert(bundle), convert(bundle16, ['--fp16'])]);
}, 300_000);

/** Runs `npm run decode -- … --dump` for fMRI row `row` with the golden x_T of that row. */
async function decodeDump(model: string, sampler: 'plms' | 'ddim', row: number, backend: string, out: string): Promise<void> {
  const xT = await g(`${sampler}_xT`);
  const noise = join(tmp, `${sampler}_xT_${row}.npy`);
  await writeFile(noise, writeNpy(take(xT, 0, row), [1, ...xT.shape.slice(1)]));
  const samplers = await goldenSamplers(dir);
  await run(
    TSX,
    [
      'src/cli/decode.ts',
      '--model',
      model,
      '--fmri',
      join(dir, 'fmri_raw.npy'),
      '--sample',
      String(row),
      '--noise',
      noise,
      '--sampler',
      sampler,
      '--steps',
      String(samplers[sampler].steps),
      '--backend',
      backend,
      '--dump',
      '--out',
      out,
    ],
    { cwd: REPO_ROOT },
  );
}

describe.each(['wasm', 'cpu'])('decode --dump vs PyTorch (fp32, %s)', (backend) => {
  const row = 1;
  let out: string;
  beforeAll(async () => {
    out = join(tmp, `plms-${backend}`);
    await decodeDump(bundle, 'plms', row, backend, out);
  }, 300_000);

  it.each([
    ['fmri', 'fmri', 0],
    ['encoder_out', 'encoder_out', 0],
    ['cond', 'cond', 0],
    ['x_t', 'plms_x_t', 1],
    ['eps', 'plms_eps', 1],
    ['x0', 'plms_x0', 1],
    ['final', 'plms_final', 0],
    ['image', 'plms_image', 0],
  ] as const)('stage %s matches to 1e-4', async (dumped, golden, axis) => {
    const ours = npyToFloat32(await npyFile(join(out, `${dumped}.npy`)));
    const ref = take(await g(golden), axis, row);
    expect(maxRel(ours, ref)).toBeLessThanOrEqual(1e-4);
  });

  it('runs the real number of steps and timesteps of the uniform discretisation', async () => {
    const ts = npyToFloat32(await npyFile(join(out, 'timesteps.npy')));
    expect(Array.from(ts)).toEqual(Array.from(npyToFloat32(await g('plms_timesteps'))));
  });

  it('writes a PNG per sample and a receipt', async () => {
    const png = await readFile(join(out, 'sample_0.png'));
    expect(Array.from(png.subarray(1, 4))).toEqual([0x50, 0x4e, 0x47]);
    const receipt = JSON.parse(await readFile(join(out, 'receipt.json'), 'utf8'));
    expect(receipt).toMatchObject({ sampler: 'plms', steps: 10, numSamples: 1, backend, fmri: { sampleIndex: row } });
  });
});

describe('whole trajectories in process (fp32, wasm)', () => {
  let model: EngineModel;
  let c: tf.Tensor3D;
  beforeAll(async () => {
    await tf.setBackend('wasm');
    // Keep every weight (no release of re-laid-out kernels) so perturbed copies can be prepared again.
    const { manifest, tensors } = await loadBundle(dirSource(bundle));
    model = modelFromWeights(
      manifest.config,
      Object.fromEntries(Object.entries(tensors).map(([name, t]) => [name, tf.tensor(t.data, t.shape)])),
    );
    const raw = await g('fmri_raw');
    const cond = conditioning(model, [take(raw, 0, 0), take(raw, 0, 1)]);
    cond.encoderOut.dispose();
    c = cond.c;
  });

  async function trajectory(sampler: 'plms' | 'ddim'): Promise<Record<string, Float32Array[]>> {
    const samplers = await goldenSamplers(dir);
    const golden = await goldenTrajectory(dir, sampler);
    const x = tf.tensor4d(golden.xT, golden.shape);
    const eps = (xt: tf.Tensor4D, t: number) => unet(model.config, model.unet, xt, t, c);
    const gen =
      sampler === 'plms'
        ? plmsSampler({ schedule: model.schedule, steps: samplers.plms.steps, eps, xT: x })
        : ddimSampler({
            schedule: model.schedule,
            steps: samplers.ddim.steps,
            eta: samplers.ddim.eta,
            eps,
            xT: x,
            noise: (i) => tf.tensor4d(golden.noise[i], golden.shape),
          });
    const rec: Record<string, Float32Array[]> = { x_t: [], eps: [], x0: [] };
    let r = await gen.next();
    while (!r.done) {
      rec.x_t.push((await r.value.xt.data()) as Float32Array);
      rec.eps.push((await r.value.eps.data()) as Float32Array);
      rec.x0.push((await r.value.x0.data()) as Float32Array);
      r = await gen.next();
    }
    rec.final = [(await r.value.data()) as Float32Array];
    tf.dispose([r.value, x]);
    return rec;
  }

  it.each(['plms', 'ddim'] as const)('%s: every step of a batch of 2 (each its own fMRI) matches to 1e-4', async (sampler) => {
    const rec = await trajectory(sampler);
    const ref = await goldenTrajectory(dir, sampler);
    for (const key of ['x_t', 'eps', 'x0'] as const) {
      expect(rec[key].length).toBe(ref[key].length);
      rec[key].forEach((ours, i) => expect(maxRel(ours, ref[key][i]), `${key}[${i}]`).toBeLessThanOrEqual(1e-4));
    }
    expect(maxRel(rec.final[0], ref.final)).toBeLessThanOrEqual(1e-4);
  });

  // One tensor from each network, each shifted by 1e-3, must push the stage it feeds out of the 1e-4 band:
  // the final latent for the conditioning and UNet weights, the image for the VQ decoder. (The tiny
  // random model's latents are large, so its images mostly clamp and would hide upstream changes.)
  it.each([
    'cond_stage_model.mae.blocks.0.mlp.fc1.weight',
    'cond_stage_model.channel_mapper.0.bias',
    'model.diffusion_model.middle_block.1.transformer_blocks.0.attn2.to_k.weight',
    'first_stage_model.decoder.conv_out.bias',
  ])('fails when %s is perturbed by 1e-3 (the comparison can fail)', async (name) => {
    const weights = { ...model.weights };
    const bumped = tf.add(weights[name], 1e-3);
    weights[name] = bumped;
    const perturbed = modelFromWeights(model.config, weights);
    const raw = await g('fmri_raw');
    const cond = conditioning(perturbed, [take(raw, 0, 0), take(raw, 0, 1)]);
    cond.encoderOut.dispose();
    const pc = cond.c;
    const xT = await g('plms_xT');
    const x = tf.tensor4d(npyToFloat32(xT), xT.shape as [number, number, number, number]);
    const last = await runToEnd(
      plmsSampler({ schedule: perturbed.schedule, steps: 10, eps: (xt, t) => unet(perturbed.config, perturbed.unet, xt, t, pc), xT: x }),
    );
    const final = (await last.data()) as Float32Array;
    const err = name.startsWith('first_stage_model.')
      ? maxRel((await decodeLatents(perturbed, final, 2)).data, npyToFloat32(await g('plms_image')))
      : maxRel(final, npyToFloat32(await g('plms_final')));
    expect(err).toBeGreaterThan(1e-4);
    tf.dispose([last, x, bumped, pc]);
  });
  it('stops with NonFiniteError at the first step when a weight is NaN, instead of decoding garbage', async () => {
    const name = 'model.diffusion_model.out.2.bias';
    const weights = { ...model.weights };
    const nan = tf.fill(weights[name].shape, NaN);
    weights[name] = nan;
    const broken = modelFromWeights(model.config, weights);
    const raw = await g('fmri_raw');
    const steps = decodeSteps(broken, take(raw, 0, 0), { sampler: 'ddim', steps: 4, eta: 0, seed: 0, numSamples: 1 });
    await expect(runToEnd(steps)).rejects.toThrow(NonFiniteError);
    await expect(
      runToEnd(decodeSteps(broken, take(raw, 0, 0), { sampler: 'plms', steps: 4, eta: 0, seed: 0, numSamples: 1 })),
    ).rejects.toThrow(/step 1 of 4 \(t = 751\) produced NaN or infinite values on the wasm backend/);
    nan.dispose();
  });
});

describe('fp16 bundle (packed float16 weights, fp32 math)', () => {
  // Stated tolerance: weights rounded to fp16 (2^-11 relative) move the untrained tiny decoder's
  // latents by well under 1 %; the final image stays within 1/100 of its range.
  it('decodes within 1e-2 relative of PyTorch fp32 (latents and image)', async () => {
    const row = 0;
    const out = join(tmp, 'plms-fp16');
    await decodeDump(bundle16, 'plms', row, 'wasm', out);
    for (const [dumped, golden, axis] of [
      ['cond', 'cond', 0],
      ['final', 'plms_final', 0],
      ['image', 'plms_image', 0],
    ] as const) {
      const ours = npyToFloat32(await npyFile(join(out, `${dumped}.npy`)));
      const err = maxRel(ours, take(await g(golden), axis, row));
      expect(err, dumped).toBeLessThanOrEqual(1e-2);
      expect(err, `${dumped}: fp16 storage must differ from fp32 at all`).toBeGreaterThan(0);
    }
  });
});

describe('decode receipts', () => {
  it('a receipt replays the same decode, and typed flags override it', async () => {
    const fmri = join(dir, 'fmri_raw.npy');
    const a = join(tmp, 'receipt-a'),
      b = join(tmp, 'receipt-b'),
      c = join(tmp, 'receipt-c');
    await run(
      TSX,
      [
        'src/cli/decode.ts',
        '--model',
        bundle,
        '--fmri',
        fmri,
        '--sample',
        '1',
        '--sampler',
        'ddim',
        '--steps',
        '4',
        '--eta',
        '0.5',
        '--seed',
        '7',
        '--out',
        a,
        '--dump',
      ],
      { cwd: REPO_ROOT },
    );
    await run(TSX, ['src/cli/decode.ts', '--model', bundle, '--fmri', fmri, '--receipt', join(a, 'receipt.json'), '--out', b, '--dump'], {
      cwd: REPO_ROOT,
    });
    const final = async (d: string) => npyToFloat32(await npyFile(join(d, 'final.npy')));
    expect(Array.from(await final(b))).toEqual(Array.from(await final(a)));
    const ra = JSON.parse(await readFile(join(a, 'receipt.json'), 'utf8'));
    const rb = JSON.parse(await readFile(join(b, 'receipt.json'), 'utf8'));
    expect({ ...rb, createdAt: 0 }).toEqual({ ...ra, createdAt: 0 });
    await run(
      TSX,
      ['src/cli/decode.ts', '--model', bundle, '--fmri', fmri, '--receipt', join(a, 'receipt.json'), '--seed', '8', '--out', c, '--dump'],
      { cwd: REPO_ROOT },
    );
    expect(JSON.parse(await readFile(join(c, 'receipt.json'), 'utf8'))).toMatchObject({
      seed: 8,
      steps: 4,
      eta: 0.5,
      fmri: { sampleIndex: 1 },
    });
    expect(Array.from(await final(c))).not.toEqual(Array.from(await final(a)));
  });
});

// Classifier-free guidance and img2img (issue 16) against PyTorch: a bundle converted from phase3.pth plus
// the extras file (null context, low-level decoder) that training writes beside it.
describe('guidance and img2img vs PyTorch (fp32)', () => {
  let bundleX: string;
  beforeAll(async () => {
    bundleX = join(tmp, 'bundle-extras');
    await convert(bundleX, [join(dir, 'extras.safetensors')]);
  }, 300_000);

  describe.each(['wasm', 'cpu'])('in process on %s', (backend) => {
    let model: EngineModel;
    let c: tf.Tensor3D;
    beforeAll(async () => {
      await tf.setBackend(backend);
      const { manifest, tensors } = await loadBundle(dirSource(bundleX));
      model = modelFromWeights(
        manifest.config,
        Object.fromEntries(Object.entries(tensors).map(([name, t]) => [name, tf.tensor(t.data, t.shape)])),
        {},
        { releaseRelaid: true },
      );
      const raw = await g('fmri_raw');
      const cond = conditioning(model, [take(raw, 0, 0), take(raw, 0, 1)]);
      cond.encoderOut.dispose();
      c = cond.c;
    }, 120_000);

    it('keeps the null context through the converter and the release of re-laid-out weights', async () => {
      expect(hasNullContext(model)).toBe(true);
      expect(maxRel(await nullContext(model)!.data(), npyToFloat32(await g('tensors/decoding_studio.null_context')))).toBe(0);
    });

    it.each([
      ['plms', 'guided'],
      ['ddim', 'guided'],
      ['plms', 'img2img'],
      ['ddim', 'img2img'],
      ['plms', 'trailing'],
      ['ddim', 'trailing'],
    ] as const)('%s %s: every step of a batch of 2 matches to 1e-4', async (sampler, variant) => {
      const samplers = await goldenSamplers(dir);
      const ref = await goldenTrajectory(dir, sampler, variant);
      const x = tf.tensor4d(ref.xT, ref.shape);
      const x0Init = variant === 'img2img' ? tf.tensor4d(npyToFloat32(await g('img2img_x0_init')), ref.shape) : undefined;
      const eps = guidedEps(
        (xt, t, ctx) => unet(model.config, model.unet, xt, t, ctx),
        c,
        nullContext(model),
        variant === 'guided' ? samplers.guided.guidance : 1,
      );
      const init = x0Init ? { init: { x0: x0Init, strength: samplers.img2img.strength } } : {};
      // The trailing runs use a step count the authors' uniform spacing cannot (issue 12).
      const steps = variant === 'trailing' ? samplers.trailing.steps : samplers[sampler].steps;
      const gen =
        sampler === 'plms'
          ? plmsSampler({ schedule: model.schedule, steps, eps, xT: x, ...init })
          : ddimSampler({
              schedule: model.schedule,
              steps,
              eta: samplers.ddim.eta,
              eps,
              xT: x,
              ...init,
              noise: (i) => tf.tensor4d(ref.noise[i], ref.shape),
            });
      const ts: number[] = [];
      let worst = 0;
      let r = await gen.next();
      while (!r.done) {
        const s = r.value;
        ts.push(s.t);
        worst = Math.max(
          worst,
          maxRel(await s.xt.data(), ref.x_t[s.index]),
          maxRel(await s.eps.data(), ref.eps[s.index]),
          maxRel(await s.x0.data(), ref.x0[s.index]),
        );
        r = await gen.next();
      }
      expect(ts).toEqual(ref.timesteps);
      expect(worst).toBeLessThanOrEqual(1e-4);
      expect(maxRel(await r.value.data(), ref.final)).toBeLessThanOrEqual(1e-4);
      eps.dispose();
      tf.dispose([r.value, x, ...(x0Init ? [x0Init] : [])]);
    });

    it('decodeSteps with init lowlevel yields the low-level start first, then only the steps from the strength', async () => {
      const raw = await g('fmri_raw');
      const steps = decodeSteps(model, take(raw, 0, 1), {
        sampler: 'ddim',
        steps: 12,
        eta: 0,
        seed: 3,
        numSamples: 2,
        init: 'lowlevel',
        strength: 0.5,
      });
      const first = await steps.next();
      if (first.done || first.value.kind !== 'init') throw new Error('the first event must be the init frame');
      const f = first.value;
      expect([f.t, f.steps]).toEqual([499, 7]);
      expect(maxRel(f.pixels, take(await g('lowlevel_pix'), 0, 1))).toBeLessThanOrEqual(1e-4);
      const z0 = take(await g('lowlevel_z0'), 0, 1);
      expect(maxRel(f.x0.subarray(0, z0.length), z0)).toBeLessThanOrEqual(1e-4);
      expect(Array.from(f.x0.subarray(z0.length))).toEqual(Array.from(f.x0.subarray(0, z0.length))); // every sample
      const ts: number[] = [];
      let r = await steps.next();
      if (!r.done && r.value.kind === 'step') expect(Array.from(r.value.xt)).toEqual(Array.from(f.xt)); // frame 0's x_t starts the sampler
      while (!r.done) {
        if (r.value.kind === 'step') ts.push(r.value.t);
        r = await steps.next();
      }
      expect(ts).toEqual([499, 416, 333, 250, 167, 84, 1]);
    });
  });

  it.each(['wasm', 'cpu'])(
    'decode --guidance 3 (PLMS) matches the guided PyTorch trajectory and records it in the receipt (%s)',
    async (backend) => {
      const row = 1;
      const ref = await g('plms_guided_xT');
      const noise = join(tmp, `plms_guided_xT_${row}.npy`);
      await writeFile(noise, writeNpy(take(ref, 0, row), [1, ...ref.shape.slice(1)]));
      const out = join(tmp, `guided-${backend}`);
      await run(
        TSX,
        [
          'src/cli/decode.ts',
          '--model',
          bundleX,
          '--fmri',
          join(dir, 'fmri_raw.npy'),
          '--sample',
          String(row),
          '--noise',
          noise,
          '--sampler',
          'plms',
          '--steps',
          '10',
          '--guidance',
          '3',
          '--backend',
          backend,
          '--dump',
          '--out',
          out,
        ],
        { cwd: REPO_ROOT },
      );
      for (const [dumped, golden, axis] of [
        ['eps', 'plms_guided_eps', 1],
        ['x0', 'plms_guided_x0', 1],
        ['final', 'plms_guided_final', 0],
      ] as const) {
        expect(
          maxRel(npyToFloat32(await npyFile(join(out, `${dumped}.npy`))), take(await g(golden), axis, row)),
          dumped,
        ).toBeLessThanOrEqual(1e-4);
      }
      const receipt = JSON.parse(await readFile(join(out, 'receipt.json'), 'utf8'));
      expect(receipt).toMatchObject({
        init: 'noise',
        strength: 1,
        guidance: 3,
        timesteps: [901, 801, 701, 601, 501, 401, 301, 201, 101, 1],
      });
    },
  );

  it('refuses guidance on a model without a null context, and init lowlevel on one without a low-level decoder, saying what is missing', async () => {
    const fmri = join(dir, 'fmri_raw.npy');
    const fail = (extra: string[]) =>
      run(TSX, ['src/cli/decode.ts', '--model', bundle, '--fmri', fmri, '--steps', '4', '--out', join(tmp, 'refused'), ...extra], {
        cwd: REPO_ROOT,
      }).then(
        () => '',
        (e: { stderr: string }) => e.stderr,
      );
    expect(await fail(['--guidance', '3'])).toMatch(
      /has no classifier-free guidance null context \(decoding_studio\.null_context \[77, 32\]\).*Use guidance 1/s,
    );
    expect(await fail(['--init', 'lowlevel', '--strength', '0.5'])).toMatch(
      /cannot start from the fMRI-predicted latent.*no low-level decoder/s,
    );
    expect(await fail(['--strength', '0.5'])).toMatch(
      /--strength must be 1 unless the run starts from the low-level latent \(init lowlevel; init is "noise"\) \(got 0\.5\)/,
    );
    expect(await fail(['--guidance', '-1'])).toMatch(/--guidance must be a finite number of at least 0 \(got -1\)/);
  });

  it('a lowlevel img2img receipt replays the same decode', async () => {
    const fmri = join(dir, 'fmri_raw.npy');
    const a = join(tmp, 'll-a'),
      b = join(tmp, 'll-b');
    await run(
      TSX,
      [
        'src/cli/decode.ts',
        '--model',
        bundleX,
        '--fmri',
        fmri,
        '--sample',
        '0',
        '--sampler',
        'ddim',
        '--steps',
        '12',
        '--eta',
        '0.5',
        '--init',
        'lowlevel',
        '--strength',
        '0.5',
        '--guidance',
        '2',
        '--out',
        a,
        '--dump',
      ],
      { cwd: REPO_ROOT },
    );
    await run(TSX, ['src/cli/decode.ts', '--model', bundleX, '--fmri', fmri, '--receipt', join(a, 'receipt.json'), '--out', b, '--dump'], {
      cwd: REPO_ROOT,
    });
    const ra = JSON.parse(await readFile(join(a, 'receipt.json'), 'utf8'));
    expect(ra).toMatchObject({ init: 'lowlevel', strength: 0.5, guidance: 2, timesteps: [499, 416, 333, 250, 167, 84, 1] });
    const final = async (d: string) => npyToFloat32(await npyFile(join(d, 'final.npy')));
    expect(Array.from(await final(b))).toEqual(Array.from(await final(a)));
    expect((await npyFile(join(a, 'x_t.npy'))).shape[0]).toBe(7);
    expect((await readFile(join(a, 'lowlevel.png'))).length).toBeGreaterThan(50);
  });
});
