// Delimited text (.csv/.tsv): one sample per row, an optional header row of column names.
import { FmriFormatError } from './errors';

export interface DelimitedTable {
  rows: number;
  cols: number;
  /** Row-major values. */
  data: Float32Array;
  header?: string[];
}

/** A cell that Number() would accept but that is not a decimal number ('' , '0x1f', ' ') is rejected. */
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(nan|inf|infinity)$/i;

function parseCell(cell: string): number {
  const t = cell.trim();
  if (!NUMBER.test(t)) return Number.NaN;
  const lower = t.toLowerCase().replace(/^\+/, '');
  if (lower === 'nan' || lower === '-nan') return Number.NaN;
  if (lower === 'inf' || lower === 'infinity') return Infinity;
  if (lower === '-inf' || lower === '-infinity') return -Infinity;
  return Number(t);
}

function isNumeric(cell: string): boolean {
  return NUMBER.test(cell.trim());
}

/**
 * Comma- or tab-separated numbers, one sample per row, an optional header row of names; `nan`/`inf` are read
 * (and refused later as non-finite by preprocessing). Values row-major as float32.
 * @throws FmriFormatError naming the file: not UTF-8 text, NUL bytes, no rows, a ragged row (its line and column
 *   counts), a non-numeric cell (its line and column)
 */
export function readDelimited(name: string, bytes: Uint8Array): DelimitedTable {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new FmriFormatError(name, 'not a text file (invalid UTF-8): expected comma- or tab-separated numbers');
  }
  if (text.includes('\0')) throw new FmriFormatError(name, 'not a text file (contains NUL bytes)');
  // Keep file line numbers for messages; blank lines and '#' comments are skipped.
  const numbered = text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .map((l, i) => ({ l, n: i + 1 }))
    .filter(({ l }) => l.trim().length > 0 && !l.startsWith('#'));
  const lines = numbered.map(({ l }) => l);
  if (lines.length === 0) throw new FmriFormatError(name, 'empty file: expected one sample per row');
  const delimiter =
    name.toLowerCase().endsWith('.tsv') || lines[0].includes('\t') ? '\t' : !lines[0].includes(',') && lines[0].includes(';') ? ';' : ',';
  const split = (l: string) => l.split(delimiter);
  let first = 0;
  let header: string[] | undefined;
  const firstCells = split(lines[0]);
  if (firstCells.some((c) => !isNumeric(c))) {
    header = firstCells.map((c) => c.trim());
    first = 1;
  }
  const rows = lines.length - first;
  if (rows === 0) throw new FmriFormatError(name, 'only a header row, no samples');
  const cols = firstCells.length;
  const data = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const cells = split(lines[first + r]);
    const lineNo = numbered[first + r].n;
    if (cells.length !== cols) {
      throw new FmriFormatError(name, `row ${lineNo} has ${cells.length} columns, expected ${cols} like the first row`);
    }
    for (let c = 0; c < cols; c++) {
      if (!isNumeric(cells[c])) {
        throw new FmriFormatError(name, `non-numeric cell at row ${lineNo}, column ${c + 1}: ${JSON.stringify(cells[c].slice(0, 40))}`);
      }
      data[r * cols + c] = parseCell(cells[c]);
    }
  }
  return { rows, cols, data, header };
}
