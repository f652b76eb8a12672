// Fuzzing of every reader (issue 11): fast-check draws structured mutations of valid files (bit flips,
// byte sets, truncations, insertions, huge declared sizes, NaN/±Inf written over values, whole random
// files; for gzip'd formats also mutations of the inflated bytes, re-compressed) plus gzip/zip bombs.
// Pass = every input ends in a result (with finite samples of the announced size) or the reader's typed
// error, within the time limit; anything else is counted as a crash. Used by scripts/fuzz.ts
// (npm run fuzz, 10,000 inputs per reader) and, with a few dozen inputs per reader, by src/io/fuzz.test.ts.
import fc from 'fast-check';
import { gzipSync, unzipSync, zipSync } from 'fflate';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBundle } from '../../src/io/bundle/loader';
import { memorySource } from '../../src/io/bundle/sources';
import { writeBundle } from '../../src/io/bundle/writer';
import { BundleError, FmriFormatError } from '../../src/io/errors';
import { CheckpointError } from '../../src/convert/errors';
import { readFmriFile } from '../../src/io/fmriFile';
import { cachedFile } from '../../src/io/randomAccess';
import { gunzipAll } from '../../src/io/gzip';
import { readMask } from '../../src/io/mask';
import { loadAll, memoryAccess, readCheckpoint } from '../../src/convert/torch/index';
import { PUBLISHED_GOD_SBJ3 } from '../../src/model/config';
import { fixtureBytes } from '../fixtures/io/fixtures';

type Op =
  | { k: 'flip'; at: number; bit: number }
  | { k: 'set'; at: number; v: number }
  | { k: 'truncate'; at: number }
  | { k: 'huge'; at: number; v: number }
  | { k: 'nan'; at: number; v: number }
  | { k: 'insert'; at: number; bytes: Uint8Array }
  | { k: 'random'; bytes: Uint8Array }
  | { k: 'bomb' };

export interface Plan {
  seed: number;
  inner: boolean;
  ops: Op[];
}

const pos = fc.oneof(fc.nat(600), fc.nat()); // the header region more often than the rest
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constant('flip' as const), at: pos, bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('set' as const), at: pos, v: fc.integer({ min: 0, max: 255 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('truncate' as const), at: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('huge' as const),
      at: pos,
      v: fc.constantFrom(0xffffffff, 0x7fffffff, 0x80000000, 1_000_000_000, 65535),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ k: fc.constant('nan' as const), at: fc.nat(), v: fc.constantFrom(NaN, Infinity, -Infinity, 3.4e38) }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('insert' as const), at: pos, bytes: fc.uint8Array({ maxLength: 24 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 2048 }) }) },
  { weight: 1, arbitrary: fc.constant({ k: 'bomb' as const }) },
);
const planArb: fc.Arbitrary<Plan> = fc.record({
  seed: fc.nat(),
  inner: fc.boolean(),
  ops: fc.array(opArb, { minLength: 1, maxLength: 4 }),
});

function apply(bytes: Uint8Array, op: Op, bomb: () => Uint8Array): Uint8Array {
  const n = bytes.length;
  switch (op.k) {
    case 'flip': {
      if (!n) return bytes;
      const b = bytes.slice();
      b[op.at % n] ^= 1 << op.bit;
      return b;
    }
    case 'set': {
      if (!n) return bytes;
      const b = bytes.slice();
      b[op.at % n] = op.v;
      return b;
    }
    case 'truncate':
      return bytes.subarray(0, n ? op.at % n : 0);
    case 'huge': {
      if (n < 4) return bytes;
      const b = bytes.slice();
      new DataView(b.buffer).setUint32(op.at % (n - 3), op.v >>> 0, true);
      return b;
    }
    case 'nan': {
      if (n < 4) return bytes;
      const b = bytes.slice();
      new DataView(b.buffer).setFloat32((op.at % (n - 3)) & ~3, op.v, true);
      return b;
    }
    case 'insert': {
      const at = n ? op.at % n : 0;
      const b = new Uint8Array(n + op.bytes.length);
      b.set(bytes.subarray(0, at));
      b.set(op.bytes, at);
      b.set(bytes.subarray(at), at + op.bytes.length);
      return b;
    }
    case 'random':
      return op.bytes;
    case 'bomb':
      return bomb();
  }
}

export type Outcome = 'ok' | string;

export interface Reader {
  name: string;
  /** Valid files to mutate. */
  seeds: Uint8Array[];
  /** The file's container is gzip (mutate the inflated bytes too) or zip (members too). */
  container?: 'gzip' | 'zip';
  /** A decompression bomb of this kind. */
  bomb(): Uint8Array;
  /** Read; resolve with 'ok' or throw. */
  read(bytes: Uint8Array): Promise<void>;
  typed: (e: unknown) => boolean;
}

const here = resolve(fileURLToPath(import.meta.url), '..');
const REAL = resolve(here, '..', '..', '..', 'shared', 'fixtures', 'real-world');
const real = (f: string): Uint8Array[] => {
  try {
    return [new Uint8Array(readFileSync(join(REAL, f)))];
  } catch {
    return [];
  }
};

async function fmri(name: string, bytes: Uint8Array, mask?: Uint8Array, lazy = false): Promise<void> {
  // lazy: read on demand through a mount in h5wasm's file system (as a file given by path or a worker's File).
  const input = lazy
    ? cachedFile(bytes.length, (position, into) => {
        const part = bytes.subarray(position, position + into.length);
        into.set(part);
        return part.length;
      })
    : bytes;
  const f = await readFmriFile(name, input, mask ? { mask } : {});
  for (let i = 0; i < Math.min(f.samples, 64); i++) {
    const s = f.getSample(i);
    if (s.length !== f.voxels) throw new Error(`sample ${i} has ${s.length} values, announced ${f.voxels}`);
    for (const v of s) if (!Number.isFinite(v)) throw new Error(`non-finite value returned in sample ${i}`);
  }
}

let zeros: Uint8Array | undefined;
const bigZeros = () => (zeros ??= new Uint8Array(16 * 2 ** 20));
let gzBomb: Uint8Array | undefined;
let zipBomb: Uint8Array | undefined;
/** 16 MiB of zeros, gzip'd (about 16 KiB: a 1000:1 bomb). */
const gzipBomb = () => (gzBomb ??= gzipSync(bigZeros(), { level: 9 }));
/** An .npz/.pth zip whose member inflates to 16 MiB. */
const zipBombBytes = () => (zipBomb ??= zipSync({ 'arr_0.npy': [bigZeros(), { level: 9 }] }));

const isFmriError = (e: unknown) => e instanceof FmriFormatError;

/** A small valid bundle (manifest + one shard), written by the project's writer. */
async function smallBundle(): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  const t = { w: { shape: [40, 30], data: Float32Array.from({ length: 1200 }, (_, i) => i) } };
  await writeBundle(
    {
      write: async (n, x) => {
        files.set(n, x);
      },
    },
    PUBLISHED_GOD_SBJ3,
    t,
  );
  return files;
}

function bundleReader(name: string, file: string, bundle: Map<string, Uint8Array>): Reader {
  return {
    name,
    seeds: [bundle.get(file)!],
    bomb: () => new Uint8Array(0),
    read: async (b) => {
      await loadBundle(memorySource(new Map(bundle).set(file, b)));
    },
    typed: (e) => e instanceof BundleError,
  };
}

export async function readers(): Promise<Reader[]> {
  const bundle = await smallBundle();
  const f = fixtureBytes;
  const mask = f('mask.nii.gz');
  const fm = (name: string, seeds: Uint8Array[], extra: Partial<Reader> = {}): Reader => ({
    name,
    seeds,
    bomb: zipBombBytes,
    read: (b) => fmri(name.startsWith('.') ? `fuzz${name}` : name, b),
    typed: isFmriError,
    ...extra,
  });
  const checkpoint = (name: string, seeds: Uint8Array[], container?: 'zip'): Reader => ({
    name,
    seeds,
    bomb: zipBombBytes,
    ...(container ? { container } : {}),
    read: async (b) => {
      const ck = readCheckpoint(`fuzz${name}`, memoryAccess(b));
      loadAll(ck.tensors);
    },
    typed: (e) => e instanceof CheckpointError,
  });
  return [
    fm('.npy', [f('dtype_le_f4.npy'), f('dtype_i1.npy'), f('fortran.npy'), ...real('py2_long_shape.npy')]),
    fm('.npz', [f('god.npz'), f('plain.npz'), ...real('god_with_object_member.npz')], { container: 'zip' }),
    fm('.h5', [f('bdata.h5'), f('plain.h5'), ...real('lzf_compressed.h5'), ...real('betas_int16_x300.hdf5')]),
    fm('.mat', [...real('matlab_v73.mat'), f('matlab_v5.mat'), f('matlab_v5_int16.mat')]),
    fm('.h5-lazy', [f('bdata.h5'), f('plain.h5'), ...real('lzf_compressed.h5'), ...real('betas_int16_x300.hdf5')], {
      read: (b) => fmri('fuzz.h5', b, undefined, true),
    }),
    fm('.mat-lazy', [...real('matlab_v73.mat'), f('matlab_v5.mat')], { read: (b) => fmri('fuzz.mat', b, undefined, true) }),
    fm('.nii', [f('vol3d.nii')], { read: (b) => fmri('fuzz.nii', b, mask) }),
    fm('.nii.gz', [f('vol4d.nii.gz'), ...real('multi_member.nii.gz')], { container: 'gzip', bomb: gzipBomb }),
    {
      name: 'mask',
      seeds: [f('mask_v5.mat'), f('mask_v73.mat'), mask],
      bomb: gzipBomb,
      read: async (b) => {
        const m = await readMask('fuzz-mask', b);
        let n = 0;
        for (const v of m.flags) {
          if (v !== 0 && v !== 1) throw new Error(`mask flag ${v}, not 0/1`);
          n += v;
        }
        if (n !== m.count) throw new Error(`mask count ${m.count}, ${n} flags set`);
        if (m.dims && m.dims[0] * m.dims[1] * m.dims[2] !== m.flags.length)
          throw new Error(`mask dims ${m.dims} for ${m.flags.length} flags`);
      },
      typed: isFmriError,
    },
    fm('.csv', [f('table.csv')]),
    fm('.tsv', [f('table.tsv')]),
    bundleReader('bundle manifest', 'manifest.json', bundle),
    bundleReader('bundle shard', 'shard-000.bin', bundle),
    checkpoint('.pth', [f('ckpt.pth'), f('legacy.pth')], 'zip'),
    checkpoint('.safetensors', [f('tensors.safetensors')]),
  ];
}

/** Per reader: inputs, outcome counts (ok / error class), crashes with a sample message, time, memory. */
export interface FuzzStats {
  reader: string;
  inputs: number;
  counts: Record<string, number>;
  crashes: { plan: string; message: string }[];
  slow: number;
  maxMs: number;
}

/** The bytes of one plan: a seed file of the reader, mutated (inside its gzip/zip container for `inner` plans). */
export async function fuzzInput(r: Reader, plan: Plan): Promise<Uint8Array> {
  let base = r.seeds[plan.seed % r.seeds.length];
  let wrap = (b: Uint8Array) => b;
  if (plan.inner && r.container === 'gzip') {
    try {
      base = gunzipAll(base);
      wrap = (b) => gzipSync(b);
    } catch {
      /* seed stays compressed */
    }
  } else if (plan.inner && r.container === 'zip') {
    // Mutate one member and zip again (stored), so the mutation reaches the member's parser.
    try {
      const files = unzipSync(base);
      const names = Object.keys(files);
      const name = names[plan.seed % names.length];
      base = files[name];
      // Stored (level 0): recompressing every member each time would dominate the run.
      const stored = Object.fromEntries(Object.entries(files).map(([k, v]) => [k, [v, { level: 0 }] as [Uint8Array, { level: 0 }]]));
      wrap = (b) => zipSync({ ...stored, [name]: [b, { level: 0 }] });
    } catch {
      /* seed stays zipped */
    }
  }
  let b = base;
  for (const op of plan.ops) b = apply(b, op, r.bomb);
  return wrap(b);
}

/** One input's outcome: 'ok', the typed error's class name, 'CRASH' (untyped error) or 'SLOW' (over `limitMs`). */
export interface InputResult {
  outcome: string;
  ms: number;
  /** The untyped error, for a crash. */
  message?: string;
}

/** The plan as one short line (byte arrays by their length), to reproduce an input. */
export const planText = (plan: Plan): string =>
  JSON.stringify(plan, (_, v) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v)).slice(0, 300);

/** The `n` plans of a run: fast-check's sample for `seed`, the same on every call (a restarted run resumes at an index). */
export const plansFor = (n: number, seed: number): Plan[] => fc.sample(planArb, { numRuns: n, seed });

/** Builds the plan's input and reads it, timing the read only. */
export async function fuzzOne(r: Reader, plan: Plan, limitMs = 2000): Promise<InputResult> {
  const bytes = await fuzzInput(r, plan);
  const t0 = performance.now();
  let outcome: string;
  let message: string | undefined;
  try {
    await r.read(bytes);
    outcome = 'ok';
  } catch (e) {
    outcome = r.typed(e) ? (e as Error).name : 'CRASH';
    if (outcome === 'CRASH') message = `${(e as Error)?.name}: ${String((e as Error)?.message ?? e).slice(0, 300)}`;
  }
  const ms = performance.now() - t0;
  if (ms > limitMs && outcome !== 'CRASH') outcome = 'SLOW';
  return message === undefined ? { outcome, ms } : { outcome, ms, message };
}

/** Reads the first seed once, untimed: loading a reader's code (h5wasm compiles its WebAssembly) is not an input's cost. */
export async function warmUp(r: Reader): Promise<void> {
  await r.read(r.seeds[0]).catch(() => undefined);
}

/** Adds one input's result to the stats. */
export function count(stats: FuzzStats, res: InputResult, plan: Plan): void {
  stats.maxMs = Math.max(stats.maxMs, res.ms);
  if (res.outcome === 'SLOW') stats.slow++;
  if (res.message !== undefined && stats.crashes.length < 5) stats.crashes.push({ plan: planText(plan), message: res.message });
  stats.counts[res.outcome] = (stats.counts[res.outcome] ?? 0) + 1;
  stats.inputs++;
}

/**
 * Every plan in this thread, one after another (src/io/fuzz.test.ts). An input that never returns (a hang in
 * wasm code) blocks it: `npm run fuzz` runs each reader in a child process under a watchdog instead.
 */
export async function fuzzReader(r: Reader, n: number, seed: number, limitMs = 2000): Promise<FuzzStats> {
  const stats: FuzzStats = { reader: r.name, inputs: 0, counts: {}, crashes: [], slow: 0, maxMs: 0 };
  await warmUp(r);
  for (const plan of plansFor(n, seed)) count(stats, await fuzzOne(r, plan, limitMs), plan);
  return stats;
}
