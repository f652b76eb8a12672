// A run's timeline frames as the studio shows them: decoded x̂₀ per sample, x_t as RGB, the pixel mean and per-pixel
// sd over the samples, and the scores against the ground truth. The decoded float images are kept with each frame,
// so exports and scoring use them rather than the 8-bit previews. One cache, in the engine; the store holds only
// what is on screen.
import type { RgbaImage, StepPreview } from '../engine/protocol';
import type { ImageBatch } from '../engine/types';
import { greyGroundTruth, scoreSampleSet } from '../eval/samples';
import { batchToRgba, latentsToRgba, mapToRgba, meanImage, pixelStd } from './images';

/** A frame: what the UI sees (`preview`), and the float images it was made from. */
export interface Frame {
  preview: StepPreview;
  /** Decoded x̂₀ [n, H, W, 3] in [0, 1]. */
  images: ImageBatch;
}

/**
 * The preview of timeline position `position`: `images` are the decoded x̂₀ of its n samples, `xt` the latent x_t
 * NCHW [n, c, h, w] (`latentShape` = [c, h, w]). With several samples the pixel mean and the per-pixel sd map; with a
 * ground truth (RGBA) the PCC / SSIM of each sample and of the mean (scoreSampleSet, as `npm run eval`) and their
 * spread over the samples.
 */
export function makeFrame(
  position: number,
  images: ImageBatch,
  xt: Float32Array,
  latentShape: readonly number[],
  groundTruth?: RgbaImage,
): Frame {
  const [c, h, w] = latentShape;
  const n = images.n;
  const preview: StepPreview = { position, x0: batchToRgba(images), xt: latentsToRgba(xt, n, c, h, w) };
  if (n > 1) {
    preview.mean = batchToRgba(meanImage(images))[0];
    const sd = pixelStd(images);
    let max = 0,
      sum = 0;
    for (const v of sd) {
      if (v > max) max = v;
      sum += v;
    }
    preview.std = mapToRgba(sd, images.width, images.height, max);
    preview.stdMax = max;
    preview.stdMean = sum / sd.length;
  }
  if (groundTruth) {
    const gt = greyGroundTruth(groundTruth.pixels, groundTruth.height, groundTruth.width, 4);
    const scores = scoreSampleSet(images.data, n, gt);
    preview.metrics = scores.perSample.map((s) => ({ ...s }));
    if (scores.mean) preview.meanMetrics = { ...scores.mean };
    if (n > 1) preview.spread = scores.spread;
  }
  return { preview, images };
}

/** Copies of a preview's pixel buffers, so the cached original stays in the engine when the copy is transferred. */
export function cloneForTransfer(p: StepPreview): { preview: StepPreview; transfer: ArrayBuffer[] } {
  const copy = (img: RgbaImage): RgbaImage => ({ ...img, pixels: img.pixels.slice() });
  const preview: StepPreview = {
    ...p,
    x0: p.x0.map(copy),
    xt: p.xt.map(copy),
    ...(p.mean ? { mean: copy(p.mean) } : {}),
    ...(p.std ? { std: copy(p.std) } : {}),
  };
  const images = [...preview.x0, ...preview.xt, ...(preview.mean ? [preview.mean] : []), ...(preview.std ? [preview.std] : [])];
  return { preview, transfer: images.map((i) => i.pixels.buffer as ArrayBuffer) };
}

/** Bytes a frame holds: its float images and every RGBA preview. */
export function frameBytes(f: Frame): number {
  const p = f.preview;
  const imgs = [...p.x0, ...p.xt, ...(p.mean ? [p.mean] : []), ...(p.std ? [p.std] : [])];
  return f.images.data.byteLength + imgs.reduce((a, i) => a + i.pixels.byteLength, 0);
}

/**
 * Frames by timeline position, least recently used evicted first once they hold more than `maxBytes` (the newest
 * frame always stays); the final frame is kept apart and never evicted. A byte budget rather than a count: a frame of
 * 16 published-size (256 px) samples holds about 17 MB, one of the default model's 32-px images a few kB.
 */
export class FrameCache {
  private readonly frames = new Map<number, Frame>();
  private bytes = 0;
  private pinned: Frame | undefined;

  constructor(readonly maxBytes = 256 * 2 ** 20) {}

  get(position: number): Frame | undefined {
    if (this.pinned?.preview.position === position) return this.pinned;
    const f = this.frames.get(position);
    if (f) {
      this.frames.delete(position);
      this.frames.set(position, f);
    }
    return f;
  }

  set(frame: Frame): void {
    const old = this.frames.get(frame.preview.position);
    if (old) {
      this.frames.delete(frame.preview.position);
      this.bytes -= frameBytes(old);
    }
    this.frames.set(frame.preview.position, frame);
    this.bytes += frameBytes(frame);
    while (this.bytes > this.maxBytes && this.frames.size > 1) {
      const [position, evicted] = this.frames.entries().next().value!;
      this.frames.delete(position);
      this.bytes -= frameBytes(evicted);
    }
  }

  /** The final frame (kept for exports for as long as the run is). */
  pin(frame: Frame): void {
    this.pinned = frame;
  }

  has(position: number): boolean {
    return this.pinned?.preview.position === position || this.frames.has(position);
  }
}
