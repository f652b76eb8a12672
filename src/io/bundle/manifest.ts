// The web weight bundle: manifest.json + shard-000.bin, shard-001.bin, … (raw little-endian tensors).
//
// Precision: with dtype 'float16' every tensor of rank >= 2 is stored as IEEE half (round to nearest
// even), except the VQ codebook and the voxel positions; vectors (biases, norm scales), the codebook and the
// positions stay float32. They are < 1 % of the bytes; an fp32 codebook keeps nearest-row quantisation identical
// to PyTorch's, and fp32 positions are the training data's millimetres exactly (half would round 1.8 mm steps).
// Loaded values are float32 either way; fp16 values are within 2^-11 relative of the originals
// (normal range; |x| < 2^-14 are subnormal, absolute error <= 2^-25).
import type { ModelConfig } from '../../model/config';
import { BundleError } from '../errors';

export const BUNDLE_FORMAT = 'decoding-studio-bundle';

/**
 * Optional [rawVoxels, 3]: the millimetre position (x, y, z; the training data's space, e.g. MNI for GOD's
 * voxel_xyz) of each input voxel of the model, in input order, before wrap padding. With it a file whose voxels
 * have positions (a NIfTI grid through its affine, a GOD .npz's voxel_xyz) is put into the model's order
 * (src/io/voxelOrder.ts); without it (the authors' checkpoints) that order cannot be checked. Stored float32 in
 * every bundle (storesAsFloat16 below), so the positions round-trip exactly.
 */
export const VOXEL_XYZ_MM = 'decoding_studio.voxels.xyz_mm';

export const BUNDLE_VERSION = 1;
export const MANIFEST_FILE = 'manifest.json';
export const DEFAULT_SHARD_BYTES = 128 * 2 ** 20;

export type StorageDtype = 'float32' | 'float16';

export interface TensorEntry {
  name: string;
  shape: number[];
  dtype: StorageDtype;
  /** Index into `shards`. */
  shard: number;
  /** Byte offset inside the shard (16-byte aligned). */
  offset: number;
  nbytes: number;
}

export interface ShardEntry {
  file: string;
  nbytes: number;
  sha256: string;
}

/** A checkpoint the bundle was converted from. */
export interface SourceEntry {
  file: string;
  sha256: string;
  /** e.g. 'phase3', 'phase1', 'ldm', 'safetensors'. */
  kind: string;
}

export interface BundleManifest {
  format: typeof BUNDLE_FORMAT;
  version: typeof BUNDLE_VERSION;
  config: ModelConfig;
  dtype: StorageDtype;
  tensors: TensorEntry[];
  shards: ShardEntry[];
  sources: SourceEntry[];
  /** Free-form model card (params per network, conversion report, licence, …). */
  card?: Record<string, unknown>;
}

/** Whether a tensor is stored in float16 in a bundle of the given dtype (see the header). */
export function storesAsFloat16(bundleDtype: StorageDtype, name: string, shape: readonly number[]): boolean {
  return bundleDtype === 'float16' && shape.length >= 2 && !name.endsWith('quantize.embedding.weight') && name !== VOXEL_XYZ_MM;
}

const isObj = (x: unknown): x is Record<string, unknown> => !!x && typeof x === 'object' && !Array.isArray(x);
const isNat = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;

/** Parse and check manifest.json: structure, version, and that every tensor lies inside its shard. */
export function parseManifest(text: string): BundleManifest {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (e) {
    throw new BundleError(`manifest.json is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObj(m) || m.format !== BUNDLE_FORMAT) {
    throw new BundleError(`manifest.json is not a ${BUNDLE_FORMAT} manifest (format: ${isObj(m) ? JSON.stringify(m.format) : typeof m})`);
  }
  if (m.version !== BUNDLE_VERSION) {
    throw new BundleError(
      `manifest.json has version ${JSON.stringify(m.version)}; this app reads version ${BUNDLE_VERSION} — re-convert the checkpoint with this version's npm run convert`,
    );
  }
  if (m.dtype !== 'float32' && m.dtype !== 'float16')
    throw new BundleError(`manifest.json dtype ${JSON.stringify(m.dtype)}, expected float32 or float16`);
  if (!isObj(m.config)) throw new BundleError('manifest.json has no config object');
  if (!Array.isArray(m.shards) || !Array.isArray(m.tensors)) throw new BundleError('manifest.json lacks the shards/tensors lists');
  for (const [i, s] of (m.shards as unknown[]).entries()) {
    if (!isObj(s) || typeof s.file !== 'string' || !isNat(s.nbytes) || typeof s.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(s.sha256)) {
      throw new BundleError(`manifest.json shard entry ${i} is malformed (needs file, nbytes, 64-hex sha256)`);
    }
    if (s.file.includes('/') || s.file.includes('\\') || s.file.startsWith('.'))
      throw new BundleError(`manifest.json shard file name ${JSON.stringify(s.file)} is not a plain file name`);
  }
  const shards = m.shards as ShardEntry[];
  const names = new Set<string>();
  for (const [i, t] of (m.tensors as unknown[]).entries()) {
    if (
      !isObj(t) ||
      typeof t.name !== 'string' ||
      !Array.isArray(t.shape) ||
      !t.shape.every(isNat) ||
      (t.dtype !== 'float32' && t.dtype !== 'float16') ||
      !isNat(t.shard) ||
      !isNat(t.offset) ||
      !isNat(t.nbytes)
    ) {
      throw new BundleError(`manifest.json tensor entry ${i} is malformed`);
    }
    if (names.has(t.name)) throw new BundleError(`manifest.json lists tensor ${t.name} twice`);
    names.add(t.name);
    const numel = (t.shape as number[]).reduce((a, b) => a * b, 1);
    const item = t.dtype === 'float16' ? 2 : 4;
    if (t.nbytes !== numel * item)
      throw new BundleError(`tensor ${t.name}: nbytes ${t.nbytes}, but ${t.shape.join('×')} ${t.dtype} needs ${numel * item}`);
    const shard = shards[t.shard];
    if (!shard) throw new BundleError(`tensor ${t.name} refers to shard ${t.shard}, but the manifest lists ${shards.length}`);
    if (t.offset + t.nbytes > shard.nbytes) {
      throw new BundleError(
        `tensor ${t.name} lies outside its shard: bytes ${t.offset}..${t.offset + t.nbytes} of ${shard.file} (${shard.nbytes} bytes)`,
      );
    }
  }
  if (!Array.isArray(m.sources)) throw new BundleError('manifest.json lacks the sources list');
  return m as unknown as BundleManifest;
}
