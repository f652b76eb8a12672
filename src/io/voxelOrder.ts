// A model takes its voxels in the order it was trained on; a reader gives them in the file's order (a masked
// NIfTI volume: the grid's C order over x, y, z; a GOD .npz: its own order). When both sides know where their
// voxels are — the bundle's decoding_studio.voxels.xyz_mm, the file's coords (a grid through its affine, or mm) —
// the file's voxels are put into the model's order here; otherwise the order cannot be checked and a note says so.
import type { ModelConfig } from '../model/config';
import { selectCoords, type VoxelCoords } from './coords';
import { VoxelOrderError } from './errors';
import type { FmriFile } from './fmriFile';

const fmt = (n: number) => n.toLocaleString('en-US');
const mm = (p: ArrayLike<number>, v: number) => `(${[0, 1, 2].map((a) => +p[3 * v + a].toFixed(2)).join(', ')}) mm`;

/** Where the model's voxels are among the file's. */
export interface VoxelAlignment {
  /** For each model voxel v (its input order), the file's column (voxel index) at its position; -1 when none is. */
  columns: Int32Array;
  /** Model voxels with no file voxel at their position. */
  missing: number;
  /** The first of them, when any. */
  firstMissing?: number;
}

/**
 * Pairs each of the model's voxels with the file's voxel at the same place.
 * - 'grid' coords with an affine: the model's position is taken through the inverse affine to the nearest grid
 *   voxel (i, j, k), i.e. matched within half a voxel along each grid axis; that voxel must be one of the file's.
 * - 'mm' coords (a GOD .npz's voxel_xyz, read rounded to whole mm): the file's voxel at the model's position
 *   rounded to whole mm.
 * @param coords the file's voxel positions, [voxels × 3]
 * @param modelXyzMm the model's input voxels' positions, [rawVoxels × 3] row-major, mm (VOXEL_XYZ_MM)
 * @throws VoxelOrderError when two model voxels fall on the same file voxel (the model's voxels are on a finer or
 *   other grid) or `coords` is a grid without an affine
 */
export function alignVoxels(coords: VoxelCoords, modelXyzMm: ArrayLike<number>): VoxelAlignment {
  const n = modelXyzMm.length / 3;
  const columns = new Int32Array(n).fill(-1);
  const placeOf = positionIndex(coords);
  const taken = new Map<number, number>();
  let missing = 0;
  let firstMissing: number | undefined;
  for (let v = 0; v < n; v++) {
    const col = placeOf(modelXyzMm[3 * v], modelXyzMm[3 * v + 1], modelXyzMm[3 * v + 2]);
    if (col === undefined) {
      missing++;
      firstMissing ??= v;
      continue;
    }
    const other = taken.get(col);
    if (other !== undefined)
      throw new VoxelOrderError(
        `the model's voxels ${other} at ${mm(modelXyzMm, other)} and ${v} at ${mm(modelXyzMm, v)} fall in the same voxel of the file: ` +
          "the model's voxels are on another, finer grid than the file's",
      );
    taken.set(col, v);
    columns[v] = col;
  }
  return { columns, missing, ...(firstMissing !== undefined ? { firstMissing } : {}) };
}

/** (x, y, z) mm → the file's column at that place, or undefined. */
function positionIndex(c: VoxelCoords): (x: number, y: number, z: number) => number | undefined {
  const voxels = c.xyz.length / 3;
  if (c.space === 'mm') {
    const key = (x: number, y: number, z: number) => `${Math.round(x)},${Math.round(y)},${Math.round(z)}`;
    const at = new Map<string, number>();
    // A position twice in the file (sub-mm voxels read rounded) is ambiguous: it matches nothing.
    for (let v = 0; v < voxels; v++) {
      const k = key(c.xyz[3 * v], c.xyz[3 * v + 1], c.xyz[3 * v + 2]);
      at.set(k, at.has(k) ? -1 : v);
    }
    return (x, y, z) => {
      const col = at.get(key(x, y, z));
      return col === undefined || col < 0 ? undefined : col;
    };
  }
  if (!c.affine || !c.dims) throw new VoxelOrderError('the grid has no voxel-to-mm affine: its voxels cannot be placed in mm');
  const [X, Y, Z] = c.dims;
  const at = new Map<number, number>();
  for (let v = 0; v < voxels; v++) at.set((c.xyz[3 * v] * Y + c.xyz[3 * v + 1]) * Z + c.xyz[3 * v + 2], v);
  const inv = inverseAffine(c.affine.rows);
  return (x, y, z) => {
    const [i, j, k] = [0, 1, 2].map((r) => Math.round(inv[4 * r] * x + inv[4 * r + 1] * y + inv[4 * r + 2] * z + inv[4 * r + 3]));
    if (i < 0 || j < 0 || k < 0 || i >= X || j >= Y || k >= Z) return undefined;
    return at.get((i * Y + j) * Z + k);
  };
}

/** The inverse of the affine whose first three rows are `rows` ([3 × 4] row-major), as the same [3 × 4]. */
function inverseAffine(rows: number[]): number[] {
  const [a, b, c, tx, d, e, f, ty, g, h, k, tz] = rows;
  const det = a * (e * k - f * h) - b * (d * k - f * g) + c * (d * h - e * g);
  if (!(Math.abs(det) > 0)) throw new VoxelOrderError(`the grid's voxel-to-mm affine is singular (determinant ${det})`);
  const m = [
    (e * k - f * h) / det,
    (c * h - b * k) / det,
    (b * f - c * e) / det,
    (f * g - d * k) / det,
    (a * k - c * g) / det,
    (c * d - a * f) / det,
    (d * h - e * g) / det,
    (b * g - a * h) / det,
    (a * e - b * d) / det,
  ];
  const t = [tx, ty, tz];
  return [0, 1, 2].flatMap((r) => [m[3 * r], m[3 * r + 1], m[3 * r + 2], -(m[3 * r] * t[0] + m[3 * r + 1] * t[1] + m[3 * r + 2] * t[2])]);
}

/** The model side of the alignment: its config (name, voxel count, ROI) and its voxels' positions, if recorded. */
export interface OrderedModel {
  config: Pick<ModelConfig, 'name' | 'preprocess'>;
  /** [rawVoxels × 3] mm (the bundle's VOXEL_XYZ_MM); undefined for a model that does not record them. */
  voxelXyzMm?: Float32Array;
}

/** The file as the model takes it, and the sentence saying how its voxel order was decided (absent: nothing to say). */
export interface ModelOrder {
  file: FmriFile;
  note?: string;
}

/**
 * `file` with its voxels in the model's input order: when the file's coords and the model's positions are both
 * known, getSample / voxels / coords / masks of the result follow the model's voxels (file voxels the model does
 * not take are dropped, and the note says how many); when the order cannot be checked (a grid without an affine, a
 * model without positions) the file is unchanged but for a note saying so; a file without coords (.npy, .csv, an
 * HDF5 matrix) is returned as it is. The note is appended to the file's `note` too. `select` of the result re-aligns.
 * @throws VoxelOrderError when some of the model's voxels are not among the file's: how many, the first one's
 *   position in mm, and that the mask (or ROI) is not the one the model was trained on; or as alignVoxels
 */
export function inModelOrder(file: FmriFile, model: OrderedModel): ModelOrder {
  const c = file.coords;
  if (!c) return { file };
  const positions = model.voxelXyzMm;
  const order = c.space === 'grid' ? "the grid's C order over (x, y, z)" : "the file's own order (its voxel_xyz)";
  if (!positions || (c.space === 'grid' && !c.affine)) {
    const why = !positions
      ? "the model does not record its voxels' positions"
      : "the file's grid has no voxel-to-mm affine (sform and qform codes 0, or an .npy / .mat mask)";
    return withNote(file, `voxel order: ${order}; ${why}, so this must be the order the model was trained on`);
  }
  const a = alignVoxels(c, positions);
  const n = a.columns.length;
  if (a.missing > 0) {
    const { roi } = model.config.preprocess;
    const fix =
      c.space === 'grid'
        ? "the mask is not the one the model was trained on: use the model's own mask"
        : roi && file.masks?.[roi] && file.roi !== roi
          ? `these are not the voxels the model was trained on: select ROI ${roi}`
          : 'these are not the voxels the model was trained on (another subject or ROI)';
    throw new VoxelOrderError(
      `${fmt(a.missing)} of the ${fmt(n)} voxels the model ${model.config.name ?? ''} takes are not among the ${fmt(file.voxels)} voxels of ` +
        `${file.name}${file.roi ? ` (ROI ${file.roi})` : ''}, the first at ${mm(positions, a.firstMissing!)}; ${fix}`.replace('  ', ' '),
    );
  }
  const same = n === file.voxels && a.columns.every((col, v) => col === v);
  const where = c.space === 'grid' ? `through ${c.affine!.file}'s ${c.affine!.from}` : 'by voxel_xyz';
  const dropped = file.voxels - n;
  const note =
    `voxel order: ${same ? "already the model's" : "put into the model's"} (its ${fmt(n)} voxels' positions matched in mm ${where}` +
    `${dropped > 0 ? `; ${fmt(dropped)} voxels of the file that the model does not take dropped` : ''})`;
  return same ? withNote(file, note) : { file: reordered(file, a.columns, model, note), note };
}

function withNote(file: FmriFile, note: string): ModelOrder {
  return { file: { ...file, note: file.note ? `${file.note}; ${note}` : note }, note };
}

/** The view of `file` whose voxel v is the file's voxel columns[v]. */
function reordered(file: FmriFile, columns: Int32Array, model: OrderedModel, note: string): FmriFile {
  const out: FmriFile = {
    ...file,
    voxels: columns.length,
    getSample(i: number) {
      const s = file.getSample(i);
      return Float32Array.from(columns, (col) => s[col]);
    },
    select: (o) => inModelOrder(file.select(o), model).file,
    note: file.note ? `${file.note}; ${note}` : note,
  };
  if (file.coords) out.coords = selectCoords(file.coords, columns);
  // ROI masks follow the voxels: restricted to the file's ROI selection, then reordered (counterfactual.ts reads
  // them over the vector getSample returns).
  if (file.masks) {
    const sel = file.roi ? file.masks[file.roi] : undefined;
    const kept = sel ? Int32Array.from(Array.from(sel).flatMap((f, i) => (f ? [i] : []))) : undefined;
    out.masks = Object.fromEntries(
      Object.entries(file.masks).map(([k, m]) => [k, Uint8Array.from(columns, (col) => m[kept ? kept[col] : col])]),
    );
  }
  return out;
}
