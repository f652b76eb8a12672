// Dense float64 linear algebra for the ridge baseline: row-major matrices, no dependencies.
// Loops are ordered so the inner loop walks contiguous memory (rows), which is what makes plain JS fast.
import { errorClass } from '../errors';

export class LinalgError extends errorClass('LinalgError') {}

/** Row-major matrix view. */
export interface Mat {
  rows: number;
  cols: number;
  data: Float64Array;
}

export function mat(rows: number, cols: number, data?: Float64Array): Mat {
  if (data && data.length !== rows * cols) throw new LinalgError(`matrix ${rows}×${cols} needs ${rows * cols} values, got ${data.length}`);
  return { rows, cols, data: data ?? new Float64Array(rows * cols) };
}

/** A · Bᵀ (A [n,d], B [m,d] → [n,m]); when A and B are the same object only the lower half is computed. */
export function mulABt(a: Mat, b: Mat): Mat {
  if (a.cols !== b.cols) throw new LinalgError(`A·Bᵀ: inner sizes differ (${a.cols} vs ${b.cols})`);
  const n = a.rows,
    m = b.rows,
    d = a.cols,
    A = a.data,
    B = b.data;
  const out = mat(n, m),
    O = out.data;
  const symmetric = a === b;
  for (let i = 0; i < n; i++) {
    const ai = i * d,
      end = symmetric ? i + 1 : m;
    let j = 0;
    // four rows of B per pass share each load of A's row: about twice as fast as one dot product at a time
    for (; j + 4 <= end; j += 4) {
      const b0 = j * d,
        b1 = b0 + d,
        b2 = b1 + d,
        b3 = b2 + d;
      let s0 = 0,
        s1 = 0,
        s2 = 0,
        s3 = 0;
      for (let k = 0; k < d; k++) {
        const v = A[ai + k];
        s0 += v * B[b0 + k];
        s1 += v * B[b1 + k];
        s2 += v * B[b2 + k];
        s3 += v * B[b3 + k];
      }
      O[i * m + j] = s0;
      O[i * m + j + 1] = s1;
      O[i * m + j + 2] = s2;
      O[i * m + j + 3] = s3;
    }
    for (; j < end; j++) {
      const bj = j * d;
      let s = 0;
      for (let k = 0; k < d; k++) s += A[ai + k] * B[bj + k];
      O[i * m + j] = s;
    }
    if (symmetric) for (let jj = 0; jj < i; jj++) O[jj * m + i] = O[i * m + jj];
  }
  return out;
}

/** A · B (A [n,k], B [k,m] → [n,m]). */
export function mulAB(a: Mat, b: Mat): Mat {
  if (a.cols !== b.rows) throw new LinalgError(`A·B: inner sizes differ (${a.cols} vs ${b.rows})`);
  const n = a.rows,
    k = a.cols,
    m = b.cols,
    A = a.data,
    B = b.data;
  const out = mat(n, m),
    O = out.data;
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < k; p++) {
      const aip = A[i * k + p];
      if (aip === 0) continue;
      const bp = p * m,
        oi = i * m;
      for (let j = 0; j < m; j++) O[oi + j] += aip * B[bp + j];
    }
  }
  return out;
}

/** Lower Cholesky factor L of a symmetric positive-definite A (A = L·Lᵀ), with `shift` added to the diagonal. */
export function cholesky(a: Mat, shift = 0): Mat {
  if (a.rows !== a.cols) throw new LinalgError(`cholesky needs a square matrix, got ${a.rows}×${a.cols}`);
  const n = a.rows,
    A = a.data;
  const l = mat(n, n),
    L = l.data;
  for (let i = 0; i < n; i++) {
    const li = i * n;
    for (let j = 0; j <= i; j++) {
      const lj = j * n;
      let s = A[li + j] + (i === j ? shift : 0);
      for (let k = 0; k < j; k++) s -= L[li + k] * L[lj + k];
      if (i === j) {
        if (!(s > 0)) throw new LinalgError(`matrix is not positive definite (pivot ${i} = ${s})`);
        L[li + i] = Math.sqrt(s);
      } else L[li + j] = s / L[lj + j];
    }
  }
  return l;
}

/** Solves (L·Lᵀ) X = B for X, B [n,m]; returns a new matrix. */
export function choleskySolve(l: Mat, b: Mat): Mat {
  const n = l.rows,
    m = b.cols,
    L = l.data;
  if (b.rows !== n) throw new LinalgError(`solve: right-hand side has ${b.rows} rows, factor is ${n}×${n}`);
  const x = mat(n, m, Float64Array.from(b.data)),
    X = x.data;
  for (let i = 0; i < n; i++) {
    // forward: L Y = B
    const xi = i * m;
    for (let k = 0; k < i; k++) {
      const lik = L[i * n + k];
      if (lik === 0) continue;
      const xk = k * m;
      for (let j = 0; j < m; j++) X[xi + j] -= lik * X[xk + j];
    }
    const d = L[i * n + i];
    for (let j = 0; j < m; j++) X[xi + j] /= d;
  }
  for (let i = n - 1; i >= 0; i--) {
    // backward: Lᵀ X = Y
    const xi = i * m;
    const d = L[i * n + i];
    for (let j = 0; j < m; j++) X[xi + j] /= d;
    for (let k = 0; k < i; k++) {
      // row i of X feeds rows k < i through L[i][k]
      const lik = L[i * n + k];
      if (lik === 0) continue;
      const xk = k * m;
      for (let j = 0; j < m; j++) X[xk + j] -= lik * X[xi + j];
    }
  }
  return x;
}

/** diag((L·Lᵀ)⁻¹) from the Cholesky factor: squared column norms of L⁻¹, one column at a time. */
export function choleskyInverseDiagonal(l: Mat): Float64Array {
  const n = l.rows,
    L = l.data;
  const diag = new Float64Array(n);
  const x = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    let norm = 0;
    for (let i = c; i < n; i++) {
      let s = i === c ? 1 : 0;
      const li = i * n;
      for (let k = c; k < i; k++) s -= L[li + k] * x[k];
      x[i] = s / L[li + i];
      norm += x[i] * x[i];
    }
    diag[c] = norm;
  }
  return diag;
}
