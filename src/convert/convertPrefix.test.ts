// Checkpoints saved through a wrapper (issue 11): DataParallel/DDP `module.`, torch.compile `_orig_mod.`,
// Lightning `model.` — re-saved here by torch itself from the golden tiny phase-3 checkpoint — convert
// to exactly the tensors of the unwrapped file, with a note; an unknown prefix names the ignored tensors.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goldenConfig, goldenDir } from '../../test/golden';
import type { ModelConfig } from '../model/config';
import { planConversion } from './convert';
import { ConvertError } from './errors';
import { memoryAccess, readCheckpoint } from './torch/index';

const RESAVE = `
import sys, torch
import cad_ref.config  # registers the pickled config classes under 'config'
src, out = sys.argv[1], sys.argv[2]
ck = torch.load(src, map_location='cpu')
sd = ck['model_state_dict']
def save(name, prefix, key='model_state_dict'):
    torch.save({**ck, 'model_state_dict': None, key: {prefix + k: v for k, v in sd.items()}} if key == 'model_state_dict'
               else {key: {prefix + k: v for k, v in sd.items()}}, f'{out}/{name}')
save('module.pth', 'module.')
save('compiled_ddp.pth', 'module._orig_mod.')
save('lightning.ckpt', 'model.', key='state_dict')
save('unknown_prefix.pth', 'net.')
torch.save(ck, f'{out}/legacy_phase3.pth', _use_new_zipfile_serialization=False)
`;

describe('wrapper prefixes in checkpoints', () => {
  let dir = '';
  let golden: ModelConfig;
  beforeAll(async () => {
    golden = await goldenConfig(await goldenDir('tiny'));
    dir = mkdtempSync(join(tmpdir(), 'prefix-'));
    execFileSync('/usr/bin/python3', ['-c', RESAVE, join(await goldenDir('tiny'), 'phase3.pth'), dir], {
      stdio: 'pipe',
      env: { ...process.env, PYTHONPATH: join(process.cwd(), 'python') },
    });
  }, 300_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const plan = (path: string, file: string) =>
    planConversion([{ checkpoint: readCheckpoint(file, memoryAccess(new Uint8Array(readFileSync(path)))), sha256: 'f'.repeat(64) }], {
      overrides: { encoder: { numHeads: golden.encoder.numHeads }, vq: { resolution: golden.vq.resolution } },
      preprocess: { rawVoxels: golden.preprocess.rawVoxels },
    });

  it.each([
    ['module.pth', 'module.'],
    ['compiled_ddp.pth', 'module._orig_mod.'],
    ['lightning.ckpt', 'model.'],
  ])('%s: prefix %s stripped with a note', async (file, prefix) => {
    const ref = plan(join(await goldenDir('tiny'), 'phase3.pth'), 'phase3.pth');
    const p = plan(join(dir, file), file);
    expect(Object.keys(p.tensors)).toEqual(Object.keys(ref.tensors));
    for (const n of Object.keys(ref.tensors)) expect(p.tensors[n].shape).toEqual(ref.tensors[n].shape);
    // The Lightning file carries no pickled config (so no ROI name): compare the networks.
    expect({ ...p.config, preprocess: undefined }).toEqual({ ...ref.config, preprocess: undefined });
    expect(p.report.notes.join('\n')).toContain(`the prefix '${prefix}' shared by all`);
    expect(p.report.droppedNames.length).toBe(p.report.dropped);
  });

  it('a legacy (non-zip) torch.save of phase3.pth converts to the same tensors, bit for bit', async () => {
    const ref = plan(join(await goldenDir('tiny'), 'phase3.pth'), 'phase3.pth');
    const p = plan(join(dir, 'legacy_phase3.pth'), 'legacy_phase3.pth');
    expect(p.config).toEqual(ref.config);
    expect(Object.keys(p.tensors)).toEqual(Object.keys(ref.tensors));
    for (const n of Object.keys(ref.tensors)) expect([n, Array.from(p.tensors[n].read())]).toEqual([n, Array.from(ref.tensors[n].read())]);
  });

  it('an unknown prefix: the missing tensors and the ignored ones are both named', () => {
    let err: unknown;
    try {
      plan(join(dir, 'unknown_prefix.pth'), 'unknown_prefix.pth');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConvertError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/tensors? missing/);
    expect(msg).toMatch(/tensors of the inputs ignored \(names the converter does not know\)/);
    expect(msg).toMatch(/ {2}net\.model\.diffusion_model\./);
    expect(msg).toMatch(/They all start with 'net\.'/);
  });
});
