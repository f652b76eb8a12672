// Garbage in → typed error out: truncated, bit-flipped and random bytes for every reader.
import { describe, expect, it } from 'vitest';
import { fixtureBytes } from '../../test/fixtures/io/fixtures';
import { loadBundle } from './bundle/loader';
import { bundleFromZip, memorySource } from './bundle/sources';
import { writeBundle } from './bundle/writer';
import { PUBLISHED_GOD_SBJ3 } from '../model/config';
import { BundleError, FmriFormatError } from './errors';
import { CheckpointError } from '../convert/errors';
import { readFmriFile } from './fmriFile';
import { loadAll, memoryAccess, readCheckpoint } from '../convert/torch/index';
import { zipSync } from 'fflate';

let seed = 12345;
const rand = () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
};
const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));

/** Cut points spread over the file, always including the header region. */
function cuts(length: number, count: number): number[] {
  const out = new Set<number>([0, 1, 4, 8, 12, 16, 64, 128, 200, 348, 352]);
  for (let i = 0; i < count; i++) out.add(Math.floor(rand() * length));
  return [...out].filter((c) => c < length);
}

function flipped(bytes: Uint8Array, flips: number): Uint8Array {
  const out = bytes.slice();
  for (let i = 0; i < flips; i++) out[Math.floor(rand() * out.length)] ^= 1 << Math.floor(rand() * 8);
  return out;
}

async function outcome(p: Promise<unknown>): Promise<'ok' | 'typed' | string> {
  try {
    const f = await p;
    // A file that parses must still yield finite samples of the announced size.
    const file = f as { samples: number; voxels: number; getSample(i: number): Float32Array };
    for (let i = 0; i < file.samples; i++) {
      const s = file.getSample(i);
      if (s.length !== file.voxels || s.some((v) => !Number.isFinite(v))) return 'bad sample';
    }
    return 'ok';
  } catch (e) {
    return e instanceof FmriFormatError ? 'typed' : `${(e as Error).name}: ${(e as Error).message}`;
  }
}

const FMRI = [
  'dtype_le_f4.npy',
  'dtype_i1.npy',
  'god.npz',
  'plain.npz',
  'vol4d.nii.gz',
  'vol3d.nii',
  'table.csv',
  'table.tsv',
  'bdata.h5',
  'plain.h5',
];
const STRICT_TRUNCATION = new Set([
  'dtype_le_f4.npy',
  'dtype_i1.npy',
  'god.npz',
  'plain.npz',
  'vol4d.nii.gz',
  'vol3d.nii',
  'bdata.h5',
  'plain.h5',
]);

describe('fMRI readers never crash on garbage', () => {
  it.each(FMRI)('%s truncated', async (name) => {
    const bytes = fixtureBytes(name);
    for (const c of cuts(bytes.length, 25)) {
      const r = await outcome(
        readFmriFile(name, bytes.subarray(0, c), { mask: name === 'vol3d.nii' ? fixtureBytes('mask.nii.gz') : undefined }),
      );
      if (STRICT_TRUNCATION.has(name)) expect([c, r]).toEqual([c, 'typed']);
      else expect([c, ['ok', 'typed'].includes(r) ? 'fine' : r]).toEqual([c, 'fine']);
    }
  });

  it.each(FMRI)('%s with flipped bits', async (name) => {
    const bytes = fixtureBytes(name);
    for (let k = 0; k < 25; k++) {
      const r = await outcome(readFmriFile(name, flipped(bytes, 1 + (k % 4))));
      expect([k, ['ok', 'typed'].includes(r) ? 'fine' : r]).toEqual([k, 'fine']);
    }
  });

  it.each(['x.npy', 'x.npz', 'x.h5', 'x.nii', 'x.nii.gz', 'x.csv', 'x.bin'])('random bytes named %s', async (name) => {
    for (const n of [3, 10, 100, 1000, 5000]) {
      expect([n, await outcome(readFmriFile(name, randomBytes(n)))]).toEqual([n, 'typed']);
    }
  });
});

function checkpointOutcome(name: string, bytes: Uint8Array): string {
  try {
    const ck = readCheckpoint(name, memoryAccess(bytes));
    loadAll(ck.tensors);
    return 'ok';
  } catch (e) {
    return e instanceof CheckpointError ? 'typed' : `${(e as Error).name}: ${(e as Error).message}`;
  }
}

describe('checkpoint readers never crash on garbage', () => {
  it.each(['ckpt.pth', 'tensors.safetensors'])('%s truncated, flipped, random', (name) => {
    const bytes = fixtureBytes(name);
    for (const c of cuts(bytes.length, 40)) expect([c, checkpointOutcome(name, bytes.subarray(0, c))]).toEqual([c, 'typed']);
    for (let k = 0; k < 40; k++) {
      const r = checkpointOutcome(name, flipped(bytes, 1 + (k % 3)));
      expect([k, ['ok', 'typed'].includes(r) ? 'fine' : r]).toEqual([k, 'fine']);
    }
    for (const n of [1, 8, 30, 500, 4000]) expect([n, checkpointOutcome(name, randomBytes(n))]).toEqual([n, 'typed']);
  });
});

describe('bundle loader never crashes on garbage', () => {
  it('flipped or truncated shards and manifests, random zips', async () => {
    const files = new Map<string, Uint8Array>();
    const t = { w: { shape: [40, 30], data: Float32Array.from({ length: 1200 }, (_, i) => i) } };
    await writeBundle(
      {
        write: async (f, b) => {
          files.set(f, b);
        },
      },
      PUBLISHED_GOD_SBJ3,
      t,
    );
    const outcomeOf = async (m: Map<string, Uint8Array>) =>
      loadBundle(memorySource(m)).then(
        () => 'ok',
        (e: Error) => (e instanceof BundleError ? 'typed' : `${e.name}: ${e.message}`),
      );
    for (const file of ['manifest.json', 'shard-000.bin']) {
      for (let k = 0; k < 20; k++) {
        const m = new Map(files);
        m.set(file, k % 2 ? flipped(files.get(file)!, 1) : files.get(file)!.subarray(0, Math.floor(rand() * files.get(file)!.length)));
        const r = await outcomeOf(m);
        // A flip inside manifest whitespace leaves it valid; anything else must be caught.
        expect([file, k, ['ok', 'typed'].includes(r) ? 'fine' : r]).toEqual([file, k, 'fine']);
        if (file === 'shard-000.bin') expect(r).toBe('typed');
      }
    }
    expect(() => bundleFromZip(randomBytes(300))).toThrow(BundleError);
    expect(() => bundleFromZip(zipSync({ 'a.txt': new Uint8Array(3) }))).toThrow(/holds no manifest\.json/);
  });
});

describe('fast-check mutations of every reader (npm run fuzz runs 10,000 per reader)', async () => {
  const { fuzzReader, readers } = await import('../../test/fuzz/harness');
  const all = await readers();
  it.each(all.map((r) => [r.name, r] as const))(
    '%s: 30 inputs end in a result or a typed error',
    async (_name, r) => {
      const s = await fuzzReader(r, 30, 2024, 10_000);
      expect(s.crashes).toEqual([]);
      expect(s.inputs).toBe(30);
    },
    120_000,
  );
});
