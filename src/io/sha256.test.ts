import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Sha256 } from './sha256';

describe('incremental SHA-256', () => {
  it.each([0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 100_003])('equals node:crypto for %i bytes fed in uneven chunks', (n) => {
    const data = new Uint8Array(randomBytes(n));
    const h = new Sha256();
    for (let o = 0, k = 1; o < n; o += k, k = ((k * 7) % 97) + 1) h.update(data.subarray(o, Math.min(n, o + k)));
    expect(h.hex()).toBe(createHash('sha256').update(data).digest('hex'));
  });
});
