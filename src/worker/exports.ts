// Exports of a run's images, made from frames the engine keeps (src/worker/previews.ts): no decoding happens here,
// so an export after Done is immediate. PNG at a nearest-neighbour scale, the trajectory GIF, and a sheet PNG with
// the ground truth, samples, mean, sd map and the metrics written into the image (5×7 bitmap font) and as a tEXt
// Comment. Pure functions of their inputs, testable in Node.
import { GIFEncoder, applyPalette, quantize } from 'gifenc';
import type { RgbaImage, SampleMetrics, StepPreview } from '../engine/protocol';
import { encodePng } from '../io/png';
import { rgbaToRgb, upscale } from './images';
import { errorClass } from '../errors';

export class ExportError extends errorClass('ExportError') {}

/** Throws ExportError unless `scale` is an integer in 1..16. */
export function checkScale(scale: number): void {
  if (!(Number.isInteger(scale) && scale >= 1 && scale <= 16))
    throw new ExportError(`export scale must be an integer in 1..16 (got ${String(scale)})`);
}

/** PNG of `img` enlarged `scale` times by nearest neighbour (each pixel a scale×scale block). */
export function pngAtScale(img: RgbaImage, scale: number, text: Record<string, string> = {}): Uint8Array {
  checkScale(scale);
  const big = upscale(img, scale);
  return encodePng(rgbaToRgb(big), big.width, big.height, text);
}

/**
 * Trajectory GIF: one frame per timeline position (images as given, enlarged to about 256 px), the last held a second,
 * positions in `holdHalf` (a low-level start) half a second, the others 120 ms.
 */
export function trajectoryGif(frames: RgbaImage[], holdHalf: (p: number) => boolean): Uint8Array {
  const gif = GIFEncoder();
  frames.forEach((src, p) => {
    const frame = upscale(src, Math.max(1, Math.floor(256 / src.width)));
    const palette = quantize(frame.pixels, 256);
    const last = p === frames.length - 1;
    gif.writeFrame(applyPalette(frame.pixels, palette), frame.width, frame.height, {
      palette,
      delay: last ? 1000 : holdHalf(p) ? 500 : 120,
    });
  });
  gif.finish();
  return gif.bytes();
}

// ---- 5×7 bitmap font (columns, bit 0 at the top; the classic HD44780-style glyphs) ----------------------------------

const GLYPHS: Record<string, number[]> = {
  '0': [0x3e, 0x51, 0x49, 0x45, 0x3e],
  '1': [0x00, 0x42, 0x7f, 0x40, 0x00],
  '2': [0x42, 0x61, 0x51, 0x49, 0x46],
  '3': [0x21, 0x41, 0x45, 0x4b, 0x31],
  '4': [0x18, 0x14, 0x12, 0x7f, 0x10],
  '5': [0x27, 0x45, 0x45, 0x45, 0x39],
  '6': [0x3c, 0x4a, 0x49, 0x49, 0x30],
  '7': [0x01, 0x71, 0x09, 0x05, 0x03],
  '8': [0x36, 0x49, 0x49, 0x49, 0x36],
  '9': [0x06, 0x49, 0x49, 0x29, 0x1e],
  A: [0x7e, 0x11, 0x11, 0x11, 0x7e],
  B: [0x7f, 0x49, 0x49, 0x49, 0x36],
  C: [0x3e, 0x41, 0x41, 0x41, 0x22],
  D: [0x7f, 0x41, 0x41, 0x22, 0x1c],
  E: [0x7f, 0x49, 0x49, 0x49, 0x41],
  F: [0x7f, 0x09, 0x09, 0x01, 0x01],
  G: [0x3e, 0x41, 0x41, 0x51, 0x32],
  H: [0x7f, 0x08, 0x08, 0x08, 0x7f],
  I: [0x00, 0x41, 0x7f, 0x41, 0x00],
  J: [0x20, 0x40, 0x41, 0x3f, 0x01],
  K: [0x7f, 0x08, 0x14, 0x22, 0x41],
  L: [0x7f, 0x40, 0x40, 0x40, 0x40],
  M: [0x7f, 0x02, 0x04, 0x02, 0x7f],
  N: [0x7f, 0x04, 0x08, 0x10, 0x7f],
  O: [0x3e, 0x41, 0x41, 0x41, 0x3e],
  P: [0x7f, 0x09, 0x09, 0x09, 0x06],
  Q: [0x3e, 0x41, 0x51, 0x21, 0x5e],
  R: [0x7f, 0x09, 0x19, 0x29, 0x46],
  S: [0x46, 0x49, 0x49, 0x49, 0x31],
  T: [0x01, 0x01, 0x7f, 0x01, 0x01],
  U: [0x3f, 0x40, 0x40, 0x40, 0x3f],
  V: [0x1f, 0x20, 0x40, 0x20, 0x1f],
  W: [0x7f, 0x20, 0x18, 0x20, 0x7f],
  X: [0x63, 0x14, 0x08, 0x14, 0x63],
  Y: [0x03, 0x04, 0x78, 0x04, 0x03],
  Z: [0x61, 0x51, 0x49, 0x45, 0x43],
  ' ': [0, 0, 0, 0, 0],
  '.': [0x00, 0x60, 0x60, 0x00, 0x00],
  ':': [0x00, 0x36, 0x36, 0x00, 0x00],
  '-': [0x08, 0x08, 0x08, 0x08, 0x08],
  '=': [0x14, 0x14, 0x14, 0x14, 0x14],
  '+': [0x08, 0x08, 0x3e, 0x08, 0x08],
  '(': [0x00, 0x1c, 0x22, 0x41, 0x00],
  ')': [0x00, 0x41, 0x22, 0x1c, 0x00],
  '/': [0x20, 0x10, 0x08, 0x04, 0x02],
  ',': [0x00, 0x50, 0x30, 0x00, 0x00],
  '#': [0x14, 0x7f, 0x14, 0x7f, 0x14],
  '?': [0x02, 0x01, 0x51, 0x09, 0x06],
};
const GLYPH_W = 6; // 5 columns and a space
const GLYPH_H = 8; // 7 rows and a space

/** Width in pixels of `text` at `size` (pixels per font dot). */
export function textWidth(text: string, size: number): number {
  return text.length * GLYPH_W * size;
}

/** Draws `text` (upper-cased; characters outside the font as '?') into `img` at (x, y), in colour `rgb`. */
export function drawText(img: RgbaImage, text: string, x: number, y: number, size: number, rgb: [number, number, number]): void {
  [...text.toUpperCase()].forEach((ch, i) => {
    const cols = GLYPHS[ch] ?? GLYPHS['?'];
    cols.forEach((bits, cx) => {
      for (let cy = 0; cy < 7; cy++) {
        if (!((bits >> cy) & 1)) continue;
        for (let dy = 0; dy < size; dy++)
          for (let dx = 0; dx < size; dx++) {
            const px = x + (i * GLYPH_W + cx) * size + dx,
              py = y + cy * size + dy;
            if (px < 0 || py < 0 || px >= img.width || py >= img.height) continue;
            img.pixels.set([...rgb, 255], (py * img.width + px) * 4);
          }
      }
    });
  });
}

// ---- sheet ---------------------------------------------------------------------------------------------------------

export interface SheetTile {
  image: RgbaImage;
  /** Caption lines under the tile (a few short lines: the name, PCC, SSIM). */
  caption: string[];
}

const fmt = (m: SampleMetrics): string[] => [`PCC ${m.pcc.toFixed(3)}`, `SSIM ${m.ssim.toFixed(3)}`];

/**
 * The tiles of a sheet for one frame: ground truth (if any), each sample, the pixel mean and the sd map, with their
 * metrics as captions; and the legend lines (spread of each metric, sd scale, and `notes` such as a synthetic label).
 */
export function sheetTiles(
  preview: StepPreview,
  groundTruth: RgbaImage | undefined,
  notes: string[],
): { tiles: SheetTile[]; legend: string[] } {
  const tiles: SheetTile[] = [];
  if (groundTruth) tiles.push({ image: groundTruth, caption: ['GROUND TRUTH'] });
  preview.x0.forEach((image, i) =>
    tiles.push({ image, caption: [`SAMPLE ${i + 1}`, ...(preview.metrics?.[i] ? fmt(preview.metrics[i]) : [])] }),
  );
  if (preview.mean)
    tiles.push({
      image: preview.mean,
      caption: [`MEAN OF ${preview.x0.length}`, ...(preview.meanMetrics ? fmt(preview.meanMetrics) : [])],
    });
  if (preview.std) tiles.push({ image: preview.std, caption: ['PIXEL SD', `WHITE = ${(preview.stdMax ?? 0).toFixed(3)}`] });
  const legend: string[] = [];
  const sp = preview.spread;
  if (sp) {
    legend.push(`PCC OVER SAMPLES: MIN ${sp.pcc.min.toFixed(3)} MAX ${sp.pcc.max.toFixed(3)} SD ${sp.pcc.sd.toFixed(3)}`);
    legend.push(`SSIM OVER SAMPLES: MIN ${sp.ssim.min.toFixed(3)} MAX ${sp.ssim.max.toFixed(3)} SD ${sp.ssim.sd.toFixed(3)}`);
  }
  if (preview.stdMean !== undefined)
    legend.push(`PIXEL SD (GREY, 0-1 UNITS): MEAN ${preview.stdMean.toFixed(4)} MAX ${(preview.stdMax ?? 0).toFixed(4)}`);
  legend.push(...notes);
  return { tiles, legend };
}

/**
 * One RGBA sheet: tiles side by side on white, each enlarged `scale` times, captions under them and the legend below,
 * in black text at `max(1, floor(scale / 4))` pixels per font dot.
 */
export function composeSheet(tiles: SheetTile[], legend: string[], scale: number): RgbaImage {
  checkScale(scale);
  if (tiles.length === 0) throw new ExportError('nothing to put on the sheet');
  const big = tiles.map((t) => upscale(t.image, scale));
  const dot = Math.max(1, Math.floor(scale / 4));
  const pad = 4 * dot;
  const lineH = GLYPH_H * dot + dot;
  const captionLines = Math.max(...tiles.map((t) => t.caption.length));
  const colW = big.map((b, i) => Math.max(b.width, ...tiles[i].caption.map((c) => textWidth(c, dot))));
  const tileH = Math.max(...big.map((b) => b.height));
  const width = Math.max(pad + colW.reduce((a, w) => a + w + pad, 0), pad * 2 + Math.max(0, ...legend.map((l) => textWidth(l, dot))));
  const height = pad + tileH + pad + captionLines * lineH + (legend.length ? pad + legend.length * lineH : 0) + pad;
  const sheet: RgbaImage = { width, height, pixels: new Uint8ClampedArray(width * height * 4).fill(255) };
  let x = pad;
  big.forEach((b, i) => {
    for (let y = 0; y < b.height; y++)
      sheet.pixels.set(b.pixels.subarray(y * b.width * 4, (y + 1) * b.width * 4), ((pad + y) * width + x) * 4);
    tiles[i].caption.forEach((c, k) => drawText(sheet, c, x, pad + tileH + pad + k * lineH, dot, [0, 0, 0]));
    x += colW[i] + pad;
  });
  const legendTop = pad + tileH + pad + captionLines * lineH + pad;
  legend.forEach((l, k) => drawText(sheet, l, pad, legendTop + k * lineH, dot, [0, 0, 0]));
  return sheet;
}

/** The sheet PNG: the composed image, and its captions and legend as a tEXt Comment (machine-readable metrics). */
export function sheetPng(tiles: SheetTile[], legend: string[], scale: number): Uint8Array {
  const sheet = composeSheet(tiles, legend, scale);
  const comment = [...tiles.map((t) => t.caption.join(', ')), ...legend].join('\n');
  return encodePng(rgbaToRgb(sheet), sheet.width, sheet.height, { Comment: comment });
}
