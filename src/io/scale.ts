// The user's scale for fMRI values, as typed in `--scale` (decode, eval) or the studio's Scale field.
// A module of its own so that the page can parse it without loading the readers.

/** '0.0033', '1/300', '1e-2' → a finite non-zero number; anything else → NaN. */
export function parseScale(text: string): number {
  const m = /^\s*([^/]+?)\s*(?:\/\s*([^/]+?)\s*)?$/.exec(text);
  const v = m ? Number(m[1]) / (m[2] !== undefined ? Number(m[2]) : 1) : NaN;
  return Number.isFinite(v) && v !== 0 ? v : NaN;
}
