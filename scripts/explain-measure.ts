// What the explanation views show on the bundled SYNTHETIC set (issue 14, item 5), for docs/explain.md:
//   nice -n 10 npx tsx scripts/explain-measure.ts [--n 10] [--json out.json]
// For the first n test images (35-trial averages): the default model's decode (its config.sampling), each
// ROI lesioned to the training mean, the ROI-only inputs, the shuffled and the all-mean controls — PCC, SSIM
// against the seen image and 2-way identification by PCC among the n; attention mass per ROI (per voxel)
// at the first and last step for real and shuffled inputs; how far the shuffled control's maps are from
// the real trial's, next to how far two different real trials' maps are. The data are simulated.
import { writeFile } from 'node:fs/promises';
import { parseArgs, usage } from '../src/cli/args';
import { initNodeBackend } from '../src/cli/nodeBackend';
import { loadModelFromDir } from '../src/cli/nodeModel';
import { loadSynthDataset, SYNTHETIC_LABEL } from '../src/eval/data';
import { pairwise2way, pearson, scoreMatrix, ssim, toGrey, type GreyImage } from '../src/eval/metrics';
import { decodeLatents, decodeSteps, type EngineModel } from '../src/engine/pipeline';
import type { DecodeOptions } from '../src/engine/types';
import { applyEdit, type CounterfactualEdit } from '../src/explain/counterfactual';
import { startExplainer, type StepExplanation } from '../src/explain/session';

const SPEC = {
  model: { type: 'string' as const, help: 'bundle', default: 'public/models/default' },
  data: { type: 'string' as const, help: 'data set folder', default: 'public/data/god-synth' },
  n: { type: 'number' as const, help: 'test images', default: 10 },
  seed: { type: 'number' as const, help: 'x_T seed', default: 0 },
  json: { type: 'string' as const, help: 'write the numbers here' },
  help: { type: 'boolean' as const, help: 'show this help' },
};
const ROIS = ['V1', 'V2', 'V3', 'HVC'] as const;

/** Decodes one vector; with `explain`, also each step's maps (sample 0). */
async function decode(
  model: EngineModel,
  fmri: Float32Array,
  opts: DecodeOptions,
  masks?: Record<string, Uint8Array>,
): Promise<{ image: GreyImage; steps: StepExplanation[] }> {
  const ex = masks ? await startExplainer(model, fmri, 1, masks) : undefined;
  const steps: StepExplanation[] = [];
  try {
    const gen = decodeSteps(model, fmri, opts);
    let r = await gen.next();
    while (!r.done) {
      if (ex && r.value.kind === 'step') steps.push(await ex.explainStep(r.value));
      r = await gen.next();
    }
    const img = await decodeLatents(model, r.value, 1);
    return { image: toGrey(img.data, img.height, img.width, 3, img.height, img.width), steps };
  } finally {
    ex?.dispose();
  }
}

/** Mean total-variation distance between two maps' token distributions, over positions (0 = same, 1 = disjoint). */
function mapDistance(a: StepExplanation, b: StepExplanation): number {
  const { height, width, tokens } = a.maps;
  let s = 0;
  for (let i = 0; i < height * width; i++) {
    let d = 0;
    for (let m = 0; m < tokens; m++) d += Math.abs(a.maps.data[i * tokens + m] - b.maps.data[i * tokens + m]);
    s += d / 2;
  }
  return s / (height * width);
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]): number => Math.sqrt((mean(xs.map((x) => (x - mean(xs)) ** 2)) * xs.length) / Math.max(1, xs.length - 1));

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), SPEC);
  if (args.help) {
    process.stdout.write(usage('npx tsx scripts/explain-measure.ts', '[options]', SPEC));
    return;
  }
  await initNodeBackend('wasm');
  const model = await loadModelFromDir(String(args.model));
  const ds = await loadSynthDataset(String(args.data));
  const n = Math.min(Number(args.n), ds.numTest);
  const V = ds.numVoxels;
  const baseline = new Float32Array(V);
  for (let r = 0; r < ds.numTrain; r++) for (let v = 0; v < V; v++) baseline[v] += ds.train[r * V + v] / ds.numTrain;
  const masks: Record<string, Uint8Array> = Object.fromEntries(ROIS.map((r) => [r, ds.masks[r]]));
  const s = model.config.sampling;
  const opts: DecodeOptions = {
    sampler: s?.sampler ?? 'plms',
    steps: s?.steps ?? 50,
    eta: 0,
    seed: Number(args.seed),
    numSamples: 1,
    init: s?.init,
    strength: s?.strength,
    guidance: s?.guidance,
  };
  const conditions: [string, (i: number) => CounterfactualEdit | undefined][] = [
    ['original', () => undefined],
    ...ROIS.map(
      (r) => [`lesion ${r} (mean)`, () => ({ kind: 'lesion', roi: r, fill: 'mean', seed: 0 })] as [string, () => CounterfactualEdit],
    ),
    ...ROIS.map((r) => [`${r} only (= 1)`, () => ({ kind: 'roi-only', roi: r, value: 1 })] as [string, () => CounterfactualEdit]),
    ['shuffled control', (i) => ({ kind: 'control', fill: 'shuffle', seed: 1000 + i })],
    ['all-mean control', () => ({ kind: 'control', fill: 'mean', seed: 0 })],
  ];
  const gts: GreyImage[] = Array.from({ length: n }, (_, i) => ({
    height: ds.imageSize,
    width: ds.imageSize,
    data: Float64Array.from(ds.testImages.subarray(i * ds.imageSize ** 2, (i + 1) * ds.imageSize ** 2), (x) => x / 255),
  }));
  const recon: Record<string, GreyImage[]> = {};
  const mapsReal: StepExplanation[][] = [],
    mapsShuf: StepExplanation[][] = [];
  const started = performance.now();
  for (const [name, edit] of conditions) {
    recon[name] = [];
    for (let i = 0; i < n; i++) {
      const x = ds.testAvg.slice(i * V, (i + 1) * V);
      const e = edit(i);
      const input = e ? applyEdit(x, e, { masks, baseline }) : x;
      const withMaps = name === 'original' || name === 'shuffled control';
      const r = await decode(model, input, opts, withMaps ? masks : undefined);
      recon[name].push(r.image);
      if (name === 'original') mapsReal.push(r.steps);
      if (name === 'shuffled control') mapsShuf.push(r.steps);
      process.stderr.write(`\r${name.padEnd(20)} ${i + 1}/${n}  ${((performance.now() - started) / 1000).toFixed(0)} s`);
    }
  }
  process.stderr.write('\n');
  const metrics = Object.fromEntries(
    Object.entries(recon).map(([name, imgs]) => {
      const pcc = imgs.map((im, i) => pearson(im.data, gts[i].data));
      const ss = imgs.map((im, i) => ssim(im, gts[i]));
      return [
        name,
        {
          pcc: mean(pcc),
          pccSd: sd(pcc),
          ssim: mean(ss),
          ssimSd: sd(ss),
          pair2wayPcc: pairwise2way(scoreMatrix(imgs, gts, (a, b) => pearson(a.data, b.data))),
        },
      ];
    }),
  );
  const massAt = (runs: StepExplanation[][], k: 'first' | 'last') =>
    Object.fromEntries(
      [...ROIS, 'bias'].map((r) => [
        r,
        mean(
          runs.map((st) => {
            const s0 = k === 'first' ? st[0] : st[st.length - 1];
            return r === 'bias' ? s0.mass.bias : s0.mass.perVoxel[r];
          }),
        ),
      ]),
    );
  const last = (st: StepExplanation[]) => st[st.length - 1];
  const distRealShuf = mapsReal.map((st, i) => mapDistance(last(st), last(mapsShuf[i])));
  const distRealReal = mapsReal.map((st, i) => mapDistance(last(st), last(mapsReal[(i + 1) % n])));
  const heatCorr = ROIS.map((r) => mean(mapsReal.map((st, i) => pearson(last(st).heat[r], last(mapsShuf[i]).heat[r]))));
  const result = {
    label: SYNTHETIC_LABEL,
    n,
    model: model.config.name,
    settings: opts,
    timesteps: mapsReal[0].map((s) => s.t),
    metrics,
    attentionMassPerVoxel: {
      real: { first: massAt(mapsReal, 'first'), last: massAt(mapsReal, 'last') },
      shuffled: { first: massAt(mapsShuf, 'first'), last: massAt(mapsShuf, 'last') },
    },
    mapDistance: {
      realVsShuffledSameImage: { mean: mean(distRealShuf), sd: sd(distRealShuf) },
      realVsOtherRealImage: { mean: mean(distRealReal), sd: sd(distRealReal) },
    },
    roiHeatCorrelationRealVsShuffled: Object.fromEntries(ROIS.map((r, k) => [r, heatCorr[k]])),
  };
  process.stdout.write(`${JSON.stringify(result, null, 1)}\n`);
  if (args.json) await writeFile(String(args.json), `${JSON.stringify(result, null, 1)}\n`);
  model.dispose();
}

main().catch((e: Error) => {
  process.stderr.write(`\nerror: ${e.message}\n`);
  process.exitCode = 1;
});
