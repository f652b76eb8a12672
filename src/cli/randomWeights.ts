// Random weights at a configuration's shapes, for benchmarks (speed does not depend on the values): fan-in
// scaled normals, norm gains 1 and small biases, so activations stay finite through every network.
// `npm run bench` draws them on the tfjs backend; scripts/make-published-bundle.ts writes them into a bundle.

/** How a tensor is initialised: all ones (norm gains), or normal with mean 0 and this standard deviation. */
export function randomInit(name: string, shape: readonly number[]): { ones: true } | { ones: false; std: number } {
  if (/norm.*weight$|\.norm\.weight$/.test(name) && shape.length === 1) return { ones: true };
  const fanIn = shape.length > 1 ? shape.slice(1).reduce((a, b) => a * b, 1) : 1;
  return { ones: false, std: shape.length > 1 ? 1 / Math.sqrt(fanIn) : 0.01 };
}

/**
 * The values of one tensor (randomInit's rule), seeded by its name and `seed`: the same bundle every time.
 * Normals by Box–Muller over a 32-bit xorshift generator (fast; the statistics, not the generator, matter here).
 */
export function randomValues(name: string, shape: readonly number[], seed = 1): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const init = randomInit(name, shape);
  const out = new Float32Array(n);
  if (init.ones) return out.fill(1);
  let s = (seed * 0x9e3779b1) | 0;
  for (let i = 0; i < name.length; i++) s = Math.imul(s ^ name.charCodeAt(i), 0x01000193);
  if (s === 0) s = 0x2545f491;
  const uniform = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) + 0.5) / 4294967296;
  };
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(uniform())) * init.std;
    const a = 2 * Math.PI * uniform();
    out[i] = r * Math.cos(a);
    if (i + 1 < n) out[i + 1] = r * Math.sin(a);
  }
  return out;
}
