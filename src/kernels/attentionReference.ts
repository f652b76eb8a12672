// Plain-JS float64 attention: the independent oracle for the kernel tests and the benchmark's sanity check.
/** softmax(Q·Kᵀ·scale)·V for flat row-major q [B, N, C], k/v [B, M, C], heads contiguous along C. */
export function attentionReference(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  batch: number,
  queries: number,
  keys: number,
  width: number,
  numHeads: number,
  scale: number,
): Float64Array {
  const d = width / numHeads;
  const out = new Float64Array(batch * queries * width);
  const p = new Float64Array(keys);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < numHeads; h++) {
      for (let i = 0; i < queries; i++) {
        const qo = (b * queries + i) * width + h * d;
        let mx = -Infinity;
        for (let j = 0; j < keys; j++) {
          const ko = (b * keys + j) * width + h * d;
          let s = 0;
          for (let c = 0; c < d; c++) s += q[qo + c]! * k[ko + c]!;
          p[j] = s * scale;
          mx = Math.max(mx, p[j]!);
        }
        let sum = 0;
        for (let j = 0; j < keys; j++) {
          p[j] = Math.exp(p[j]! - mx);
          sum += p[j]!;
        }
        for (let j = 0; j < keys; j++) {
          const w = p[j]! / sum,
            vo = (b * keys + j) * width + h * d;
          for (let c = 0; c < d; c++) out[qo + c] += w * v[vo + c]!;
        }
      }
    }
  }
  return out;
}
