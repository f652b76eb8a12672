// Numeric comparison shared by the parity tests (Node and browser: no Node imports here).

/** max|a − b| / max|b|: the project's relative error (fp32 parity is ≤ 1e-4). */
export function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  // A length mismatch would otherwise compare a prefix (or NaNs) and could pass silently.
  if (a.length !== b.length) throw new Error(`maxRel: lengths differ (${a.length} vs ${b.length})`);
  let diff = 0,
    scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}
