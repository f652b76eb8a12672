// Averaged test splits: the trials of each stimulus averaged over its repetitions, as the data sets'
// authors build their test sets (GOD's arr_2; bdpy: mean over trials of the same Label; BOLD5000: the 113
// images shown several times, averaged using the stimulus lists).
import type { Matrix } from './fmriFile';

export interface Averaged {
  /** One row per distinct label, the mean of that label's rows. */
  matrix: Matrix;
  /** The label of each averaged row, in np.unique order (numeric when every label is a number, else by code unit). */
  labels: string[];
  /** How many rows each averaged row is the mean of. */
  counts: number[];
}

/** The labels in np.unique order: ascending numbers when all are numeric, else ascending strings. */
export function uniqueLabels(labels: string[]): string[] {
  const set = [...new Set(labels)];
  const numeric = set.every((l) => l.trim() !== '' && Number.isFinite(Number(l)));
  return numeric ? set.sort((a, b) => Number(a) - Number(b)) : set.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Mean over the rows of `m` that share a label (labels[i] is row i's), in float64 then rounded to float32
 * like numpy's `x[labels == l].mean(0)` on float32 input.
 * @param keep only labels for which this returns true (e.g. shown more than once)
 */
export function averageByLabel(m: Matrix, labels: string[], keep: (label: string, count: number) => boolean = () => true): Averaged {
  if (labels.length !== m.rows) throw new Error(`averageByLabel: ${labels.length} labels for ${m.rows} rows`);
  const rowsOf = new Map<string, number[]>();
  labels.forEach((l, r) => {
    const a = rowsOf.get(l);
    if (a) a.push(r);
    else rowsOf.set(l, [r]);
  });
  const kept = uniqueLabels(labels).filter((l) => keep(l, rowsOf.get(l)!.length));
  const cols = m.cols;
  const values = new Float32Array(kept.length * cols);
  const acc = new Float64Array(cols);
  kept.forEach((l, k) => {
    acc.fill(0);
    const rows = rowsOf.get(l)!;
    for (const r of rows) {
      const base = r * cols;
      for (let j = 0; j < cols; j++) acc[j] += m.values[base + j];
    }
    for (let j = 0; j < cols; j++) values[k * cols + j] = acc[j] / rows.length;
  });
  return { matrix: { rows: kept.length, cols, values }, labels: kept, counts: kept.map((l) => rowsOf.get(l)!.length) };
}

/** Rows `rows` of `m` as a new matrix. */
export function takeRows(m: Matrix, rows: ArrayLike<number>): Matrix {
  const values = new Float32Array(rows.length * m.cols);
  for (let j = 0; j < rows.length; j++) values.set(m.values.subarray(rows[j] * m.cols, (rows[j] + 1) * m.cols), j * m.cols);
  return { rows: rows.length, cols: m.cols, values };
}
