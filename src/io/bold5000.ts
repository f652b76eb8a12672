// BOLD5000's per-ROI file names and the authors' concatenation order (EarlyVis, LOC, OPA, PPA, RSC; LH
// before RH within each ROI), shared by the multi-file reader (subject.ts) and the .npz reader.

export const BOLD5000_ROIS = ['EarlyVis', 'LOC', 'OPA', 'PPA', 'RSC'] as const;
const HEMIS = ['LH', 'RH'] as const;
const PART = new RegExp(`(?:^|[_\\-.])(LH|RH)(${BOLD5000_ROIS.join('|')})(?:\\.npy|\\.npz|\\.npy\\.gz)?$`);

/** 'LHEarlyVis' for a name of the BOLD5000 scheme (file `…_LHEarlyVis.npy` or .npz member `LHEarlyVis`), else undefined. */
export function bold5000Part(name: string): string | undefined {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const m = PART.exec(base) ?? /^(LH|RH)(EarlyVis|LOC|OPA|PPA|RSC)$/.exec(base);
  return m ? `${m[1]}${m[2]}` : undefined;
}

/** Rank of a BOLD5000 part in the authors' order (EarlyVis LH, EarlyVis RH, LOC LH, …). */
function authorsRank(part: string): number {
  const hemi = HEMIS.indexOf(part.slice(0, 2) as 'LH');
  const roi = BOLD5000_ROIS.indexOf(part.slice(2) as 'LOC');
  return roi * 2 + hemi;
}

/**
 * The default order of the parts of a subject: the authors' BOLD5000 order when every name follows that
 * scheme (and no part repeats), else the order given.
 */
export function defaultOrder(names: string[]): { order: string[]; scheme: 'bold5000' | 'given' } {
  const parts = names.map(bold5000Part);
  if (names.length > 1 && parts.every((p) => p !== undefined) && new Set(parts).size === parts.length) {
    const order = names
      .map((n, i) => ({ n, r: authorsRank(parts[i]!) }))
      .sort((a, b) => a.r - b.r)
      .map((x) => x.n);
    return { order, scheme: 'bold5000' };
  }
  return { order: [...names], scheme: 'given' };
}
