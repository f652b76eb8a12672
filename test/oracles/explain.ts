// The PyTorch reference of the explanation views, shared by the Node parity test (src/explain/explain.parity.test.ts)
// and the Chromium one (src/explain/explain.browser.test.ts; browsers cannot run Python, so
// test/globalSetup.golden.ts calls this before they start): python/cad_ref/explain.py attaches forward hooks to
// every attn2 of the reference UNet on the golden checkpoint and computes the token → patch → voxel shares in
// float64. Its files and their layouts are listed in that module's docstring.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PYTHON, REPO_ROOT } from '../golden';

const run = promisify(execFile);

/**
 * Runs `python -m cad_ref.explain` on the golden folder `golden` (test/golden.ts goldenDir) into `out` (default a fresh
 * temporary folder; the browser tests need one under the repository, which vitest lets the page read) and returns
 * its path: attn_unet.npy [B, h, w, 77], attn_ddim.npy [S, B, h, w, 77], token_patch.npy
 * [B, 77, L], token_bias.npy [B, 77], token_voxel.npy [B, 77, V] (float32), unet_out_hooked.npy [B, C, h, w].
 * @throws Error with Python's stderr when the reference fails (Debian python3-torch missing: scripts/setup-test-deps.sh)
 */
export async function explainReference(golden: string, out?: string): Promise<string> {
  if (out) await mkdir(out, { recursive: true });
  else out = await mkdtemp(join(tmpdir(), 'explain-ref-'));
  try {
    await run(PYTHON, ['-m', 'cad_ref.explain', '--golden', golden, '--out', out], {
      cwd: REPO_ROOT,
      env: { ...process.env, PYTHONPATH: join(REPO_ROOT, 'python') },
      timeout: 300_000,
    });
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr ?? '';
    throw new Error(`cad_ref.explain on ${golden} failed: ${stderr.slice(-2000) || String(e)}`);
  }
  return out;
}
