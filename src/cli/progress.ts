// Progress of a long CLI step on stderr. On a terminal one line is rewritten in place ("\r"); in a log or a pipe
// "\r" does not rewind, so the reports used to run together on one line ("decoded 1/50decoded 2/50…"): there
// each report that reaches a new tenth of the total is written as a line of its own.

/** Where progress goes: process.stderr, or a stand-in in tests. */
export interface ProgressStream {
  isTTY?: boolean;
  write(text: string): unknown;
}

/** A progress line: `update(done, total)` for each report, `end()` once after the last. */
export interface ProgressLine {
  update(done: number, total: number): void;
  end(): void;
}

/** label(done, total) is the text of one report (e.g. `decoded 3/50`). */
export function progressLine(label: (done: number, total: number) => string, stream: ProgressStream = process.stderr): ProgressLine {
  let tenth = -1;
  return {
    update(done, total) {
      if (stream.isTTY) {
        stream.write(`\r${label(done, total)}`);
        return;
      }
      const t = total > 0 ? Math.min(10, Math.floor((10 * done) / total)) : 10;
      if (t === tenth) return;
      tenth = t;
      stream.write(`${label(done, total)}\n`);
    },
    end() {
      if (stream.isTTY) stream.write('\n');
    },
  };
}
