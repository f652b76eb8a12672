// npm run bench:peers: our engine against the runtimes a user would pick instead, on the same weights.
// A benchmark, not a test: it prints a table and judges nothing.
//
// Runtimes (one child process each, so thread settings and memory stay apart; the driver runs one call
// at a time, interleaved: every measurement's repetitions go round the runtimes in turn, in a rotating
// order, so a change in machine load hits every column alike):
//   ours      tfjs-wasm (1 thread; all threads where tfjs can run its threaded build), tfjs-cpu
//   PyTorch   CPU eager on the reference networks (python/cad_ref), 1 thread and all threads
//   ONNX RT   the same networks exported with torch.onnx: onnxruntime-node CPU and onnxruntime-web's
//             wasm backend in Node, 1 thread and all threads
// Weights: scripts/bench_peers.py builds the phase-3 FmriLDM with golden.py's seeded random weights and
// writes them in the golden-vector format (tensors/<name>.npy) that the TS engine loads here, and the
// ONNX files exported from those same modules; PyTorch loads the .npy files back. Before timing, every
// runtime's outputs on shared deterministic inputs are compared with PyTorch's (the "agreement" lines).
//
// Measurements, batch 1: UNet step (t = 500), fMRI encoder + channel/dim mappers (preprocessed input),
// VQ decode (quantise + decoder), full decode (encoder, PLMS S steps = S + 1 UNet calls, VQ decode).
// Configs: 'default' (public/models/default/manifest.json) and 'mid' (MID_CONFIG, src/cli/benchConfigs.ts).
import * as tf from '@tensorflow/tfjs-core';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs, usage, type FlagSpec } from './args';
import { initNodeBackend } from './nodeBackend';
import { latentShape, type ModelConfig } from '../model/config';
import { fmriEncoder } from '../model/fmriEncoder';
import { condStage } from '../model/condStage';
import { unet } from '../model/unet';
import { vqDecode } from '../model/vq';
import { decodeLatents, decodeSteps, modelFromWeights, runToEnd, type EngineModel } from '../engine/pipeline';
import { makeSchedule, stepCoefficients, uniformTimesteps } from '../diffusion/schedule';
import { npyToFloat32, readNpy } from '../io/npy';
import { MID_CONFIG } from './benchConfigs';

const PYTHON = '/usr/bin/python3';
const ROOT = resolve('.');
const CACHE = join(ROOT, '.cache', 'bench-peers');

type What = 'unet' | 'encoder' | 'vq' | 'decode';
const WHATS: What[] = ['unet', 'encoder', 'vq', 'decode'];

/** The deterministic inputs every runtime uses (mirrors `inputs` in scripts/bench_peers.py). */
export function benchInputs(cfg: ModelConfig): { x: Float32Array; ctx: Float32Array; fmri: Float32Array } {
  const [c, h, w] = [cfg.vq.embedDim, cfg.unet.imageSize, cfg.unet.imageSize];
  const x = Float32Array.from({ length: c * h * w }, (_, i) => Math.sin(0.731 * i + 0.3));
  const ctx = Float32Array.from({ length: cfg.cond.outTokens * cfg.cond.condDim }, (_, i) => 0.5 * Math.cos(0.173 * i));
  const fmri = Float32Array.from({ length: cfg.encoder.numVoxels }, (_, i) => Math.sin(0.013 * i) * 1.3);
  return { x, ctx, fmri };
}

// ------------------------------------------------------------------------------------------ workers

/** One runtime inside a worker process: load a prepared folder, run one call, report outputs. */
interface Runtime {
  load(dir: string, cfg: ModelConfig): Promise<Record<string, unknown>>;
  run(what: What, steps: number): Promise<void>;
  check(): Promise<Record<string, number[]>>;
}

async function tfjsRuntime(backend: 'wasm' | 'cpu', threads: number): Promise<{ rt: Runtime; info: Record<string, unknown> }> {
  if (backend === 'wasm' && threads > 1) {
    // tfjs-backend-wasm decides in flags_wasm.js: under Node WASM_HAS_MULTITHREAD_SUPPORT is false
    // (tensorflow/tfjs#3830), so its threaded build (emscripten pthreads in Web Workers made from Blob
    // URLs) never loads here; only a cross-origin-isolated browser page gets it.
    await import('@tensorflow/tfjs-backend-wasm');
    const mt = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    if (!mt)
      throw new Error(
        'tfjs-backend-wasm runs single-threaded under Node (its WASM_HAS_MULTITHREAD_SUPPORT flag is false when IS_NODE, tfjs#3830); threads need a cross-origin-isolated browser page',
      );
  }
  const name = await initNodeBackend(backend);
  let model: EngineModel | undefined;
  let cfg: ModelConfig;
  let x: tf.Tensor4D, ctx: tf.Tensor3D, fmri: tf.Tensor2D, raw: Float32Array;
  const call = (what: Exclude<What, 'decode'>): tf.Tensor => {
    const m = model as EngineModel;
    if (what === 'unet') return unet(cfg, m.unet, x, 500, ctx);
    if (what === 'encoder') return tf.tidy(() => condStage(cfg, m.cond, fmriEncoder(cfg, m.encoder, fmri)));
    return vqDecode(cfg, m.vq, x);
  };
  const rt: Runtime = {
    async load(dir, c) {
      cfg = c;
      const names = JSON.parse(await readFile(join(dir, 'tensors.json'), 'utf8')) as string[];
      const weights: Record<string, tf.Tensor> = {};
      for (const n of names) {
        const a = readNpy(new Uint8Array(await readFile(join(dir, 'tensors', `${n}.npy`))));
        weights[n] = tf.tensor(npyToFloat32(a), a.shape);
      }
      model = modelFromWeights(cfg, weights, undefined, { releaseRelaid: true });
      const inp = benchInputs(cfg);
      const [ch, h, w] = latentShape(cfg);
      x = tf.tensor4d(inp.x, [1, ch, h, w]);
      ctx = tf.tensor3d(inp.ctx, [1, cfg.cond.outTokens, cfg.cond.condDim]);
      fmri = tf.tensor2d(inp.fmri, [1, cfg.encoder.numVoxels]);
      raw = Float32Array.from({ length: cfg.preprocess.rawVoxels ?? cfg.encoder.numVoxels }, (_, i) => Math.sin(i));
      return {};
    },
    async run(what, steps) {
      if (what === 'decode') {
        const m = model as EngineModel;
        await decodeLatents(m, await runToEnd(decodeSteps(m, raw, { sampler: 'plms', steps, eta: 0, seed: 0, numSamples: 1 })), 1);
        return;
      }
      const y = call(what);
      await y.data();
      y.dispose();
    },
    async check() {
      const out: Record<string, number[]> = {};
      for (const w of ['unet', 'encoder', 'vq'] as const) {
        const y = call(w);
        out[w] = Array.from(await y.data());
        y.dispose();
      }
      return out;
    },
  };
  return { rt, info: { backend: name } };
}

/**
 * The part of ONNX Runtime's API used here (onnxruntime-node and -web share it). The packages are not
 * dependencies of the project — onnxruntime-node's install script reaches a host CI cannot — but installed on
 * demand by scripts/bench-peers.sh, so their own types are not there for tsc.
 */
interface OrtTensor {
  data: unknown;
}
interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
}
interface Ort {
  env: { wasm: { numThreads: number; simd: boolean } };
  InferenceSession: { create(model: Uint8Array, opts: object): Promise<OrtSession> };
  Tensor: new (type: 'float32' | 'int64', data: Float32Array | BigInt64Array, dims: number[]) => OrtTensor;
}

async function ortRuntime(kind: 'ort-node' | 'ort-web', threads: number): Promise<{ rt: Runtime; info: Record<string, unknown> }> {
  const pkg = kind === 'ort-node' ? 'onnxruntime-node' : 'onnxruntime-web';
  const ort = (await import(pkg)) as Ort;
  if (kind === 'ort-web') {
    ort.env.wasm.numThreads = threads;
    ort.env.wasm.simd = true;
  }
  type Session = OrtSession;
  let s: Record<'unet' | 'encoder' | 'vq', Session>;
  let cfg: ModelConfig;
  let feeds: Record<'unet' | 'encoder' | 'vq', Record<string, OrtTensor>>;
  const opts =
    kind === 'ort-node'
      ? { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' as const, graphOptimizationLevel: 'all' as const }
      : { executionProviders: ['wasm'], graphOptimizationLevel: 'all' as const };
  const runOne = async (what: 'unet' | 'encoder' | 'vq', f = feeds[what]): Promise<Float32Array> => {
    const r = await s[what].run(f);
    return Object.values(r)[0].data as Float32Array;
  };
  const rt: Runtime = {
    async load(dir, c) {
      cfg = c;
      const open = async (f: string): Promise<Session> => ort.InferenceSession.create(new Uint8Array(await readFile(join(dir, f))), opts);
      s = { unet: await open('unet.onnx'), encoder: await open('encoder.onnx'), vq: await open('vq_decode.onnx') };
      if (kind === 'ort-web' && ort.env.wasm.numThreads !== threads) {
        throw new Error(`onnxruntime-web runs ${ort.env.wasm.numThreads} thread(s), not the ${threads} asked for`);
      }
      const inp = benchInputs(cfg);
      const [ch, h, w] = latentShape(cfg);
      const T = ort.Tensor;
      feeds = {
        unet: {
          x: new T('float32', inp.x, [1, ch, h, w]),
          t: new T('int64', BigInt64Array.from([500n]), [1]),
          context: new T('float32', inp.ctx, [1, cfg.cond.outTokens, cfg.cond.condDim]),
        },
        encoder: { fmri: new T('float32', inp.fmri, [1, cfg.encoder.numVoxels]) },
        vq: { z: new T('float32', inp.x, [1, ch, h, w]) },
      };
      return {};
    },
    async run(what, steps) {
      if (what !== 'decode') {
        await runOne(what);
        return;
      }
      // The whole decode: conditioning, PLMS on host arrays (the same update as src/diffusion/plms.ts,
      // microseconds against the UNet), VQ decode.
      const [ch, h, w] = latentShape(cfg);
      const shape = [1, ch, h, w];
      const T = ort.Tensor;
      const c = await runOne('encoder');
      const cT = new T('float32', c, [1, cfg.cond.outTokens, cfg.cond.condDim]);
      const eps = (x: Float32Array, t: number): Promise<Float32Array> =>
        runOne('unet', { x: new T('float32', x, shape), t: new T('int64', BigInt64Array.from([BigInt(t)]), [1]), context: cT });
      const k = stepCoefficients(makeSchedule(cfg.schedule), steps, 0);
      const update = (x: Float32Array, e: Float32Array, i: number): Float32Array => {
        const sa = Math.sqrt(k.alphas[i]),
          sap = Math.sqrt(k.alphasPrev[i]),
          som = k.sqrtOneMinusAlphas[i];
        const dir = Math.sqrt(1 - k.alphasPrev[i]);
        return x.map((xv, j) => sap * ((xv - som * e[j]) / sa) + dir * e[j]);
      };
      let x = feeds.vq.z.data as Float32Array;
      const hist: Float32Array[] = [];
      for (let i = 0; i < k.timesteps.length; i++) {
        const e = await eps(x, k.timesteps[i]);
        let comb: Float32Array;
        if (hist.length === 0) {
          const e2 = await eps(update(x, e, i), k.timesteps[Math.min(i + 1, k.timesteps.length - 1)]);
          comb = e.map((v, j) => (v + e2[j]) / 2);
        } else if (hist.length === 1) comb = e.map((v, j) => (3 * v - hist[0][j]) / 2);
        else if (hist.length === 2) comb = e.map((v, j) => (23 * v - 16 * hist[1][j] + 5 * hist[0][j]) / 12);
        else comb = e.map((v, j) => (55 * v - 59 * hist[2][j] + 37 * hist[1][j] - 9 * hist[0][j]) / 24);
        x = update(x, comb, i);
        hist.push(e);
        if (hist.length > 3) hist.shift();
      }
      await runOne('vq', { z: new T('float32', x, shape) });
    },
    async check() {
      return { unet: Array.from(await runOne('unet')), encoder: Array.from(await runOne('encoder')), vq: Array.from(await runOne('vq')) };
    },
  };
  return { rt, info: { threads } };
}

async function workerMain(kind: string, threads: number): Promise<void> {
  const send = (m: unknown): void => {
    process.stdout.write(`${JSON.stringify(m)}\n`);
  };
  let rt: Runtime;
  let info: Record<string, unknown>;
  try {
    ({ rt, info } =
      kind === 'tfjs-wasm' || kind === 'tfjs-cpu'
        ? await tfjsRuntime(kind === 'tfjs-wasm' ? 'wasm' : 'cpu', threads)
        : await ortRuntime(kind as 'ort-node' | 'ort-web', threads));
  } catch (e) {
    send({ ready: false, error: (e as Error).message || String(e) });
    return;
  }
  send({ ready: true, ...info });
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    const msg = JSON.parse(line) as { op: string; dir: string; what: What; steps: number };
    try {
      if (msg.op === 'load') {
        const cfg = JSON.parse(await readFile(join(msg.dir, 'model_config.json'), 'utf8')) as ModelConfig;
        send({ ok: true, ...(await rt.load(msg.dir, cfg)) });
      } else if (msg.op === 'run') {
        const t0 = performance.now();
        await rt.run(msg.what, msg.steps);
        send({ ok: true, ms: performance.now() - t0 });
      } else if (msg.op === 'check') {
        send({ ok: true, ...(await rt.check()) });
      } else throw new Error(`unknown op '${msg.op}'`);
    } catch (e) {
      send({ ok: false, error: (e as Error).message || String(e) });
    }
  }
}

// ------------------------------------------------------------------------------------------- driver

interface Column {
  id: string;
  kind: string;
  threads: number;
  label: string;
}

/** A worker process answering one JSON line per request. */
class Proc {
  private lines: AsyncIterator<string>;
  private stderr = '';
  dead?: string;
  constructor(private child: ChildProcessWithoutNullStreams) {
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    child.stderr.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    child.on('exit', (code, sig) => {
      this.dead ??= `worker exited (${sig ?? `code ${code}`}): ${this.lastError()}`;
    });
  }
  lastError(): string {
    const l = this.stderr
      .trim()
      .split('\n')
      .filter((s) => s.trim() && !/Warning|warn/i.test(s));
    return (l.pop() ?? '').slice(0, 200);
  }
  async next(): Promise<Record<string, unknown>> {
    for (;;) {
      const r = await this.lines.next();
      if (r.done) throw new Error(this.dead ?? `worker closed its output: ${this.lastError()}`);
      if (r.value.startsWith('{')) return JSON.parse(r.value) as Record<string, unknown>;
    }
  }
  /** One request; past `timeoutMs` the worker is killed (a running wasm or tfjs-cpu call cannot be interrupted). */
  async ask(msg: Record<string, unknown>, timeoutMs = Infinity): Promise<Record<string, unknown>> {
    if (this.dead) throw new Error(this.dead);
    this.child.stdin.write(`${JSON.stringify(msg)}\n`);
    let timer: NodeJS.Timeout | undefined;
    const r = await (Number.isFinite(timeoutMs)
      ? Promise.race([
          this.next(),
          new Promise<never>((_, rej) => {
            timer = setTimeout(() => {
              this.dead = `stopped: one ${String(msg.what ?? msg.op)} call ran past ${fmt(timeoutMs)}`;
              this.child.kill('SIGKILL');
              rej(new Error(this.dead));
            }, timeoutMs);
          }),
        ]).finally(() => clearTimeout(timer))
      : this.next());
    if (r.ok === false) throw new Error(String(r.error));
    return r;
  }
  stop(): void {
    this.child.stdin.end();
    this.child.kill();
  }
}

function startWorker(col: Column): Proc {
  const child =
    col.kind === 'torch'
      ? spawn(PYTHON, ['scripts/bench_peers.py', 'worker', '--threads', String(col.threads)], {
          cwd: ROOT,
          env: { ...process.env, PYTHONPATH: join(ROOT, 'python'), OMP_NUM_THREADS: String(col.threads) },
        })
      : spawn(process.execPath, ['--import', 'tsx', 'src/cli/benchPeers.ts', '--worker', col.kind, '--threads', String(col.threads)], {
          cwd: ROOT,
          env: { ...process.env, OMP_NUM_THREADS: String(col.threads) },
        });
  return new Proc(child);
}

function runPython(args: string[]): Promise<string> {
  return new Promise((res, rej) => {
    const p = spawn(PYTHON, ['scripts/bench_peers.py', ...args], { cwd: ROOT, env: { ...process.env, PYTHONPATH: join(ROOT, 'python') } });
    let out = '',
      err = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    p.stderr.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-4000);
    });
    p.on('exit', (code) =>
      code === 0
        ? res(out)
        : rej(new Error(`scripts/bench_peers.py ${args[0]} failed (code ${code}): ${err.trim().split('\n').slice(-3).join(' | ')}`)),
    );
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (ms: number): string =>
  ms >= 10_000
    ? `${(ms / 1000).toFixed(1)} s`
    : ms >= 1000
      ? `${(ms / 1000).toFixed(2)} s`
      : ms >= 10
        ? `${ms.toFixed(1)} ms`
        : `${ms.toFixed(2)} ms`;

const SPEC: Record<string, FlagSpec> = {
  configs: { type: 'string', help: 'comma-separated configurations: default, mid', default: 'default,mid' },
  runtimes: {
    type: 'string',
    help: 'comma-separated columns (default all): tfjs-wasm-1, tfjs-wasm-all, tfjs-cpu, torch-1, torch-all, ort-node-1, ort-node-all, ort-web-1, ort-web-all',
  },
  reps: { type: 'number', help: 'timed repetitions of UNet step, encoder and VQ decode, after one warm-up', default: 7 },
  'decode-reps': { type: 'number', help: 'timed repetitions of the full decode (its networks are already warm)', default: 3 },
  steps: { type: 'number', help: 'PLMS steps of the full decode (S + 1 UNet calls)', default: 50 },
  'cell-budget': {
    type: 'number',
    help: 'seconds one cell may take: fewer repetitions (n shown) or, for a decode estimated beyond it, none; a call past twice it (an output check: four times) stops that runtime',
    default: 90,
  },
  'no-check': { type: 'boolean', help: 'skip the output agreement check' },
  note: { type: 'string', help: 'a line printed with the machine, e.g. about other load' },
  seed: { type: 'number', help: 'seed of the random weights', default: 0 },
  help: { type: 'boolean', help: 'show this help' },
  worker: { type: 'string', help: '(internal) run as a worker of this kind' },
  threads: { type: 'number', help: '(internal) worker threads', default: 1 },
};

function columns(all: number): Column[] {
  const cols: Column[] = [
    { id: 'tfjs-wasm-1', kind: 'tfjs-wasm', threads: 1, label: 'ours: tfjs-wasm' },
    { id: 'tfjs-wasm-all', kind: 'tfjs-wasm', threads: all, label: 'ours: tfjs-wasm' },
    { id: 'tfjs-cpu', kind: 'tfjs-cpu', threads: 1, label: 'ours: tfjs-cpu' },
    { id: 'torch-1', kind: 'torch', threads: 1, label: 'PyTorch eager' },
    { id: 'torch-all', kind: 'torch', threads: all, label: 'PyTorch eager' },
    { id: 'ort-node-1', kind: 'ort-node', threads: 1, label: 'onnxruntime-node' },
    { id: 'ort-node-all', kind: 'ort-node', threads: all, label: 'onnxruntime-node' },
    { id: 'ort-web-1', kind: 'ort-web', threads: 1, label: 'onnxruntime-web wasm' },
    { id: 'ort-web-all', kind: 'ort-web', threads: all, label: 'onnxruntime-web wasm' },
  ];
  return cols;
}

function pkgVersion(name: string): string {
  // Read from the folder: some packages (onnxruntime-web) do not export their package.json.
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

interface Cell {
  ms: number[];
  error?: string;
  note?: string;
}

async function driverMain(args: Record<string, unknown>): Promise<void> {
  const all = cpus().length;
  const cols = columns(all);
  const want = args.runtimes ? String(args.runtimes).split(',') : cols.map((c) => c.id);
  for (const w of want)
    if (!cols.some((c) => c.id === w)) throw new Error(`unknown runtime '${w}' (choose from ${cols.map((c) => c.id).join(', ')})`);
  const active = cols.filter((c) => want.includes(c.id));
  const reps = Number(args.reps),
    decodeReps = Number(args['decode-reps']),
    steps = Number(args.steps);
  const budgetMs = Number(args['cell-budget']) * 1000;
  for (const [k, v] of [
    ['reps', reps],
    ['decode-reps', decodeReps],
    ['steps', steps],
  ] as const) {
    if (!(Number.isInteger(v) && v >= 1)) throw new Error(`--${k} must be a positive integer (got ${v})`);
  }
  uniformTimesteps(steps); // refuses a step count the authors' spacing cannot make, before minutes of setup
  const configs = String(args.configs).split(',');
  const manifest = JSON.parse(await readFile('public/models/default/manifest.json', 'utf8')) as { config: ModelConfig };
  const CONFIGS: Record<string, ModelConfig> = { default: manifest.config, mid: MID_CONFIG };
  for (const c of configs) if (!CONFIGS[c]) throw new Error(`unknown config '${c}' (choose default, mid)`);

  const torchVersion = (await runPython(['versions']).catch(() => '')).trim();
  const started = new Date();
  console.log('# bench:peers — same weights, one run, interleaved; medians (min–max) of n timed calls after a warm-up');
  console.log(
    `machine: ${cpus()[0]?.model ?? '?'}, ${all} logical cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB; load average at start ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  if (args.note) console.log(`note: ${args.note}`);
  console.log(
    `versions: node ${process.versions.node}; @tensorflow/tfjs-core ${tf.version_core}, tfjs-backend-wasm ${pkgVersion('@tensorflow/tfjs-backend-wasm')}, tfjs-backend-cpu ${pkgVersion('@tensorflow/tfjs-backend-cpu')}; ` +
      `onnxruntime-node ${pkgVersion('onnxruntime-node')}, onnxruntime-web ${pkgVersion('onnxruntime-web')}; ${torchVersion || 'python/torch versions unavailable'}`,
  );
  console.log(
    `date: ${started.toISOString()}; reps ${reps} (full decode ${decodeReps}), PLMS ${steps} steps, cell budget ${budgetMs / 1000} s, weights seed ${args.seed}`,
  );

  const results: Record<string, Record<string, Record<What, Cell>>> = {};
  for (const cname of configs) {
    const cfg = CONFIGS[cname];
    const dir = join(CACHE, cname);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'model_config.json'), JSON.stringify(cfg, null, 1));
    console.log(`\n## ${cname}: ${describe(cfg)}`);
    const t0 = performance.now();
    const prep = JSON.parse(
      (await runPython(['prepare', '--dir', dir, '--seed', String(args.seed)])).trim().split('\n').pop() as string,
    ) as { params: number; opset: number };
    console.log(
      `weights: ${(prep.params / 1e6).toFixed(1)} M parameters (python/cad_ref FmriLDM, golden.py build_ldm seed ${args.seed}); ONNX opset ${prep.opset}; prepared in ${fmt(performance.now() - t0)}`,
    );

    const cells: Record<string, Record<What, Cell>> = {};
    const procs = new Map<string, Proc>();
    // Start and load every worker at once (nothing is timed yet), then time one call at a time.
    await Promise.all(
      active.map(async (col) => {
        cells[col.id] = Object.fromEntries(WHATS.map((w) => [w, { ms: [] }])) as unknown as Record<What, Cell>;
        const p = startWorker(col);
        try {
          const ready = await p.next();
          if (!ready.ready) throw new Error(String(ready.error));
          await p.ask({ op: 'load', dir });
          procs.set(col.id, p);
        } catch (e) {
          p.stop();
          for (const w of WHATS) cells[col.id][w].error = (e as Error).message;
        }
      }),
    );
    console.log(`workers loaded (${fmt(performance.now() - t0)} since prepare)`);
    const fail = (id: string, e: unknown, from: What): void => {
      const msg = (e as Error).message || String(e);
      const p = procs.get(id);
      if (p?.dead) {
        for (const w of WHATS.slice(WHATS.indexOf(from))) cells[id][w].error ??= msg;
        procs.delete(id);
      } else cells[id][from].error = msg;
    };

    if (!args['no-check'] && procs.has('torch-1')) {
      const ref = await (procs.get('torch-1') as Proc).ask({ op: 'check' }, 4 * budgetMs).catch(() => undefined);
      if (ref) {
        console.log('agreement with PyTorch (1 thread) on the shared inputs, max |Δ| / max |PyTorch|:');
        for (const [id, p] of procs) {
          if (id === 'torch-1') continue;
          try {
            const out = await p.ask({ op: 'check' }, 4 * budgetMs); // tfjs-cpu at mid size: many minutes
            const parts = (['unet', 'encoder', 'vq'] as const).map(
              (k) => `${k} ${relErr(out[k] as number[], ref[k] as number[]).toExponential(1)}`,
            );
            console.log(`  ${id.padEnd(13)} ${parts.join(', ')}`);
          } catch (e) {
            console.log(`  ${id.padEnd(13)} check failed: ${(e as Error).message}`);
          }
        }
      }
    }

    for (const what of WHATS) {
      const n = what === 'decode' ? decodeReps : reps;
      const plan = new Map<string, number>();
      for (const [id, p] of procs) {
        if (cells[id][what].error) continue;
        if (what === 'decode') {
          // Its networks are warm: estimate from their medians instead of a warm-up decode.
          const m = (w: What): number => (cells[id][w].ms.length ? median(cells[id][w].ms) : NaN);
          const est = (steps + 1) * m('unet') + m('encoder') + m('vq');
          if (!(est <= budgetMs)) {
            cells[id][what].note = Number.isFinite(est) ? `not run: ≈ ${fmt(est)} est. > cell budget` : 'not run: its networks failed';
            continue;
          }
          plan.set(id, Math.max(1, Math.min(n, Math.floor(budgetMs / est))));
          continue;
        }
        try {
          const w = (await p.ask({ op: 'run', what, steps }, 2 * budgetMs)).ms as number;
          plan.set(id, Math.max(1, Math.min(n, Math.floor(budgetMs / Math.max(w, 1)))));
        } catch (e) {
          fail(id, e, what);
        }
      }
      const order = [...plan.keys()];
      for (let r = 0; r < n; r++) {
        const rot = order.map((_, i) => order[(i + r) % order.length]);
        for (const id of rot) {
          if ((plan.get(id) ?? 0) <= r || cells[id][what].error) continue;
          const p = procs.get(id);
          if (!p) continue;
          try {
            cells[id][what].ms.push((await p.ask({ op: 'run', what, steps }, 2 * budgetMs)).ms as number);
          } catch (e) {
            fail(id, e, what);
          }
        }
      }
      process.stdout.write(`  measured ${what} (${fmt(performance.now() - t0)} since prepare, load average ${loadavg()[0].toFixed(2)})\n`);
    }
    for (const p of procs.values()) p.stop();
    results[cname] = cells;
    printTable(cname, active, cells, steps, reps, decodeReps);
  }
  const out = join(CACHE, `results-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(
    out,
    JSON.stringify({ started: started.toISOString(), args, machine: { cpu: cpus()[0]?.model, cores: all }, results }, null, 1),
  );
  console.log(`\nraw samples: ${out}`);
  console.log(
    `finished ${new Date().toISOString()}; load average at the end ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
}

function relErr(a: number[] | undefined, b: number[] | undefined): number {
  if (!a || !b || a.length !== b.length) return NaN;
  let d = 0,
    m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / m;
}

function describe(cfg: ModelConfig): string {
  const [c, h] = latentShape(cfg);
  const u = cfg.unet;
  return (
    `latent ${c}×${h}×${h}, UNet ${u.modelChannels} ch × [${u.channelMult}], ${u.numResBlocks} res blocks, attention at ds [${u.attentionResolutions}], ` +
    `context ${u.contextDim}; encoder ${cfg.encoder.embedDim} × ${cfg.encoder.depth} on ${cfg.encoder.numVoxels} voxels; VQ to ${cfg.vq.resolution}² (ch ${cfg.vq.ch})`
  );
}

function printTable(
  cname: string,
  cols: Column[],
  cells: Record<string, Record<What, Cell>>,
  steps: number,
  reps: number,
  decodeReps: number,
): void {
  const heads: Record<What, string> = {
    unet: 'UNet step',
    encoder: 'encoder + mappers',
    vq: 'VQ decode',
    decode: `full decode (PLMS ${steps})`,
  };
  console.log(
    `\n${cname}: median (min – max) [n if fewer than ${reps} / ${decodeReps}]; × = median / PyTorch eager median at the same thread count`,
  );
  console.log(`| runtime | threads | ${WHATS.map((w) => heads[w]).join(' | ')} |`);
  console.log(`|---|---|${WHATS.map(() => '---').join('|')}|`);
  const torchFor = (c: Column): Record<What, Cell> | undefined => (c.threads > 1 ? cells['torch-all'] : cells['torch-1']);
  const notes: string[] = [];
  const note = (text: string): string => {
    if (!notes.includes(text)) notes.push(text);
    return `— [${notes.indexOf(text) + 1}]`;
  };
  for (const c of cols) {
    const parts = WHATS.map((w) => {
      const cell = cells[c.id][w];
      if (cell.error) return note(`${c.id}: ${cell.error}`);
      if (!cell.ms.length) return note(`${c.id}: ${cell.note ?? 'not run'}`);
      const med = median(cell.ms);
      let s = `${fmt(med)} (${fmt(Math.min(...cell.ms))} – ${fmt(Math.max(...cell.ms))})`;
      const full = w === 'decode' ? decodeReps : reps;
      if (cell.ms.length < full) s += ` n=${cell.ms.length}`;
      const ref = torchFor(c)?.[w];
      if (ref && ref.ms.length && !c.kind.startsWith('torch')) s += ` **${(med / median(ref.ms)).toFixed(2)}×**`;
      return s;
    });
    console.log(`| ${c.label} | ${c.threads} | ${parts.join(' | ')} |`);
  }
  notes.forEach((n, i) => console.log(`[${i + 1}] ${n}`));
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), SPEC);
  if (args.help) {
    process.stdout.write(usage('npm run bench:peers --', '[options]', SPEC));
    return;
  }
  if (args.worker) {
    await workerMain(String(args.worker), Number(args.threads));
    return;
  }
  await driverMain(args);
}

main().catch((e: Error) => {
  console.error(`error: ${e.message}`);
  process.exitCode = 1;
});
