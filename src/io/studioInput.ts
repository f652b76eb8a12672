// What the studio's worker reads when the user opens data: one file or several files of a subject (+ a
// stimulus list) and an optional mask, streamed from their Blobs with
// byte progress and cancel; sha256 digested on the way (io/sha256.ts) so no file is held whole for it.
// NIfTI is read volume by volume through the mask (io/stream.ts), keeping only the masked voxels; a masked 4-D
// HDF5 series slab by slab after that, with progress (phase 'volumes') and cancel too.
import type { ReceiptInput } from '../engine/receipt';
import type { Convention, FmriFile, PhaseProgress } from './fmriFile';
import { blobFile } from './randomAccess';
import { Sha256 } from './sha256';
import { readFmriStream } from './stream';
import { concatenateParts, readStimulusList } from './subject';

export interface BlobInput {
  name: string;
  file: Blob;
}

export interface StudioReadArgs {
  /** The data file (with `parts`, the subject's name). */
  name: string;
  file: Blob;
  mask?: BlobInput;
  scale?: number;
  /** Several files of one subject, concatenated along voxels (BOLD5000 per-ROI files). */
  parts?: BlobInput[];
  /** Concatenation order (file names or BOLD5000 labels); default the authors' order when the names follow it. */
  order?: string[];
  /** Stimulus name per trial (BOLD5000 CSI1_stim_lists.txt). */
  stimuli?: BlobInput;
  convention?: Convention;
}

export interface StudioInput {
  file: FmriFile;
  /** sha256 of the one data file, or of the parts' digests joined by newlines, in order (as the CLI). */
  sha256: string;
  /** Bytes of the data files. */
  bytes: number;
  inputs: ReceiptInput[];
}

/**
 * The studio's read progress: phase 'bytes' counts the bytes of all the data files together (`done`/`total`
 * over the parts); phase 'volumes' the masked values of the 4-D HDF5 series `name` alone (PhaseProgress).
 */
export interface ReadProgress extends PhaseProgress {
  /** The data file being read. */
  name: string;
}

async function* chunks(blob: Blob, hash: Sha256, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  const reader = blob.stream().getReader();
  try {
    for (;;) {
      if (signal?.aborted) throw new DOMException('reading was cancelled', 'AbortError');
      const { done, value } = await reader.read();
      if (done) return;
      hash.update(value);
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

/** gzip → inflated chunks with the platform's DecompressionStream (native zlib), with backpressure. */
export async function* nativeInflate(raw: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const ds = new DecompressionStream('gzip');
  const writer = ds.writable.getWriter();
  const pump = (async () => {
    try {
      for await (const c of raw) {
        await writer.ready;
        await writer.write(c as Uint8Array<ArrayBuffer>);
      }
      await writer.close();
    } catch (e) {
      await writer.abort(e).catch(() => undefined);
      throw e;
    }
  })();
  pump.catch(() => undefined);
  const reader = ds.readable.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      yield value;
    }
    await pump;
  } finally {
    reader.releaseLock();
  }
}

async function whole(b: BlobInput, hash?: Sha256): Promise<Uint8Array> {
  const bytes = new Uint8Array(await b.file.arrayBuffer());
  hash?.update(bytes);
  return bytes;
}

/**
 * Reads the studio's input.
 * @throws FmriFormatError for unreadable data; DOMException 'AbortError' when `signal` aborts
 */
export async function readStudioInput(
  args: StudioReadArgs,
  opts: { signal?: AbortSignal; onProgress?: (p: ReadProgress) => void } = {},
): Promise<StudioInput> {
  const data = args.parts?.length ? args.parts : [{ name: args.name, file: args.file }];
  const total = data.reduce((a, d) => a + d.file.size, 0);
  let before = 0;
  const maskBytes = args.mask ? await whole(args.mask) : undefined;
  const inputs: ReceiptInput[] = [];
  const files: FmriFile[] = [];
  for (const d of data) {
    const offset = before;
    const lazy = blobFile(d.file);
    const read = async (inflate: ((raw: AsyncIterable<Uint8Array>) => AsyncIterable<Uint8Array>) | undefined) => {
      const hash = new Sha256();
      const f = await readFmriStream(d.name, d.file.size, () => chunks(d.file, hash, opts.signal), {
        ...(maskBytes ? { mask: maskBytes, maskName: args.mask!.name } : {}),
        ...(args.scale !== undefined ? { scale: args.scale } : {}),
        ...(args.convention ? { convention: args.convention } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(inflate ? { inflate } : {}),
        // HDF5 / MATLAB v7.3: read by HDF5 from the File on demand (a worker has FileReaderSync), not copied whole.
        ...(lazy ? { file: lazy } : {}),
        onProgress: (p) =>
          opts.onProgress?.(p.phase === 'bytes' ? { name: d.name, phase: 'bytes', done: offset + p.done, total } : { name: d.name, ...p }),
      });
      return { f, sha256: hash.hex() };
    };
    let r: { f: FmriFile; sha256: string };
    try {
      // The browser's own gzip (native, CRC-checked) when it has one; fflate (every member) otherwise, or when
      // the native stream stops after the first member of a multi-member file (the data then ends early).
      r = await read(typeof DecompressionStream === 'function' ? nativeInflate : undefined);
    } catch (e) {
      if (typeof DecompressionStream !== 'function' || (e as Error).name === 'AbortError' || !/\.gz$/i.test(d.name)) throw e;
      r = await read(undefined);
    }
    before += d.file.size;
    files.push(r.f);
    inputs.push({ role: 'data', fileName: d.name, sha256: r.sha256 });
  }
  let file: FmriFile;
  if (files.length === 1 && !args.stimuli) file = files[0];
  else {
    const stimBytes = args.stimuli ? await whole(args.stimuli) : undefined;
    file = concatenateParts(args.name, files, {
      ...(args.order ? { order: args.order } : {}),
      ...(stimBytes ? { stimuli: { name: args.stimuli!.name, labels: readStimulusList(args.stimuli!.name, stimBytes) } } : {}),
    });
    const byName = new Map(inputs.map((x) => [x.fileName, x]));
    inputs.splice(0, inputs.length, ...(file.parts ?? files.map((f) => f.name)).map((n) => byName.get(n)!));
    if (stimBytes) inputs.push({ role: 'stimuli', fileName: args.stimuli!.name, sha256: new Sha256().update(stimBytes).hex() });
  }
  if (maskBytes) inputs.push({ role: 'mask', fileName: args.mask!.name, sha256: new Sha256().update(maskBytes).hex() });
  const parts = inputs.filter((x) => x.role === 'data');
  const sha256 =
    parts.length === 1 ? parts[0].sha256 : new Sha256().update(new TextEncoder().encode(parts.map((x) => x.sha256).join('\n'))).hex();
  return { file, sha256, bytes: total, inputs };
}
