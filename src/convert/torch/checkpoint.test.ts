// Checkpoint readers against tensors saved by PyTorch (fixtures) and the golden 'tiny' checkpoints.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expected, fixtureBytes, ioFixturesDir } from '../../../test/fixtures/io/fixtures';
import { goldenDir, goldenNpy, goldenTensorNames } from '../../../test/golden';
import { npyToFloat32 } from '../../io/npy';
import { CheckpointError } from '../errors';
import { fileAccess } from './nodeFile';
import { loadAll, memoryAccess, readCheckpoint } from './index';

const NAMES = ['w.f32', 'w.f16', 'w.bf16', 'w.f64', 'w.i64', 'w.transposed', 'w.offset', 'w.scalar', 'w.empty'];

describe('torch zip checkpoints', () => {
  it('reads every dtype, strides and storage offsets exactly as PyTorch holds them', () => {
    const ck = readCheckpoint('ckpt.pth', memoryAccess(fixtureBytes('ckpt.pth')));
    expect(ck.format).toBe('torch-zip');
    expect(ck.stateDictKey).toBe('model_state_dict');
    expect(ck.keys.sort()).toEqual(['args', 'config', 'epoch', 'model_state_dict', 'state']);
    expect(Object.keys(ck.tensors)).toEqual(NAMES);
    const loaded = loadAll(ck.tensors);
    for (const name of NAMES) {
      const e = expected(`ckpt/${name}`);
      expect([name, loaded[name].shape]).toEqual([name, e.shape]);
      expect([name, Array.from(loaded[name].data)]).toEqual([name, Array.from(e.data)]);
    }
    expect(loaded['w.f16'].dtype).toBe('float16');
    expect(loaded['w.bf16'].dtype).toBe('bfloat16');
  });

  it('unknown pickled classes, numpy scalars and argparse namespaces become plain values', () => {
    const ck = readCheckpoint('ckpt.pth', memoryAccess(fixtureBytes('ckpt.pth')));
    expect(ck.objects.config).toMatchObject({
      __class__: 'config.Config_Generative_Model',
      num_heads: 2,
      patch_size: 16,
      mlp_ratio: 1,
      nested: { a: [1, 2.5, 'x'], b: null },
    });
    expect(ck.objects.epoch).toBe(7);
    expect(ck.objects.args).toMatchObject({ lr: 1e-4, name: 'run' });
    // The RNG state is a uint8 tensor outside the state dict: still reachable, lazily.
    const state = ck.objects.state as { shape: number[]; dtype: string; read(): Float32Array };
    expect(state.dtype).toBe('uint8');
    expect(state.read().length).toBe(state.shape[0]);
  });

  it('reads from a file descriptor the same as from memory', () => {
    const src = fileAccess(join(ioFixturesDir(), 'ckpt.pth'));
    try {
      const a = loadAll(readCheckpoint('ckpt.pth', src).tensors);
      expect(Array.from(a['w.offset'].data)).toEqual(Array.from(expected('ckpt/w.offset').data));
    } finally {
      src.close();
    }
  });

  it('legacy (non-zip) torch.save files read the same as the zip format (values written by PyTorch)', () => {
    const legacy = readCheckpoint('legacy.pth', memoryAccess(fixtureBytes('legacy.pth')));
    const zip = readCheckpoint('ckpt.pth', memoryAccess(fixtureBytes('ckpt.pth')));
    expect(legacy.format).toBe('torch-legacy');
    expect(legacy.stateDictKey).toBe('model_state_dict');
    expect(Object.keys(legacy.tensors)).toEqual(Object.keys(zip.tensors));
    const t = loadAll(legacy.tensors);
    for (const name of Object.keys(zip.tensors)) {
      const e = expected(`ckpt/${name}`);
      expect([name, t[name].shape]).toEqual([name, e.shape]);
      expect([name, Array.from(t[name].data)]).toEqual([name, Array.from(e.data)]);
    }
    expect(legacy.objects.epoch).toBe(7);
  });

  it('a truncated or damaged legacy file is a CheckpointError', () => {
    const bytes = fixtureBytes('legacy.pth');
    for (const cut of [20, 200, bytes.length - 30]) {
      expect(() => loadAll(readCheckpoint('cut.pth', memoryAccess(bytes.subarray(0, cut))).tensors)).toThrow(CheckpointError);
    }
  });

  it('a missing storage or a truncated archive is a CheckpointError', () => {
    const bytes = fixtureBytes('ckpt.pth');
    expect(() => readCheckpoint('cut.pth', memoryAccess(bytes.subarray(0, bytes.length - 30)))).toThrow(CheckpointError);
    expect(() => readCheckpoint('cut.pth', memoryAccess(bytes.subarray(0, 200)))).toThrow(/cut\.pth: truncated zip/);
  });
});

describe('safetensors', () => {
  it('reads F32/F16/BF16/F64/I64/I32/U8 equal to the PyTorch values', () => {
    const ck = readCheckpoint('tensors.safetensors', memoryAccess(fixtureBytes('tensors.safetensors')));
    expect(ck.format).toBe('safetensors');
    expect(ck.objects.__metadata__).toEqual({ format: 'pt' });
    const loaded = loadAll(ck.tensors);
    for (const name of ['a.f32', 'a.f16', 'a.bf16', 'a.f64', 'a.i64', 'a.i32', 'a.u8']) {
      const e = expected(`st/${name}`);
      expect([name, loaded[name].shape, Array.from(loaded[name].data)]).toEqual([name, e.shape, Array.from(e.data)]);
    }
  });

  it('a header claiming bytes beyond the file is refused', () => {
    const bytes = fixtureBytes('tensors.safetensors');
    expect(() => readCheckpoint('t.safetensors', memoryAccess(bytes.subarray(0, bytes.length - 8)))).toThrow(
      /lies beyond the end of the file/,
    );
  });
});

// The golden 'tiny' phase-3 checkpoint written by python/cad_ref (helper A).
describe('golden tiny checkpoints', () => {
  it.each([
    ['phase3.pth', 0],
    ['phase3_fp16.pth', 2 ** -11],
    ['phase3.safetensors', 0],
  ])('%s equals tensors/*.npy', async (file, rel) => {
    const dir = await goldenDir('tiny');
    const names = await goldenTensorNames(dir);
    const ck = readCheckpoint(file, memoryAccess(new Uint8Array(readFileSync(join(dir, file)))));
    expect(Object.keys(ck.tensors).sort()).toEqual([...names].sort());
    for (const name of names) {
      const e = await goldenNpy(dir, `tensors/${name}`);
      const want = npyToFloat32(e);
      const t = ck.tensors[name];
      expect([name, t.shape]).toEqual([name, e.shape]);
      const got = t.read();
      // fp16 file: each value within half an fp16 ulp (2^-11 relative; 2^-25 absolute in the subnormal range).
      let ok = true;
      for (let i = 0; i < got.length; i++)
        if (Math.abs(got[i] - want[i]) > Math.max(rel * Math.abs(want[i]), rel ? 2 ** -25 : 0)) ok = false;
      expect([name, ok]).toEqual([name, true]);
    }
  });
});
