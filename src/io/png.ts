// Minimal PNG encoder (8-bit RGB, filter 0, zlib via fflate): enough for exporting decoded images from
// Node and from a worker without a canvas.
import { zlibSync } from 'fflate';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** Float RGB [H, W, 3] in [0, 1] (clamped) → 8-bit values. */
export function toRgb8(rgb: Float32Array): Uint8Array {
  const out = new Uint8Array(rgb.length);
  for (let i = 0; i < rgb.length; i++) out[i] = Math.round(Math.min(1, Math.max(0, rgb[i])) * 255);
  return out;
}

/**
 * PNG bytes of an 8-bit RGB image [height, width, 3]. `text`: tEXt chunks (keyword → Latin-1 text), e.g. a
 * Comment with the metrics of an exported sheet.
 */
export function encodePng(rgb8: Uint8Array, width: number, height: number, text: Record<string, string> = {}): Uint8Array {
  if (rgb8.length !== width * height * 3) throw new Error(`encodePng: ${rgb8.length} bytes for ${width}×${height} RGB`);
  const raw = new Uint8Array(height * (1 + width * 3));
  for (let y = 0; y < height; y++) raw.set(rgb8.subarray(y * width * 3, (y + 1) * width * 3), y * (1 + width * 3) + 1);
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit, truecolour, deflate, filter 0, no interlace
  const texts = Object.entries(text).map(([k, v]) => {
    if (!/^[\x20-\x7e]{1,79}$/.test(k))
      throw new Error(`encodePng: tEXt keyword ${JSON.stringify(k)} must be 1-79 printable ASCII characters`);
    // Latin-1 as PNG requires; other characters become '?'.
    return chunk(
      'tEXt',
      Uint8Array.from(`${k}\u0000${v}`, (ch) => (ch.charCodeAt(0) < 256 ? ch.charCodeAt(0) : 63)),
    );
  });
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    ...texts,
    chunk('IDAT', zlibSync(raw, { level: 6 })),
    chunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
