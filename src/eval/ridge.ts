// Ridge regression from voxels to image-PC coordinates, in the dual (kernel) form because the
// training set (1,200 samples) is much smaller than the voxel count (~4,500). With an intercept, as
// sklearn's Ridge(fit_intercept=True). The penalty α is picked per target set by exact
// leave-one-out error on the training data (the closed form of sklearn's RidgeCV).
import { LinalgError, cholesky, choleskyInverseDiagonal, choleskySolve, mat, mulAB, mulABt, type Mat } from './linalg';

export const DEFAULT_ALPHAS = [100, 300, 1000, 3000, 10000, 30000];

export interface RidgeFit {
  alpha: number;
  /** Mean squared leave-one-out error per target value at each α tried. */
  looMse: Record<string, number>;
  predict(x: Mat): Mat;
}

function columnMeans(m: Mat): Float64Array {
  const mu = new Float64Array(m.cols);
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.cols; j++) mu[j] += m.data[i * m.cols + j];
  for (let j = 0; j < m.cols; j++) mu[j] /= m.rows;
  return mu;
}

function centred(m: Mat, mu: Float64Array): Mat {
  const out = mat(m.rows, m.cols);
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.cols; j++) out.data[i * m.cols + j] = m.data[i * m.cols + j] - mu[j];
  return out;
}

/**
 * Fits one ridge model per target set on the same inputs, choosing α for each set by LOO error.
 * Sharing the kernel and the per-α factorisations makes a shuffled-pairing control nearly free.
 */
export function fitRidgeMulti(x: Mat, targets: Mat[], alphas: number[] = DEFAULT_ALPHAS): RidgeFit[] {
  if (alphas.length === 0 || alphas.some((a) => !(a > 0))) throw new LinalgError(`ridge needs positive alphas, got [${alphas.join(', ')}]`);
  for (const t of targets) if (t.rows !== x.rows) throw new LinalgError(`ridge: ${x.rows} input rows but ${t.rows} target rows`);
  const xMean = columnMeans(x);
  const xc = centred(x, xMean);
  const kernel = mulABt(xc, xc);
  const tMeans = targets.map(columnMeans);
  const tc = targets.map((t, i) => centred(t, tMeans[i]));
  const best = targets.map(() => ({ alpha: NaN, mse: Infinity, dual: undefined as Mat | undefined, loo: {} as Record<string, number> }));
  for (const alpha of alphas) {
    const l = cholesky(kernel, alpha);
    const invDiag = choleskyInverseDiagonal(l);
    tc.forEach((t, s) => {
      const dual = choleskySolve(l, t);
      // Exact LOO residual with the intercept refitted too: hat matrix 11ᵀ/n + K(K + αI)⁻¹ on centred
      // data, so residual_i = dual_i / ([(K + αI)⁻¹]_ii − 1/(nα)).
      let sse = 0;
      const n = t.rows;
      for (let i = 0; i < n; i++) {
        const denom = invDiag[i] - 1 / (n * alpha);
        for (let j = 0; j < t.cols; j++) sse += (dual.data[i * t.cols + j] / denom) ** 2;
      }
      const mse = sse / (t.rows * t.cols);
      best[s].loo[String(alpha)] = mse;
      if (mse < best[s].mse) Object.assign(best[s], { alpha, mse, dual });
    });
  }
  return best.map((b, s) => ({
    alpha: b.alpha,
    looMse: b.loo,
    predict(xNew: Mat): Mat {
      if (xNew.cols !== x.cols) throw new LinalgError(`ridge predict: expected ${x.cols} features, got ${xNew.cols}`);
      const y = mulAB(mulABt(centred(xNew, xMean), xc), b.dual as Mat);
      for (let i = 0; i < y.rows; i++) for (let j = 0; j < y.cols; j++) y.data[i * y.cols + j] += tMeans[s][j];
      return y;
    },
  }));
}
