// gunzipAll against Python's gzip module semantics: every member, CRC/length checked, size capped; gunzipHead for headers.
import { gzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { crc32, gunzipAll, gunzipHead, GzipError } from './gzip';
import { readNifti } from './nifti';

const text = (s: string) => new TextEncoder().encode(s);
const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

describe('gunzipAll', () => {
  it('reads every member of a concatenated stream', () => {
    const z = cat(gzipSync(text('abc')), gzipSync(text('')), gzipSync(text('defgh')));
    expect(new TextDecoder().decode(gunzipAll(z))).toBe('abcdefgh');
  });

  it('CRC-32 is the standard one (zlib.crc32(b"123456789") = 0xCBF43926)', () => {
    expect(crc32(text('123456789'))).toBe(0xcbf43926);
  });

  it('refuses a cut trailer, a flipped payload bit and an output beyond the cap', () => {
    const z = cat(gzipSync(text('hello ')), gzipSync(text('world, hello world')));
    expect(() => gunzipAll(z.subarray(0, z.length - 3))).toThrow(GzipError);
    const flipped = z.slice();
    flipped[z.length - 6] ^= 0x10; // inside the last member's trailer CRC (its last 8 bytes: CRC, length)
    expect(() => gunzipAll(flipped)).toThrow(/CRC-32\/length/);
    const bomb = gzipSync(new Uint8Array(4 << 20), { level: 9 });
    expect(bomb.length).toBeLessThan(16_384);
    expect(() => gunzipAll(bomb, 1 << 20)).toThrow(/more than 1048576 bytes/);
  });
});

describe('gunzipHead', () => {
  it('the first n bytes, across members; fewer when the stream holds fewer', () => {
    const z = cat(gzipSync(text('abc')), gzipSync(text('defgh')));
    expect(new TextDecoder().decode(gunzipHead(z, 5))).toBe('abcde');
    expect(new TextDecoder().decode(gunzipHead(z, 50))).toBe('abcdefgh');
  });

  it('readNifti judges the header before inflating the rest: a cut bomb that is no NIfTI is "not NIfTI", not "truncated"', () => {
    // Inflating the whole stream first (16 MiB) would end in the truncation error; the head is enough to refuse it.
    const bomb = gzipSync(new Uint8Array(16 << 20), { level: 9 });
    expect(gunzipHead(bomb, 540).length).toBe(540);
    const cut = bomb.subarray(0, bomb.length - 100);
    expect(() => gunzipAll(cut)).toThrow(/truncated|corrupt/);
    expect(() => readNifti('bomb.nii.gz', cut)).toThrow(/bomb\.nii\.gz: not a NIfTI file/);
  });
});
