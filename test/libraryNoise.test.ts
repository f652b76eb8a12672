import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { captureLibraryNoise, isExpectedLibraryNoise } from './libraryNoise';

describe('library noise filter', () => {
  it("captures the libraries' expected diagnostics", () => {
    for (const log of [
      '\n============================\nHi, looks like you are running TensorFlow.js in Node.js. To speed things up dramatically, install our node backend',
      'webgpu backend was already registered. Reusing existing backend factory.',
      'Platform node has already been set. Overwriting the platform with node.',
      "The kernel 'Add' for backend 'wasm' is already registered",
      'HDF5-DIAG: Error detected in HDF5 (1.14.2) thread 0:\n  #000: H5D.c line 403 in H5Dopen2(): unable to open dataset',
      'High memory usage in GPU: 1024.00 MB, most likely due to a memory leak',
    ])
      expect(isExpectedLibraryNoise(log), log).toBe(true);
  });

  it('prints everything else, errors included', () => {
    for (const log of [
      'Error: dataset /data could not be decoded',
      'warning: the model is not the one the receipt was made with',
      'step 1/4 t=751',
      '#1 sample',
    ]) {
      expect(isExpectedLibraryNoise(log), log).toBe(false);
    }
  });

  it('keeps what it captures in the log file', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'noise-')), 'sub', 'library-diagnostics.log');
    const capture = captureLibraryNoise(file);
    expect(capture('HDF5-DIAG: Error detected', 'stderr')).toBe(false);
    expect(capture('a real failure', 'stderr')).toBeUndefined();
    expect(readFileSync(file, 'utf8')).toBe('[stderr] HDF5-DIAG: Error detected\n');
  });
});
