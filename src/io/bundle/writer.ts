// Bundle writer: packs tensors into shards of at most `shardBytes` (a single larger tensor gets a shard
// of its own), records sha256 and byte counts in manifest.json.
import type { ModelConfig } from '../../model/config';
import { BundleError } from '../errors';
import { packFloat16 } from '../fp16';
import {
  BUNDLE_FORMAT,
  BUNDLE_VERSION,
  DEFAULT_SHARD_BYTES,
  MANIFEST_FILE,
  storesAsFloat16,
  type BundleManifest,
  type ShardEntry,
  type SourceEntry,
  type StorageDtype,
  type TensorEntry,
} from './manifest';
import { sha256Hex } from './sha256';

export interface BundleSink {
  write(file: string, bytes: Uint8Array): Promise<void>;
}

/** Values given directly, or read on demand (checkpoint tensors: one shard's worth in memory at a time). */
export type BundleTensor = { shape: number[]; data: Float32Array } | { shape: number[]; read(): Float32Array };

const valuesOf = (t: BundleTensor) => ('data' in t ? t.data : t.read());

export interface WriteBundleOptions {
  dtype?: StorageDtype;
  shardBytes?: number;
  sources?: SourceEntry[];
  card?: Record<string, unknown>;
  /** Bytes of shards written so far, of the total. */
  onProgress?(bytesDone: number, bytesTotal: number): void;
}

const ALIGN = 16;
const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

export const shardName = (i: number) => `shard-${String(i).padStart(3, '0')}.bin`;

export async function writeBundle(
  sink: BundleSink,
  config: ModelConfig,
  tensors: Record<string, BundleTensor>,
  opts: WriteBundleOptions = {},
): Promise<BundleManifest> {
  const dtype = opts.dtype ?? 'float32';
  const limit = opts.shardBytes ?? DEFAULT_SHARD_BYTES;
  if (!(limit > 0)) throw new BundleError(`shard size must be positive, got ${limit}`);
  // Plan the layout first so progress knows the total.
  const entries: TensorEntry[] = [];
  const shardSizes: number[] = [];
  let shard = 0;
  let used = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if ('data' in t && numel !== t.data.length)
      throw new BundleError(`tensor ${name}: shape ${t.shape.join('×')} does not match its ${t.data.length} values`);
    const half = storesAsFloat16(dtype, name, t.shape);
    const nbytes = numel * (half ? 2 : 4);
    if (used > 0 && align(used) + nbytes > limit) {
      shardSizes[shard] = used;
      shard++;
      used = 0;
    }
    const offset = align(used);
    entries.push({ name, shape: [...t.shape], dtype: half ? 'float16' : 'float32', shard, offset, nbytes });
    used = offset + nbytes;
  }
  if (entries.length) shardSizes[shard] = used;
  const total = shardSizes.reduce((a, b) => a + b, 0);
  const shards: ShardEntry[] = [];
  let done = 0;
  for (let s = 0; s < shardSizes.length; s++) {
    const bytes = new Uint8Array(shardSizes[s]);
    for (const e of entries) {
      if (e.shard !== s) continue;
      const data = valuesOf(tensors[e.name]);
      const numel = e.shape.reduce((a, b) => a * b, 1);
      if (data.length !== numel)
        throw new BundleError(`tensor ${e.name}: shape ${e.shape.join('×')} does not match its ${data.length} values`);
      const packed = e.dtype === 'float16' ? packFloat16(data) : data;
      bytes.set(new Uint8Array(packed.buffer, packed.byteOffset, e.nbytes), e.offset);
    }
    const file = shardName(s);
    await sink.write(file, bytes);
    shards.push({ file, nbytes: bytes.length, sha256: await sha256Hex(bytes) });
    done += bytes.length;
    opts.onProgress?.(done, total);
  }
  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    version: BUNDLE_VERSION,
    config,
    dtype,
    tensors: entries,
    shards,
    sources: opts.sources ?? [],
    ...(opts.card ? { card: opts.card } : {}),
  };
  await sink.write(MANIFEST_FILE, new TextEncoder().encode(`${JSON.stringify(manifest, null, 1)}\n`));
  return manifest;
}
