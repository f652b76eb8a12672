// decode's issue-14 flags: parsing, and the CLI end to end on the embedded default model and the bundled
// (SYNTHETIC) data set: attention maps on disk in the documented layout, a counterfactual recorded in the
// receipt and replayed from it to the same image.
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, UsageError } from './args';
import { EXPLAIN_SPEC, parseExplainFlags } from './explainArgs';
import { REPO_ROOT } from '../../test/golden';
import { readNpy } from '../io/npy';
import { parseReceipt } from '../engine/receipt';

const run = promisify(execFile);
const TSX = join(REPO_ROOT, 'node_modules/.bin/tsx');
const flags = (...argv: string[]) => parseExplainFlags(parseArgs(argv, EXPLAIN_SPEC));

describe('parseExplainFlags', () => {
  it('reads each counterfactual and its defaults', () => {
    expect(flags('--lesion', 'V1')).toEqual({ attentionMaps: false, edit: { kind: 'lesion', roi: 'V1', fill: 'mean', seed: 0 } });
    expect(flags('--lesion', 'HVC:shuffle', '--edit-seed', '9').edit).toEqual({ kind: 'lesion', roi: 'HVC', fill: 'shuffle', seed: 9 });
    expect(flags('--roi-only', 'V2').edit).toEqual({ kind: 'roi-only', roi: 'V2', value: 1 });
    expect(flags('--control', 'mean', '--attention-maps')).toEqual({
      attentionMaps: true,
      edit: { kind: 'control', fill: 'mean', seed: 0 },
    });
    expect(flags('--interpolate', 'b.npy', '--alpha', '0.3').edit).toEqual({ kind: 'interpolate', path: 'b.npy', alpha: 0.3 });
  });

  it('refuses contradictions with a specific message', () => {
    expect(() => flags('--lesion', 'V1:half')).toThrow(/--lesion V1:half: expected ROI\[:zero\|mean\|shuffle\]/);
    expect(() => flags('--lesion', 'V1', '--roi-only', 'V2')).toThrow(/one counterfactual at a time: got --lesion and --roi-only/);
    expect(() => flags('--alpha', '0.5')).toThrow(/--alpha needs --interpolate/);
    expect(() => flags('--interpolate', 'b.npy')).toThrow(/--interpolate needs --alpha/);
    expect(() => flags('--interpolate', 'b.npy', '--alpha', '1.5')).toThrow(UsageError);
    expect(() => flags('--trial', '-1')).toThrow(/--trial must be a sample index/);
  });
});

describe('decode --attention-maps / --lesion on the default model (SYNTHETIC data)', () => {
  const data = join(REPO_ROOT, 'public/data/god-synth/sbj_3.npz');
  const base = [
    'src/cli/decode.ts',
    '--fmri',
    data,
    '--steps',
    '4',
    '--sampler',
    'ddim',
    '--init',
    'noise',
    '--strength',
    '1',
    '--guidance',
    '1',
    '--sample',
    '2',
  ];

  it('writes the maps in the documented layout and replays the recorded lesion from the receipt', async () => {
    const out = await mkdtemp(join(tmpdir(), 'explain-cli-'));
    await run(TSX, [...base, '--out', out, '--attention-maps', '--lesion', 'V1:shuffle', '--edit-seed', '4'], {
      cwd: REPO_ROOT,
      timeout: 300_000,
    });
    const files = await readdir(join(out, 'attention'));
    for (const f of [
      'attn.npy',
      'roi_heat.npy',
      'bias_heat.npy',
      'token_patch.npy',
      'token_bias.npy',
      'token_voxel.npy',
      'timesteps.npy',
      'roi_mass.json',
      'step_001.png',
    ]) {
      expect(files).toContain(f);
    }
    const attn = readNpy(new Uint8Array(await readFile(join(out, 'attention/attn.npy'))));
    const S = readNpy(new Uint8Array(await readFile(join(out, 'attention/timesteps.npy')))).shape[0];
    expect(attn.shape).toEqual([S, 1, 8, 8, 77]);
    const tv = readNpy(new Uint8Array(await readFile(join(out, 'attention/token_voxel.npy'))));
    expect(tv.shape).toEqual([77, 4511]);
    const mass = JSON.parse(await readFile(join(out, 'attention/roi_mass.json'), 'utf8')) as {
      rois: string[];
      steps: { mass: Record<string, number>; bias: number }[];
    };
    expect(mass.rois).toEqual(expect.arrayContaining(['V1', 'V2', 'V3', 'HVC']));
    // V1, V2, V3 and HVC partition the bundled VC: their masses and the bias share make 1.
    const s0 = mass.steps[0];
    expect(s0.mass.V1 + s0.mass.V2 + s0.mass.V3 + s0.mass.HVC + s0.bias).toBeCloseTo(1, 4);
    expect(await readdir(out)).toEqual(expect.arrayContaining(['original_0.png', 'compare_0.png', 'sample_0.png']));
    const receipt = parseReceipt(await readFile(join(out, 'receipt.json'), 'utf8'));
    expect(receipt.counterfactual).toEqual({ kind: 'lesion', roi: 'V1', fill: 'shuffle', seed: 4 });

    const replay = await mkdtemp(join(tmpdir(), 'explain-replay-'));
    await run(TSX, ['src/cli/decode.ts', '--fmri', data, '--receipt', join(out, 'receipt.json'), '--out', replay], {
      cwd: REPO_ROOT,
      timeout: 300_000,
    });
    expect(await readFile(join(replay, 'sample_0.png'))).toEqual(await readFile(join(out, 'sample_0.png')));
    expect(parseReceipt(await readFile(join(replay, 'receipt.json'), 'utf8')).counterfactual).toEqual(receipt.counterfactual);
    // The lesion changed the image (else the comparison would show nothing).
    expect(await readFile(join(out, 'original_0.png'))).not.toEqual(await readFile(join(out, 'sample_0.png')));
  });

  it('names the available ROIs for an unknown one', async () => {
    const out = await mkdtemp(join(tmpdir(), 'explain-cli-'));
    const r = run(TSX, [...base, '--out', out, '--lesion', 'V9'], { cwd: REPO_ROOT, timeout: 300_000 });
    await expect(r).rejects.toMatchObject({
      stderr: expect.stringMatching(/no ROI 'V9' for this fMRI vector; ROIs available: VC, LVC, HVC, V1, V2, V3/),
    });
  });
});
