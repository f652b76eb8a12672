// The fMRI-input flags of decode and eval: one file, several files of one subject (BOLD5000's ten per-ROI
// files), or a folder; a mask; a scale or a data-set convention; the concatenation order; a stimulus list.
// Reads with byte progress on stderr (NIfTI streamed volume by volume through the mask, inflated by
// node:zlib), prints what was recognised, and returns what a receipt records (every file, its sha256).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { bold5000Part } from '../io/bold5000';
import type { Convention, FmriFile } from '../io/fmriFile';
import { parseScale } from '../io/scale';
import { openNodeFile } from '../io/nodeFile';
import { readFmriStream } from '../io/stream';
import { isStimulusList } from '../io/names';
import { concatenateParts, readStimulusList } from '../io/subject';
import type { ReceiptInput } from '../engine/receipt';
import { pearson, ssim, toGrey } from '../eval/metrics';
import { encodePng } from '../io/png';
import { readTruthImages, truthFor, type TruthImages } from '../io/truthImages';
import { UsageError, type FlagSpec, type ParsedArgs } from './args';
import { progressLine, type ProgressLine, type ProgressStream } from './progress';

export const FMRI_EXTENSIONS = ['.npy', '.npz', '.h5', '.hdf5', '.mat', '.nii', '.nii.gz', '.csv', '.tsv'];

export const FMRI_INPUT_SPEC: Record<string, FlagSpec> = {
  fmri: {
    type: 'list',
    help:
      'fMRI file (.npy .npz .h5/.hdf5 .mat v7.3 .nii/.nii.gz .csv/.tsv), or a folder; repeat --fmri for several files of one subject ' +
      "(e.g. BOLD5000's ten per-ROI files), concatenated along voxels (see --order)",
  },
  order: {
    type: 'string',
    help: "concatenation order of several --fmri files: comma-separated file names or BOLD5000 labels (LHEarlyVis,…); default the authors' BOLD5000 order when the names follow it, else the order given",
  },
  stimuli: {
    type: 'string',
    help: 'stimulus list, one image name per trial (BOLD5000 CSI1_stim_lists.txt; found in a --fmri folder): builds train / test-single / test-avg (repeated images averaged)',
  },
  mask: {
    type: 'string',
    help:
      'mask volume for NIfTI/HDF5 4-D data (NSD nsdgeneral.nii.gz: values > 0 inside when the mask has negative values; a MATLAB .mat logical X×Y×Z), ' +
      'or a column mask (0/1 .npy, a MATLAB logical vector)',
  },
  scale: {
    type: 'string',
    help: 'multiply the fMRI values by this (any format), e.g. 1/300 for NSD int16 betas (percent signal change × 300); overrides a recognised convention',
  },
  convention: {
    type: 'string',
    choices: ['auto', 'nsd', 'none'],
    default: 'auto',
    help: "data-set convention: auto recognises NSD's betas_session* files (int16 × 1/300); nsd applies it to any file; none recognises nothing",
  },
  dataset: { type: 'string', help: 'HDF5/MATLAB: path of the dataset to read (e.g. /betas) instead of the automatic choice' },
  split: {
    type: 'string',
    help: 'split: GOD .npz train | test-avg | test-single; BData train | test | test-avg; with --stimuli train | test-single | test-avg (default: the averaged test split when there is one)',
  },
  roi: { type: 'string', help: "ROI mask to apply for files that carry masks (default: the model's ROI)" },
};

/** Refuses arguments that are no flag's value: a shell glob after --fmri gives several, which used to be dropped. */
export function refuseExtraArguments(args: ParsedArgs): void {
  if (args._.length === 0) return;
  const shown = args._.slice(0, 3)
    .map((a) => `'${a}'`)
    .join(', ');
  const extra = args._.length > 3 ? `${shown} and ${args._.length - 3} more` : shown;
  throw new UsageError(
    `unexpected argument${args._.length > 1 ? 's' : ''} ${extra}: every value needs its flag. For several files of one subject ` +
      'repeat --fmri (--fmri a.npy --fmri b.npy) or give their folder (--fmri CSI1/); a shell glob after one --fmri expands to bare file names',
  );
}

export interface FmriInputs {
  file: FmriFile;
  /** Name shown and recorded (the file, or the folder / first file of a multi-file subject). */
  name: string;
  /** Every file read, data parts in concatenation order, then mask and stimulus list. */
  inputs: ReceiptInput[];
  /** sha256 identifying the input as a whole (one file: its own; several: of the parts' digests in order). */
  sha256: string;
}

const sha256hex = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');
const isFmri = (n: string) => FMRI_EXTENSIONS.some((e) => n.toLowerCase().endsWith(e));

/** The paths behind the --fmri values: folders expanded (BOLD5000 part files only when it has them). */
async function expand(values: string[], log: (s: string) => void): Promise<{ data: string[]; stimuli?: string; folder?: string }> {
  const data: string[] = [];
  let stimuli: string | undefined, folder: string | undefined;
  for (const v of values) {
    let st;
    try {
      st = await stat(v);
    } catch {
      throw new UsageError(`--fmri ${v}: no such file or folder`);
    }
    if (!st.isDirectory()) {
      data.push(v);
      continue;
    }
    folder ??= v;
    const names = (await readdir(v)).sort();
    const parts = names.filter((n) => bold5000Part(n) && n.endsWith('.npy'));
    const chosen = parts.length ? parts : names.filter((n) => isFmri(n) && !/mask|nsdgeneral/i.test(n));
    const ignored = names.filter((n) => !chosen.includes(n) && !isStimulusList(n));
    if (chosen.length === 0) throw new UsageError(`--fmri ${v}: the folder holds no fMRI file (${FMRI_EXTENSIONS.join(' ')})`);
    const list = names.find(isStimulusList);
    if (list) stimuli ??= join(v, list);
    if (ignored.length)
      log(
        `${v}: ${chosen.length} fMRI file${chosen.length > 1 ? 's' : ''} taken${parts.length ? ' (BOLD5000 per-ROI files)' : ''}; ignored: ${ignored.join(', ')}`,
      );
    data.push(...chosen.map((n) => join(v, n)));
  }
  return { data, ...(stimuli ? { stimuli } : {}), ...(folder ? { folder } : {}) };
}

async function bytesOf(flag: string, path: string): Promise<Uint8Array> {
  try {
    const st = await stat(path);
    if (st.isDirectory()) throw new UsageError(`--${flag} ${path}: a folder, expected a file`);
    return new Uint8Array(await readFile(path));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`--${flag} ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
}

/** node:zlib's gunzip (native, every member, CRC-checked) as an async iterable. */
function nodeInflate(raw: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  const gunzip = createGunzip({ chunkSize: 1 << 20 });
  void (async () => {
    try {
      for await (const c of raw) if (!gunzip.write(c)) await new Promise((r) => gunzip.once('drain', r));
      gunzip.end();
    } catch (e) {
      gunzip.destroy(e as Error);
    }
  })();
  return gunzip as AsyncIterable<Uint8Array>;
}

/**
 * Reads the fMRI input the flags describe, printing progress and what was recognised to `log`.
 * @throws UsageError for missing files, bad flags or an order that does not list every file;
 *   FmriFormatError for unreadable data
 */
export async function readFmriInputs(
  args: ParsedArgs,
  log: (line: string) => void,
  progress: ProgressStream = process.stderr,
): Promise<FmriInputs> {
  const values = (args.fmri as string[] | undefined) ?? [];
  if (values.length === 0) throw new UsageError('--fmri <file or folder> is required');
  const { data, stimuli: found, folder } = await expand(values, log);
  const scale = args.scale === undefined ? undefined : parseScale(String(args.scale));
  if (scale !== undefined && Number.isNaN(scale))
    throw new UsageError(`--scale ${String(args.scale)}: expected a non-zero number or fraction such as 1/300`);
  const maskPath = args.mask as string | undefined;
  const maskBytes = maskPath ? await bytesOf('mask', maskPath) : undefined;
  const stimPath = (args.stimuli as string | undefined) ?? found;
  if (args.order !== undefined && data.length < 2) throw new UsageError('--order needs several --fmri files (or a folder of them)');
  const common = {
    ...(maskBytes ? { mask: maskBytes, maskName: basename(maskPath!) } : {}),
    ...(scale !== undefined ? { scale } : {}),
    convention: String(args.convention ?? 'auto') as Convention,
    ...(args.dataset ? { dataset: String(args.dataset) } : {}),
  };
  const inputs: ReceiptInput[] = [];
  const files: FmriFile[] = [];
  for (const path of data) {
    const name = basename(path);
    const st = await stat(path);
    const hash = createHash('sha256');
    // Big files only: one progress line per phase (bytes read, then for a masked 4-D HDF5 series the volumes HDF5
    // reads through the mask), every 1 % on a terminal, every 10 % in a log.
    let line: ProgressLine | undefined;
    let linePhase: string | undefined;
    // HDF5 / MATLAB v7.3 files are read by HDF5 from the file itself, only what it needs (the stream is digested).
    const onDisk = st.isFile() ? openNodeFile(path) : undefined;
    const file = await readFmriStream(name, st.size, () => hashed(createReadStream(path, { highWaterMark: 1 << 20 }), hash), {
      ...common,
      ...(onDisk ? { file: onDisk } : {}),
      // Several files are concatenated first: split and ROI apply to the subject, not to each part.
      ...(data.length === 1
        ? { ...(args.split ? { split: String(args.split) } : {}), ...(args.roi ? { roi: String(args.roi) } : {}) }
        : {}),
      inflate: nodeInflate,
      onProgress: ({ phase, done, total }) => {
        if (st.size < 64e6) return;
        if (phase !== linePhase) {
          line?.end();
          linePhase = phase;
          line = progressLine(
            (d, t) => {
              const pct = Math.floor((100 * d) / Math.max(1, t));
              return phase === 'volumes'
                ? `reading ${name} volumes through the mask ${pct}% (${d}/${t} values)`
                : `reading ${name} ${pct}% (${(d / 1e6).toFixed(0)}/${(t / 1e6).toFixed(0)} MB)`;
            },
            { stream: progress, ttyPercent: 1 },
          );
        }
        line?.update(done, total);
      },
    }).finally(() => {
      line?.end();
      onDisk?.close();
    });
    inputs.push({ role: 'data', fileName: name, sha256: hash.digest('hex') });
    files.push(file);
  }
  let file: FmriFile;
  let name: string;
  if (files.length === 1 && !stimPath) {
    file = files[0];
    name = file.name;
  } else {
    name = folder ? basename(folder.replace(/\/+$/, '')) : files[0].name;
    const stimBytes = stimPath ? await bytesOf('stimuli', stimPath) : undefined;
    const order =
      args.order !== undefined
        ? String(args.order)
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : undefined;
    try {
      file = concatenateParts(name, files, {
        ...(order ? { order } : {}),
        ...(stimBytes ? { stimuli: { name: basename(stimPath!), labels: readStimulusList(basename(stimPath!), stimBytes) } } : {}),
      });
    } catch (e) {
      if ((e as { file?: string }).file === 'order') throw new UsageError(`--order: ${(e as Error).message.replace(/^order: /, '')}`);
      throw e;
    }
    if (files.length > 1 || args.split || args.roi)
      file = file.select({ ...(args.split ? { split: String(args.split) } : {}), ...(args.roi ? { roi: String(args.roi) } : {}) });
    // Data parts in concatenation order.
    const byName = new Map(inputs.map((x) => [x.fileName, x]));
    inputs.splice(0, inputs.length, ...(file.parts ?? files.map((f) => f.name)).map((n) => byName.get(n)!));
    if (stimBytes) inputs.push({ role: 'stimuli', fileName: basename(stimPath!), sha256: sha256hex(stimBytes) });
  }
  if (maskBytes) inputs.push({ role: 'mask', fileName: basename(maskPath!), sha256: sha256hex(maskBytes) });
  const dataParts = inputs.filter((x) => x.role === 'data');
  const sha256 = dataParts.length === 1 ? dataParts[0].sha256 : sha256hex(dataParts.map((x) => x.sha256).join('\n'));
  log(`${name}: ${describeFile(file)}`);
  return { file, name, inputs, sha256 };
}

async function* hashed(stream: AsyncIterable<Buffer>, hash: ReturnType<typeof createHash>): AsyncGenerator<Uint8Array> {
  for await (const c of stream) {
    hash.update(c);
    yield new Uint8Array(c.buffer, c.byteOffset, c.byteLength);
  }
}

/** What the reader used and recognised: split (single or averaged), ROI, voxels, notes. */
export function describeFile(f: FmriFile): string {
  const kind = f.splitKinds?.[f.split];
  return (
    `split '${f.split}'${kind ? ` (${kind === 'averaged' ? 'averaged over repetitions' : 'single trials'})` : ''}, ${f.samples} sample${f.samples === 1 ? '' : 's'} × ${f.voxels} voxels` +
    `${f.roi ? `, ROI ${f.roi}` : ', all voxels (no ROI)'}${f.note ? `; ${f.note}` : ''}`
  );
}

/** --truth: a ground-truth images file (see io/truthImages.ts). */
export async function readTruthFile(path: string): Promise<TruthImages> {
  return readTruthImages(basename(path), await bytesOf('truth', path));
}

/**
 * The ground truth of sample `index` and how each decoded image compares with it (pixel correlation and SSIM
 * on grey images at the decoded resolution, as `npm run eval` scores); undefined when nothing says which
 * image the sample shows.
 */
export function compareWithTruth(
  t: TruthImages,
  file: FmriFile,
  index: number,
  images: { data: Float32Array; height: number; width: number },
  n: number,
): { png: Uint8Array; how: string; pearson: number[]; ssim: number[] } | undefined {
  const gt = truthFor(t, file, index);
  if (!gt) return undefined;
  const { height: h, width: w, channels: c, data } = gt.image;
  const rgb = c === 3 ? data : Uint8Array.from({ length: h * w * 3 }, (_, k) => data[Math.floor(k / 3) * c]);
  const ref = toGrey(
    Array.from(data, (v) => v / 255),
    h,
    w,
    c,
    images.height,
    images.width,
  );
  const per = images.height * images.width * 3;
  const scores = Array.from({ length: n }, (_, i) => {
    const g = toGrey(images.data.subarray(i * per, (i + 1) * per), images.height, images.width, 3, images.height, images.width);
    return [pearson(g.data, ref.data), ssim(g, ref)];
  });
  return { png: encodePng(rgb, w, h), how: gt.how, pearson: scores.map((s) => s[0]), ssim: scores.map((s) => s[1]) };
}
