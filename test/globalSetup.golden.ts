// Browser tests cannot run Python: the golden vectors are made here, in Node, before they start.
import type { TestProject } from 'vitest/node';
import { goldenDir } from './golden';

export default async function setup(project: TestProject): Promise<void> {
  project.provide('goldenDir', await goldenDir('tiny'));
}

declare module 'vitest' {
  export interface ProvidedContext {
    goldenDir: string;
  }
}
