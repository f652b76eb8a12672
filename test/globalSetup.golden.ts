// Browser tests cannot run Python: the golden vectors and the CNN and explanation oracles are made here, in Node,
// before they start.
import type { TestProject } from 'vitest/node';
import { join } from 'node:path';
import { goldenDir, REPO_ROOT } from './golden';
import { cnnOracle } from './oracles/cnn';
import { explainReference } from './oracles/explain';

export default async function setup(project: TestProject): Promise<void> {
  const golden = await goldenDir('tiny');
  project.provide('goldenDir', golden);
  project.provide('cnnOracleDir', (await cnnOracle('.cache/eval-cnn-browser')).dir);
  project.provide('explainRefDir', await explainReference(golden, join(REPO_ROOT, '.cache', 'explain-ref-browser')));
}

declare module 'vitest' {
  export interface ProvidedContext {
    goldenDir: string;
    /** images.npy [n, 32, 32], logits.npy [n, 10] (PyTorch) and labels.npy [numTest] of test/oracles/cnn.ts. */
    cnnOracleDir: string;
    /** python/cad_ref/explain.py's output on goldenDir (test/oracles/explain.ts): attn_unet, attn_ddim, token_*.npy. */
    explainRefDir: string;
  }
}
