// Seeded Gaussian noise that is the same on every platform: xoshiro128** (integer-only, so exact in
// any JS engine) seeded through splitmix32, and Box–Muller. The transcendental functions can differ
// by an ulp of float64 between engines; the values are stored as float32, which absorbs that except
// in vanishingly rare rounding ties.

/** xoshiro128** 1.1 (Blackman & Vigna), 32-bit outputs. */
export class Xoshiro128ss {
  private s: Uint32Array;

  constructor(state: ArrayLike<number>) {
    if (state.length !== 4) throw new Error(`xoshiro128** needs 4 state words, got ${state.length}`);
    this.s = Uint32Array.from(state);
    if (this.s.every((v) => v === 0)) throw new Error('xoshiro128** state must not be all zero');
  }

  /** Seeds from any safe integer (negative and > 2³² included) by splitmix32 over its two 32-bit halves. */
  static fromSeed(seed: number): Xoshiro128ss {
    if (!Number.isSafeInteger(seed)) throw new Error(`seed must be a safe integer (got ${seed})`);
    let x = (seed >>> 0) ^ Math.imul(Math.floor(seed / 2 ** 32) | 0, 0x9e3779b9);
    const state: number[] = [];
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      state.push((z ^ (z >>> 16)) >>> 0);
    }
    return new Xoshiro128ss(state);
  }

  /** Next 32-bit unsigned output. */
  next(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** `n` standard normal values from `seed` (Box–Muller, both outputs of each pair used). */
export function gaussian(seed: number, n: number): Float32Array {
  if (!(Number.isInteger(n) && n >= 0)) throw new Error(`gaussian: count must be a non-negative integer (got ${n})`);
  const rng = Xoshiro128ss.fromSeed(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    // u1 ∈ (0, 1] keeps log finite; u2 ∈ [0, 1).
    const u1 = (rng.next() + 1) / 2 ** 32;
    const u2 = rng.next() / 2 ** 32;
    const r = Math.sqrt(-2 * Math.log(u1));
    const theta = 2 * Math.PI * u2;
    out[i] = r * Math.cos(theta);
    if (i + 1 < n) out[i + 1] = r * Math.sin(theta);
  }
  return out;
}

/**
 * mulberry32: a small seeded uniform generator in [0, 1), for reproducible permutations (the shuffled baseline,
 * a counterfactual's shuffled voxels) that must be the same in the studio, the CLI and a receipt's replay.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
