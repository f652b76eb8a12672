// Heatmaps as pixels (issue 14): a perceptually ordered colormap and an overlay on the decoded image,
// shared by the CLI's PNGs and the studio's canvases.

// Stops of matplotlib's 'inferno' (Smith & van der Walt, 2015) at 0, .25, .5, .75, 1: dark = little
// attention, bright = much; readable in grey print too.
const STOPS = [
  [0, 0, 4],
  [87, 16, 110],
  [188, 55, 84],
  [249, 142, 9],
  [252, 255, 164],
];

/** Colormap value v ∈ [0, 1] (clamped) → RGB in [0, 1]. */
export function inferno(v: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x)),
    f = x - i;
  return [0, 1, 2].map((k) => (STOPS[i][k] * (1 - f) + STOPS[i + 1][k] * f) / 255) as [number, number, number];
}

/**
 * Heat [h·w] at the latent size → RGB [H, W, 3] in [0, 1] at the image size (nearest upsampling, H a
 * multiple of h), blended over an image [H, W, 3] with weight `alpha` (0 = image only) when given.
 * Heat `lo` maps to the bottom of the colormap and `hi` to the top (heatRange gives a panel's own range).
 */
export function heatToRgb(
  heat: Float32Array,
  h: number,
  w: number,
  H: number,
  W: number,
  lo: number,
  hi: number,
  image?: Float32Array,
  alpha = 0.6,
): Float32Array {
  if (heat.length !== h * w) throw new Error(`heat has ${heat.length} values for ${h}×${w}`);
  if (H % h !== 0 || W % w !== 0) throw new Error(`image ${H}×${W} is not a multiple of the map ${h}×${w}`);
  if (image && image.length !== H * W * 3) throw new Error(`image has ${image.length} values for ${H}×${W}×3`);
  const out = new Float32Array(H * W * 3);
  const fy = H / h,
    fx = W / w;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const c = inferno(hi > lo ? (heat[Math.floor(y / fy) * w + Math.floor(x / fx)] - lo) / (hi - lo) : 0);
      for (let k = 0; k < 3; k++) {
        const o = (y * W + x) * 3 + k;
        out[o] = image ? (1 - alpha) * image[o] + alpha * c[k] : c[k];
      }
    }
  }
  return out;
}

/** [min, max] of a heatmap: a panel stretched to its own range shows where in the image the ROI is attended most. */
export function heatRange(heat: ArrayLike<number>): [number, number] {
  let lo = Infinity,
    hi = -Infinity;
  for (let i = 0; i < heat.length; i++) {
    lo = Math.min(lo, heat[i]);
    hi = Math.max(hi, heat[i]);
  }
  return [lo, hi];
}

/** Panels [H, W, 3] side by side with a 2-pixel white gutter, each enlarged `zoom`× → one RGB image. */
export function tile(panels: Float32Array[], H: number, W: number, zoom = 1): { rgb: Float32Array; width: number; height: number } {
  const gap = 2,
    ph = H * zoom,
    pw = W * zoom;
  const width = panels.length * pw + (panels.length - 1) * gap,
    height = ph;
  const rgb = new Float32Array(width * height * 3).fill(1);
  panels.forEach((p, i) => {
    for (let y = 0; y < ph; y++) {
      for (let x = 0; x < pw; x++) {
        const src = (Math.floor(y / zoom) * W + Math.floor(x / zoom)) * 3,
          dst = (y * width + i * (pw + gap) + x) * 3;
        rgb[dst] = p[src];
        rgb[dst + 1] = p[src + 1];
        rgb[dst + 2] = p[src + 2];
      }
    }
  });
  return { rgb, width, height };
}
