// Library diagnostics that a test provokes on purpose or that say nothing about its result: tfjs's banners
// (Node without tfjs-node; backends, platforms and kernels registered again by tests that switch backends)
// and HDF5's printed diagnostic stack (src/io/h5.ts turns it into the thrown error, which the tests check).
// vitest.config.ts captures them in test-results/library-diagnostics.log instead of printing them, so a
// passing run reads like one. Anything not matched here is printed as usual.
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export const EXPECTED_LIBRARY_NOISE: RegExp[] = [
  /Hi, looks like you are running TensorFlow\.js in Node\.js/,
  /[Bb]ackend '?\w+'? (was|is) already registered|Reusing existing backend factory/,
  /Platform \w+ has already been set|Overwriting the platform/,
  /The kernel '[^']+' for backend '[^']+' is already registered/,
  /HDF5-DIAG|^\s*#\d{3}: /m,
  /High memory usage in GPU/,
];

export function isExpectedLibraryNoise(log: string): boolean {
  return EXPECTED_LIBRARY_NOISE.some((re) => re.test(log));
}

/** vitest's onConsoleLog: expected noise goes to `logFile` (false = not printed); the rest prints. */
export function captureLibraryNoise(logFile: string): (log: string, type: 'stdout' | 'stderr') => false | void {
  return (log, type) => {
    if (!isExpectedLibraryNoise(log)) return undefined;
    try {
      mkdirSync(dirname(logFile), { recursive: true });
      appendFileSync(logFile, `[${type}] ${log.endsWith('\n') ? log : `${log}\n`}`);
    } catch {
      // An unwritable log must not turn a diagnostic into a failure.
    }
    return false;
  };
}
