import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { goldenDir, goldenNpy, PYTHON, REPO_ROOT } from '../../test/golden';
import { npyToFloat32 } from '../io/npy';
import {
  ddimTimesteps,
  img2imgStartIndex,
  makeSchedule,
  runTimesteps,
  SamplerOptionsError,
  stepCoefficients,
  stepSpacing,
  trailingTimesteps,
  uniformTimesteps,
} from './schedule';

const CFG = { numTimesteps: 1000, linearStart: 0.0015, linearEnd: 0.0195 };

describe('noise schedule', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await goldenDir('tiny');
  });

  it('matches the PyTorch buffers betas and alphas_cumprod', async () => {
    const s = makeSchedule(CFG);
    const betas = npyToFloat32(await goldenNpy(dir, 'tensors/betas'));
    const ac = npyToFloat32(await goldenNpy(dir, 'tensors/alphas_cumprod'));
    expect(Array.from(Float32Array.from(s.betas))).toEqual(Array.from(betas));
    let worst = 0;
    for (let i = 0; i < ac.length; i++) worst = Math.max(worst, Math.abs(s.alphasCumprod[i] - ac[i]) / ac[i]);
    expect(worst).toBeLessThanOrEqual(1e-6);
  });

  it('has the published LDM values', () => {
    const s = makeSchedule(CFG);
    expect(s.betas[0]).toBeCloseTo(0.0015, 12);
    expect(s.betas[999]).toBeCloseTo(0.0195, 12);
    expect(s.alphasCumprod[250]).toBeCloseTo(0.50842, 5);
    expect(s.alphasCumprod[999]).toBeCloseTo(1.42304e-4, 8);
  });

  it("discretises 'uniform' as the authors: range(0, 1000, 1000 // S) + 1", async () => {
    const plms = Array.from(await goldenNpy(dir, 'plms_timesteps').then((a) => a.data), Number);
    const ddim = Array.from(await goldenNpy(dir, 'ddim_timesteps').then((a) => a.data), Number);
    expect(uniformTimesteps(10).reverse()).toEqual(plms);
    expect(uniformTimesteps(12)).toHaveLength(13);
    expect(uniformTimesteps(12).reverse()).toEqual(ddim);
    const t250 = uniformTimesteps(250);
    expect([t250.length, t250[0], t250[1], t250[249]]).toEqual([250, 1, 5, 997]);
    for (const S of [0, -1, 2.5, Number.NaN, 1001]) {
      expect(() => uniformTimesteps(S)).toThrow(SamplerOptionsError);
      expect(() => ddimTimesteps(S)).toThrow(/the step count must be a whole number from 1 to 1000/);
    }
  });

  it('has no uniform list where it would reach t = 1000; those step counts use the trailing spacing', () => {
    // Python: [S for S in range(1, 1001) if max(range(0, 1000, 1000 // S)) + 1 >= 1000] starts 3, 9, 27, 36, 37,
    // 101..111, 251..333, 501..1000 (PyTorch's alphas_cumprod[1000] raises IndexError for these).
    for (const S of [3, 9, 27, 36, 37, 101, 111, 251, 300, 333, 501, 1000]) {
      expect(() => uniformTimesteps(S)).toThrow(/past the 1000-step schedule/);
      expect(stepSpacing(S)).toBe('trailing');
      expect(ddimTimesteps(S)).toEqual(trailingTimesteps(S));
    }
    for (const S of [1, 2, 4, 8, 10, 26, 35, 38, 100, 112, 250, 334, 500]) {
      expect(uniformTimesteps(S).at(-1)).toBeLessThan(1000);
      expect(stepSpacing(S)).toBe('uniform');
    }
    // Hand-worked edges: round(1000·(S−i)/S) − 1.
    expect(trailingTimesteps(3)).toEqual([332, 666, 999]);
    expect(trailingTimesteps(999).slice(0, 3)).toEqual([0, 1, 2]);
    expect(trailingTimesteps(999).at(-1)).toBe(999);
    expect(ddimTimesteps(1000)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(ddimTimesteps(1)).toEqual([1]);
    expect(ddimTimesteps(2)).toEqual([1, 501]);
  });

  it('gives every step count 1..T the list of the PyTorch reference (python/cad_ref ddim_timesteps), for T = 1000 and 50', async () => {
    const script =
      'import json, sys\nfrom cad_ref.diffusion import ddim_timesteps, step_spacing\n' +
      'print(json.dumps({T: [[step_spacing(S, T), [int(t) for t in ddim_timesteps(S, T)]] for S in range(1, T + 1)] for T in (1000, 50)}))';
    const { stdout } = await promisify(execFile)(PYTHON, ['-c', script], {
      cwd: REPO_ROOT,
      env: { ...process.env, PYTHONPATH: join(REPO_ROOT, 'python') },
      maxBuffer: 64 * 1024 * 1024,
      timeout: 120_000,
    });
    const ref = JSON.parse(stdout) as Record<string, [string, number[]][]>;
    for (const T of [1000, 50]) {
      ref[T].forEach(([spacing, ts], i) => {
        const S = i + 1;
        if (stepSpacing(S, T) !== spacing || ddimTimesteps(S, T).join() !== ts.join()) {
          throw new Error(
            `S = ${S}, T = ${T}: ${stepSpacing(S, T)} [${ddimTimesteps(S, T).slice(0, 4)}…] vs ${spacing} [${ts.slice(0, 4)}…]`,
          );
        }
      });
    }
  }, 120_000);

  it('derives DDIM sigmas from the float64 formula, ᾱ[0] as the last step’s ᾱ_prev', () => {
    const s = makeSchedule(CFG);
    const c = stepCoefficients(s, 12, 0.5);
    const ts = uniformTimesteps(12).reverse();
    expect(c.timesteps).toEqual(ts);
    ts.forEach((t, i) => {
      const a = s.alphasCumprod[t];
      const prev = i === ts.length - 1 ? s.alphasCumprod[0] : s.alphasCumprod[ts[i + 1]];
      expect(c.alphasPrev[i]).toBe(prev);
      const sigma = 0.5 * Math.sqrt(((1 - prev) / (1 - a)) * (1 - a / prev));
      expect(Math.abs(c.sigmas[i] - sigma) / sigma).toBeLessThan(1e-6);
      expect(c.sqrtOneMinusAlphas[i]).toBeCloseTo(Math.sqrt(1 - a), 6);
    });
    expect(stepCoefficients(s, 12, 0).sigmas.every((v) => v === 0)).toBe(true);
    expect(() => stepCoefficients(s, 12, -1)).toThrow(SamplerOptionsError);
  });
});

describe('img2img step list', () => {
  it('starts at the step whose t is nearest to strength·T, ties to the later step', () => {
    expect(runTimesteps(10, 1000, 0.5)).toEqual([501, 401, 301, 201, 101, 1]);
    expect(runTimesteps(12, 1000, 0.5)).toEqual([499, 416, 333, 250, 167, 84, 1]);
    expect(runTimesteps(10, 1000, 0.551)).toEqual([501, 401, 301, 201, 101, 1]); // 601 and 501 both 50 away
    expect(runTimesteps(10, 1000, 0.552)).toEqual([601, 501, 401, 301, 201, 101, 1]);
    expect(runTimesteps(10, 1000, 1)).toEqual(uniformTimesteps(10).reverse());
    expect(runTimesteps(10, 1000)).toEqual(uniformTimesteps(10).reverse());
    expect(runTimesteps(50, 1000, 0.001)).toEqual([1]);
    expect(img2imgStartIndex([901, 801, 701], 0.8, 1000)).toBe(1);
    // On the trailing list of 3 steps [999, 666, 332]: 666 is nearest to 500 (166 vs 168).
    expect(runTimesteps(3, 1000, 0.5)).toEqual([666, 332]);
    expect(runTimesteps(1000, 1000, 0.0005)).toEqual([0]);
  });

  it.each([0, -0.1, 1.01, Number.NaN])('refuses strength %s', (s) => {
    expect(() => runTimesteps(10, 1000, s)).toThrow(SamplerOptionsError);
    expect(() => runTimesteps(10, 1000, s)).toThrow(/strength must be a number above 0 and at most 1/);
  });
});
