import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend';
import { withCached, type MeasuredBackend } from './backendChoice';
import { chooseBackend, probeShapeKey, timeProbe } from './backendProbe';

// Node gets navigator.gpu from Dawn on SwiftShader (test/setup-webgpu.ts): a software adapter, as in the studio here.
const shape = { batch: 1, latent: 4, channels: 16 };

function recorder() {
  const calls: MeasuredBackend[] = [];
  const setBackend = async (b: MeasuredBackend) => {
    calls.push(b);
    try {
      await initBackend([b]);
      return undefined;
    } catch (e) {
      return (e as Error).message;
    }
  };
  return { calls, setBackend };
}

describe('chooseBackend', () => {
  afterAll(async () => {
    await initBackend(['cpu']);
  });

  it('probes both backends, decides, and activates the choice; the cache and the override skip the probe', async () => {
    const probe = recorder();
    const measured = await chooseBackend(shape, { override: 'auto', cache: {} }, probe.setBackend);
    expect(measured.decision.how).toBe('probe');
    expect(measured.adapter?.software).toBe(true);
    expect(Object.keys(measured.timings).sort()).toEqual(['wasm', 'webgpu']);
    expect(measured.key).toContain(probeShapeKey(shape));
    expect(tf.getBackend()).toBe(measured.decision.backend);
    expect(probe.calls).toEqual(['wasm', 'webgpu', measured.decision.backend]);

    // Cached: the other backend than measured, to see that the cache (not a new probe) decides.
    const other: MeasuredBackend = measured.decision.backend === 'wasm' ? 'webgpu' : 'wasm';
    const prefs = withCached({ override: 'auto', cache: {} }, measured.key, {
      backend: other,
      reason: 'cached reason',
      measuredAt: '2026-12-01T05:00:00.000Z',
    });
    const cached = recorder();
    const fromCache = await chooseBackend(shape, prefs, cached.setBackend);
    expect(fromCache.decision).toMatchObject({ backend: other, how: 'cache' });
    expect(fromCache.timings).toEqual({});
    expect(cached.calls).toEqual(['wasm', other]);
    expect(tf.getBackend()).toBe(other);

    const overridden = recorder();
    const byUser = await chooseBackend(shape, { ...prefs, override: 'wasm' }, overridden.setBackend);
    expect(byUser.decision).toMatchObject({ backend: 'wasm', how: 'override' });
    expect(byUser.decision.reason).toBe(
      'WebAssembly: chosen by you (by measurement: cached reason — measured 2026-12-01 05:00 UTC, cached for this adapter and model shape)',
    );
    expect(overridden.calls).toEqual(['wasm', 'wasm']);
  });

  it('leaves WebGPU out after a device loss', async () => {
    const r = recorder();
    const out = await chooseBackend(shape, { override: 'webgpu', cache: {} }, r.setBackend, { excludeWebGpu: true });
    expect(out.decision).toMatchObject({ backend: 'wasm', how: 'only' });
    expect(out.decision.reason).toBe('WebAssembly: your choice WebGPU is unusable (the WebGPU device was lost in this session)');
    expect(r.calls).toEqual(['wasm', 'wasm']);
  });
});

describe('timeProbe', () => {
  it('answers an over-budget lower bound when the first run outlasts the budget', async () => {
    await initBackend(['cpu']);
    // Budget 0: either the first run is abandoned (stepMs = the budget) or it finished first and no timed
    // run fits (stepMs = the first run); both are over-budget lower bounds.
    const t = await timeProbe(shape, 0);
    expect(t).toMatchObject({ reps: 0, overBudget: true });
    expect(t.stepMs).toBe(t.firstMs);
    const ok = await timeProbe(shape, 10_000, 3);
    expect(ok.overBudget).toBe(false);
    expect(ok.reps).toBe(3);
    expect(ok.stepMs).toBeGreaterThan(0);
  });
});
