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

export interface ProgressOptions {
  /** Default process.stderr. */
  stream?: ProgressStream;
  /** On a terminal, rewrite only when the percentage crosses a multiple of this (default: every report). */
  ttyPercent?: number;
}

/** label(done, total) is the text of one report (e.g. `decoded 3/50`). end() closes the line only if one was written. */
export function progressLine(label: (done: number, total: number) => string, opts: ProgressOptions = {}): ProgressLine {
  const stream = opts.stream ?? process.stderr;
  const tty = !!stream.isTTY;
  // Reports are written when this bucket changes: every report on a terminal (or every ttyPercent %), tenths in a log.
  const per = tty ? (opts.ttyPercent ?? 0) : 10;
  let bucket = Number.NaN;
  let started = false;
  return {
    update(done, total) {
      if (per > 0) {
        const pct = total > 0 ? Math.min(100, Math.floor((100 * done) / total)) : 100;
        const b = Math.floor(pct / per);
        if (b === bucket) return;
        bucket = b;
      }
      started = true;
      stream.write(tty ? `\r${label(done, total)}` : `${label(done, total)}\n`);
    },
    end() {
      if (tty && started) stream.write('\n');
    },
  };
}
