// Bundle round trips (fp32 exact, fp16 within 2^-11 relative), integrity errors, progress and cancel.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { PUBLISHED_GOD_SBJ3 } from '../../model/config';
import { BundleError } from '../errors';
import { float32ToFloat16, packFloat16 } from '../fp16';
import { fixtureBytes } from '../../../test/fixtures/io/fixtures';
import { float16ToFloat32, readNpy, readNpyHeader } from '../npy';
import { loadBundle, type BundleSource } from './loader';
import { parseManifest } from './manifest';
import { dirSource, writeBundleToDir } from './node';
import { bundleFromZip, memorySource, urlSource } from './sources';
import { writeBundle } from './writer';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'bundle-test-'));
  dirs.push(d);
  return d;
}

/** Deterministic values spanning many magnitudes (and exact zeros, negatives). */
function tensors(): Record<string, { shape: number[]; data: Float32Array }> {
  let seed = 7;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const make = (shape: number[]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    return { shape, data: Float32Array.from({ length: n }, (_, i) => (i % 17 === 0 ? 0 : (rnd() - 0.5) * 10 ** (rnd() * 6 - 3))) };
  };
  return {
    'a.weight': make([64, 32]),
    'a.bias': make([64]),
    'b.conv.weight': make([8, 4, 3, 3]),
    'first_stage_model.quantize.embedding.weight': make([50, 3]),
    'c.big': make([300, 100]),
    scalar: make([]),
  };
}

function memorySink(): { files: Map<string, Uint8Array>; write(f: string, b: Uint8Array): Promise<void> } {
  const files = new Map<string, Uint8Array>();
  return {
    files,
    write: async (f, b) => {
      files.set(f, b);
    },
  };
}

describe('bundle round trip', () => {
  it('fp32 is exact, shards respect the size limit, a too-big tensor gets its own shard', async () => {
    const t = tensors();
    const dir = tmp();
    const m = await writeBundleToDir(dir, PUBLISHED_GOD_SBJ3, t, {
      shardBytes: 40_000,
      sources: [{ file: 'x.pth', sha256: '0'.repeat(64), kind: 'phase3' }],
    });
    expect(m.shards.length).toBeGreaterThan(1);
    const big = m.tensors.find((e) => e.name === 'c.big')!;
    expect(m.tensors.filter((e) => e.shard === big.shard)).toHaveLength(1); // 120 000 bytes > 40 000
    for (const s of m.shards) {
      const inShard = m.tensors.filter((e) => m.shards[e.shard] === s);
      if (inShard.length > 1) expect(s.nbytes).toBeLessThanOrEqual(40_000);
    }
    const loaded = await loadBundle(dirSource(dir));
    expect(loaded.manifest.config).toEqual(PUBLISHED_GOD_SBJ3);
    for (const [name, v] of Object.entries(t)) {
      expect(loaded.tensors[name].shape).toEqual(v.shape);
      expect(loaded.tensors[name].data).toEqual(v.data);
    }
  });

  it('fp16: rank >= 2 tensors in half (within 2^-11 relative), vectors and the codebook stay fp32', async () => {
    const t = tensors();
    const sink = memorySink();
    const m = await writeBundle(sink, PUBLISHED_GOD_SBJ3, t, { dtype: 'float16' });
    const dtypes = Object.fromEntries(m.tensors.map((e) => [e.name, e.dtype]));
    expect(dtypes).toEqual({
      'a.weight': 'float16',
      'a.bias': 'float32',
      'b.conv.weight': 'float16',
      'first_stage_model.quantize.embedding.weight': 'float32',
      'c.big': 'float16',
      scalar: 'float32',
    });
    const loaded = await loadBundle(memorySource(sink.files));
    for (const [name, v] of Object.entries(t)) {
      const got = loaded.tensors[name].data;
      for (let i = 0; i < v.data.length; i++) {
        const x = v.data[i];
        const err = Math.abs(got[i] - x);
        // Normal half range: relative 2^-11; below 2^-14 (subnormal) the spacing is 2^-24, so half of it absolute.
        expect(err).toBeLessThanOrEqual(Math.max(Math.abs(x) * 2 ** -11, 2 ** -25));
      }
    }
    // Half the bytes for the big tensor.
    expect(m.tensors.find((e) => e.name === 'c.big')!.nbytes).toBe(300 * 100 * 2);
  });

  it('float32ToFloat16 rounds to nearest even like numpy (ties, subnormals, overflow)', () => {
    const cases: [number, number][] = [
      [1, 0x3c00],
      [1 + 2 ** -11, 0x3c00],
      [1 + 3 * 2 ** -11, 0x3c02],
      [1 + 2 ** -11 + 2 ** -20, 0x3c01],
      [65504, 0x7bff],
      [65520, 0x7c00],
      [-1e9, 0xfc00],
      [2 ** -24, 0x0001],
      [2 ** -25, 0x0000],
      [3 * 2 ** -26, 0x0001],
      [2 ** -14, 0x0400],
      [-0, 0x8000],
      [0.1, 0x2e66],
    ];
    for (const [x, h] of cases) expect([x, float32ToFloat16(x)]).toEqual([x, h]);
    expect(Number.isNaN(float16ToFloat32(float32ToFloat16(NaN)))).toBe(true);
  });

  it('packFloat16 gives the same bits as numpy astype(float16)', () => {
    const f32 = readNpy(fixtureBytes('fp16_src.npy')).data as Float32Array;
    const f16 = fixtureBytes('fp16_numpy.npy');
    const h = readNpyHeader(f16);
    const bits = new Uint16Array(f16.slice(h.dataOffset).buffer);
    expect(Array.from(packFloat16(f32))).toEqual(Array.from(bits));
  });
});

describe('bundle integrity', () => {
  async function written(): Promise<{ files: Map<string, Uint8Array> }> {
    const sink = memorySink();
    await writeBundle(sink, PUBLISHED_GOD_SBJ3, tensors(), { shardBytes: 40_000 });
    return sink;
  }

  it('a flipped byte is reported as a corrupt shard with both hashes', async () => {
    const { files } = await written();
    const shard = files.get('shard-001.bin')!.slice();
    shard[5] ^= 0xff;
    files.set('shard-001.bin', shard);
    await expect(loadBundle(memorySource(files))).rejects.toThrow(/^shard-001\.bin is corrupt: sha256 [0-9a-f]{64} expected [0-9a-f]{64}/);
  });

  it('missing and truncated shards are named', async () => {
    const { files } = await written();
    const cut = new Map(files);
    cut.set('shard-000.bin', files.get('shard-000.bin')!.subarray(0, 100));
    await expect(loadBundle(memorySource(cut))).rejects.toThrow(/shard-000\.bin has 100 bytes, the manifest says/);
    files.delete('shard-002.bin');
    await expect(loadBundle(memorySource(files))).rejects.toThrow(BundleError);
    await expect(loadBundle(memorySource(files))).rejects.toThrow(/shard-002\.bin is missing/);
  });

  it('manifest version, format and tensors outside their shard are refused', async () => {
    const { files } = await written();
    const m = JSON.parse(new TextDecoder().decode(files.get('manifest.json')));
    expect(() => parseManifest(JSON.stringify({ ...m, version: 2 }))).toThrow(/version 2; this app reads version 1/);
    expect(() => parseManifest(JSON.stringify({ ...m, format: 'other' }))).toThrow(/not a decoding-studio-bundle manifest/);
    const bad = structuredClone(m);
    bad.tensors[0].offset = m.shards[bad.tensors[0].shard].nbytes - 4;
    expect(() => parseManifest(JSON.stringify(bad))).toThrow(/tensor a\.weight lies outside its shard/);
    expect(() => parseManifest('{')).toThrow(BundleError);
  });
});

describe('bundle sources', () => {
  it('progress is monotone, ends at the total, and the zip source loads the same tensors', async () => {
    const dir = tmp();
    await writeBundleToDir(join(dir, 'model'), PUBLISHED_GOD_SBJ3, tensors(), { shardBytes: 40_000 });
    const files: Record<string, Uint8Array> = {};
    for (const f of ['manifest.json', 'shard-000.bin', 'shard-001.bin', 'shard-002.bin', 'shard-003.bin']) {
      try {
        files[`model/${f}`] = new Uint8Array(readFileSync(join(dir, 'model', f)));
      } catch {
        /* fewer shards */
      }
    }
    const zipped = zipSync(files);
    const seen: [number, number][] = [];
    const loaded = await loadBundle(bundleFromZip(zipped), { onProgress: (d, t) => seen.push([d, t]) });
    const total = loaded.manifest.shards.reduce((a, s) => a + s.nbytes, 0);
    expect(seen.at(-1)).toEqual([total, total]);
    for (let i = 1; i < seen.length; i++) expect(seen[i][0]).toBeGreaterThanOrEqual(seen[i - 1][0]);
    expect(loaded.tensors['c.big'].data).toEqual(tensors()['c.big'].data);
  });

  it('URL source streams with progress, 404 is a missing file, and abort cancels mid-way', async () => {
    const sink = memorySink();
    await writeBundle(sink, PUBLISHED_GOD_SBJ3, tensors(), { shardBytes: 40_000 });
    // A fetch that serves the files in 1000-byte chunks, like a slow network.
    const fakeFetch = (async (url: string | URL | Request, init?: RequestInit) => {
      const file = String(url).split('/').pop()!;
      const bytes = sink.files.get(file);
      if (!bytes) return new Response('not found', { status: 404 });
      let o = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(c) {
          if (init?.signal?.aborted) {
            c.error(new DOMException('aborted', 'AbortError'));
            return;
          }
          if (o >= bytes.length) {
            c.close();
            return;
          }
          c.enqueue(bytes.slice(o, o + 1000));
          o += 1000;
        },
      });
      return new Response(body, { status: 200 });
    }) as typeof fetch;
    const seen: number[] = [];
    const loaded = await loadBundle(urlSource('https://models.example/m', fakeFetch), { onProgress: (d) => seen.push(d) });
    expect(seen.length).toBeGreaterThan(100);
    expect(loaded.tensors['a.weight'].data).toEqual(tensors()['a.weight'].data);

    const ctl = new AbortController();
    let calls = 0;
    const p = loadBundle(urlSource('https://models.example/m', fakeFetch), {
      signal: ctl.signal,
      onProgress: (d) => {
        if (++calls === 20) ctl.abort();
        expect(d).toBeGreaterThanOrEqual(0);
      },
    });
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    expect(calls).toBeLessThan(40);

    sink.files.delete('manifest.json');
    await expect(loadBundle(urlSource('https://models.example/m', fakeFetch))).rejects.toThrow(
      /manifest\.json is missing from https:\/\/models\.example\/m \(HTTP 404\)/,
    );
    const spa = (async () =>
      new Response('<!doctype html><title>studio</title>', { headers: { 'content-type': 'text/html; charset=utf-8' } })) as typeof fetch;
    await expect(loadBundle(urlSource('https://models.example/nothing/', spa))).rejects.toThrow(
      'manifest.json is missing from https://models.example/nothing/ (the server answered with an HTML page, not the file)',
    );
  });

  it('a directory source reports a missing manifest', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'readme.txt'), 'x');
    await expect(loadBundle(dirSource(dir))).rejects.toThrow(/manifest\.json is missing from/);
    const source: BundleSource = dirSource(dir);
    expect(source.label).toBe(dir);
  });
});
