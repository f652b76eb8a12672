// Exports: PNG at a nearest-neighbour scale, the sheet (tiles, captions, legend, tEXt metrics). PNGs are decoded here
// with fflate's zlib (an independent inflate) and read back pixel by pixel.
import { unzlibSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import type { RgbaImage, StepPreview } from '../engine/protocol';
import { checkScale, composeSheet, drawText, ExportError, pngAtScale, sheetPng, sheetTiles, textWidth } from './exports';

/** Width, height, RGB bytes and tEXt entries of an 8-bit RGB, filter-0 PNG (what encodePng writes). */
function decodePng(bytes: Uint8Array): { width: number; height: number; rgb: Uint8Array; text: Record<string, string> } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 8,
    width = 0,
    height = 0;
  const idat: Uint8Array[] = [];
  const text: Record<string, string> = {};
  while (o < bytes.length) {
    const len = dv.getUint32(o);
    const type = String.fromCharCode(...bytes.subarray(o + 4, o + 8));
    const data = bytes.subarray(o + 8, o + 8 + len);
    if (type === 'IHDR') {
      width = dv.getUint32(o + 8);
      height = dv.getUint32(o + 12);
      expect([data[8], data[9]]).toEqual([8, 2]);
    }
    if (type === 'IDAT') idat.push(data);
    if (type === 'tEXt') {
      const z = data.indexOf(0);
      text[String.fromCharCode(...data.subarray(0, z))] = String.fromCharCode(...data.subarray(z + 1));
    }
    o += 12 + len;
  }
  const raw = unzlibSync(Uint8Array.from(idat.flatMap((c) => Array.from(c))));
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (1 + width * 3)]).toBe(0);
    rgb.set(raw.subarray(y * (1 + width * 3) + 1, (y + 1) * (1 + width * 3)), y * width * 3);
  }
  return { width, height, rgb, text };
}

const image = (w: number, h: number, f: (x: number, y: number) => [number, number, number]): RgbaImage => {
  const pixels = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) pixels.set([...f(x, y), 255], (y * w + x) * 4);
  return { width: w, height: h, pixels };
};

describe('PNG export at a scale', () => {
  it('each source pixel becomes a scale×scale block', () => {
    const src = image(2, 1, (x) => (x === 0 ? [255, 0, 0] : [0, 0, 255]));
    const png = decodePng(pngAtScale(src, 3));
    expect([png.width, png.height]).toEqual([6, 3]);
    for (let y = 0; y < 3; y++)
      for (let x = 0; x < 6; x++) {
        expect(Array.from(png.rgb.subarray((y * 6 + x) * 3, (y * 6 + x) * 3 + 3))).toEqual(x < 3 ? [255, 0, 0] : [0, 0, 255]);
      }
    expect(decodePng(pngAtScale(src, 1)).width).toBe(2);
  });

  it('refuses scales outside 1..16 by name', () => {
    for (const bad of [0, 17, 2.5, Number.NaN]) expect(() => checkScale(bad)).toThrow(ExportError);
    expect(() =>
      pngAtScale(
        image(1, 1, () => [0, 0, 0]),
        32,
      ),
    ).toThrow(/export scale must be an integer in 1\.\.16 \(got 32\)/);
  });
});

describe('sheet', () => {
  const grey = (v: number) => image(4, 4, () => [v, v, v]);
  const preview: StepPreview = {
    position: 3,
    x0: [grey(10), grey(20)],
    xt: [grey(0), grey(0)],
    mean: grey(15),
    std: grey(200),
    stdMax: 0.25,
    stdMean: 0.125,
    metrics: [
      { pcc: 0.5, ssim: 0.25 },
      { pcc: 0.75, ssim: 0.125 },
    ],
    meanMetrics: { pcc: 0.8, ssim: 0.3 },
    spread: { pcc: { min: 0.5, max: 0.75, mean: 0.625, sd: 0.125 }, ssim: { min: 0.125, max: 0.25, mean: 0.1875, sd: 0.0625 } },
  };

  it('puts ground truth, samples, mean and sd map side by side with their metrics as captions and the spread as legend', () => {
    const { tiles, legend } = sheetTiles(preview, grey(250), ['SIMULATED DATA']);
    expect(tiles.map((t) => t.caption[0])).toEqual(['GROUND TRUTH', 'SAMPLE 1', 'SAMPLE 2', 'MEAN OF 2', 'PIXEL SD']);
    expect(tiles[1].caption).toEqual(['SAMPLE 1', 'PCC 0.500', 'SSIM 0.250']);
    expect(tiles[4].caption[1]).toBe('WHITE = 0.250');
    expect(legend[0]).toBe('PCC OVER SAMPLES: MIN 0.500 MAX 0.750 SD 0.125');
    expect(legend.at(-1)).toBe('SIMULATED DATA');
    const scale = 8;
    const sheet = composeSheet(tiles, legend, scale);
    // tiles 32 px each on one row: the top-left pixel of each tile has its image's value
    const dot = 2,
      pad = 8;
    let x = pad;
    for (const t of tiles) {
      const at = ((pad + 5) * sheet.width + x + 5) * 4;
      expect(sheet.pixels[at]).toBe(t.image.pixels[0]);
      x += Math.max(32, ...t.caption.map((c) => textWidth(c, dot))) + pad;
    }
    expect(sheet.width).toBeGreaterThanOrEqual(x);
    // captions are drawn: black pixels below the tiles
    const below = sheet.pixels.subarray((pad + 32 + pad) * sheet.width * 4);
    expect(below.some((v, i) => i % 4 === 0 && v === 0)).toBe(true);
    const png = decodePng(sheetPng(tiles, legend, scale));
    expect([png.width, png.height]).toEqual([sheet.width, sheet.height]);
    expect(png.text.Comment).toContain('SAMPLE 2, PCC 0.750, SSIM 0.125');
    expect(png.text.Comment).toContain('SSIM OVER SAMPLES: MIN 0.125 MAX 0.250 SD 0.063');
  });

  it('without a ground truth or several samples: just the images', () => {
    const { tiles, legend } = sheetTiles({ position: 0, x0: [grey(1)], xt: [grey(0)] }, undefined, []);
    expect(tiles.map((t) => t.caption)).toEqual([['SAMPLE 1']]);
    expect(legend).toEqual([]);
    expect(() => composeSheet([], [], 2)).toThrow(ExportError);
  });

  it('draws the 5×7 glyphs: "1" is a vertical bar in its middle column', () => {
    const img = image(6, 8, () => [255, 255, 255]);
    drawText(img, '1', 0, 0, 1, [0, 0, 0]);
    const col = (x: number) => Array.from({ length: 7 }, (_, y) => (img.pixels[(y * 6 + x) * 4] === 0 ? 1 : 0));
    expect(col(2)).toEqual([1, 1, 1, 1, 1, 1, 1]);
    expect(col(4)).toEqual([0, 0, 0, 0, 0, 0, 0]);
  });
});
