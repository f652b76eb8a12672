// Bundle loader: reads manifest.json and every shard from a BundleSource, checks byte counts and
// sha256, and returns float32 tensors. Progress counts shard bytes; an AbortSignal cancels it.
import { BundleError } from '../errors';
import { unpackFloat16 } from '../fp16';
import { MANIFEST_FILE, parseManifest, type BundleManifest } from './manifest';
import { sha256Hex } from './sha256';

export interface ReadOptions {
  signal?: AbortSignal;
  /** Called with the byte count of each chunk as it arrives. */
  onBytes?(n: number): void;
}

export interface BundleSource {
  /** For messages ("https://…/models/x", "folder bundle"). */
  readonly label: string;
  /** The whole file. Throws BundleError naming the file when it does not exist. */
  read(file: string, opts?: ReadOptions): Promise<Uint8Array>;
}

export interface LoadedTensors {
  manifest: BundleManifest;
  /** The bytes of manifest.json (their sha256 identifies the bundle). */
  manifestBytes: Uint8Array;
  tensors: Record<string, { shape: number[]; data: Float32Array }>;
}

export interface LoadOptions {
  onProgress?(bytesDone: number, bytesTotal: number): void;
  signal?: AbortSignal;
  /** Only the tensors whose name passes: shards holding none of them are not read. Default: every tensor. */
  only?(name: string): boolean;
}

function abortError(): DOMException {
  return new DOMException('bundle loading was cancelled', 'AbortError');
}

/**
 * `nbytes` bytes at `offset` as a typed array: a view on the shard when aligned (no second copy of the
 * weights in memory), else a copy, as typed arrays cannot start at an unaligned byte offset.
 */
function typedView<T extends Float32Array | Uint16Array>(
  bytes: Uint8Array,
  offset: number,
  nbytes: number,
  Kind: { new (b: ArrayBuffer, offset: number, length: number): T; BYTES_PER_ELEMENT: number },
): T {
  const start = bytes.byteOffset + offset;
  if (start % Kind.BYTES_PER_ELEMENT === 0) return new Kind(bytes.buffer as ArrayBuffer, start, nbytes / Kind.BYTES_PER_ELEMENT);
  return new Kind(bytes.slice(offset, offset + nbytes).buffer, 0, nbytes / Kind.BYTES_PER_ELEMENT);
}

/**
 * Reads a converted weight bundle: manifest.json (parsed and checked by parseManifest), then every shard in
 * order, each checked against the manifest's byte count and sha256 before its tensors are cut out.
 * @returns the manifest's config and card, and every tensor by its phase-3 name as a typed array (float32, or
 *   float16 widened to float32 per the manifest's dtype) with its PyTorch shape, row-major
 * @param opts.onProgress bytes read so far and in all (shards only), at most once per chunk the source reports
 * @param opts.signal aborts between and inside shard reads (DOMException 'AbortError')
 * @param opts.only returns only the tensors it passes, and reads only the shards that hold them
 * @throws BundleError a missing file, a manifest that is not this app's format or version, a truncated or
 *   corrupt shard (both sizes, or both digests, and the source named), a tensor entry outside its shard
 * Format: src/io/bundle/manifest.ts (written by src/io/bundle/writer.ts, i.e. npm run convert).
 */
export async function loadBundle(source: BundleSource, opts: LoadOptions = {}): Promise<LoadedTensors> {
  const { signal } = opts;
  if (signal?.aborted) throw abortError();
  const manifestBytes = await source.read(MANIFEST_FILE, { signal });
  const manifest = parseManifest(new TextDecoder().decode(manifestBytes));
  const wanted = opts.only ? manifest.tensors.filter((t) => opts.only!(t.name)) : manifest.tensors;
  const read = new Set(opts.only ? wanted.map((t) => t.shard) : manifest.shards.keys());
  const total = manifest.shards.reduce((a, s, i) => a + (read.has(i) ? s.nbytes : 0), 0);
  let done = 0;
  opts.onProgress?.(0, total);
  const tensors: LoadedTensors['tensors'] = {};
  for (const [index, shard] of manifest.shards.entries()) {
    if (!read.has(index)) continue;
    if (signal?.aborted) throw abortError();
    const start = done;
    const bytes = await source.read(shard.file, {
      signal,
      onBytes: (n) => {
        // A source reporting more than the manifest says must not push progress past the total.
        done = Math.min(done + n, start + shard.nbytes);
        opts.onProgress?.(done, total);
      },
    });
    if (signal?.aborted) throw abortError();
    if (bytes.length !== shard.nbytes) {
      throw new BundleError(
        `${shard.file} has ${bytes.length} bytes, the manifest says ${shard.nbytes} (truncated or wrong file) in ${source.label}`,
      );
    }
    const sha = await sha256Hex(bytes);
    if (sha !== shard.sha256) throw new BundleError(`${shard.file} is corrupt: sha256 ${sha} expected ${shard.sha256} (${source.label})`);
    if (done !== start + shard.nbytes) {
      done = start + shard.nbytes;
      opts.onProgress?.(done, total);
    }
    for (const t of wanted) {
      if (t.shard !== index) continue;
      tensors[t.name] = {
        shape: t.shape,
        data:
          t.dtype === 'float16'
            ? unpackFloat16(typedView(bytes, t.offset, t.nbytes, Uint16Array))
            : typedView(bytes, t.offset, t.nbytes, Float32Array),
      };
    }
  }
  return { manifest, manifestBytes, tensors };
}
