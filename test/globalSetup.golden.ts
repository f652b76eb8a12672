// Browser tests cannot run Python: the golden vectors and the CNN oracle are made here, in Node, before they start.
import type { TestProject } from 'vitest/node';
import { goldenDir } from './golden';
import { cnnOracle } from './oracles/cnn';

export default async function setup(project: TestProject): Promise<void> {
  project.provide('goldenDir', await goldenDir('tiny'));
  project.provide('cnnOracleDir', (await cnnOracle('.cache/eval-cnn-browser')).dir);
}

declare module 'vitest' {
  export interface ProvidedContext {
    goldenDir: string;
    /** images.npy [n, 32, 32], logits.npy [n, 10] (PyTorch) and labels.npy [numTest] of test/oracles/cnn.ts. */
    cnnOracleDir: string;
  }
}
