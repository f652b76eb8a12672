// The studio's help texts: one entry per control, metric and term, in the field's words. Shown by HelpTip
// (a "?" next to the control) and, all together, by the help panel (src/ui/Help.tsx). Kept apart from the
// panels so every panel, whoever owns it, can point at the same text.

export interface HelpEntry {
  title: string;
  body: string;
}

export const HELP = {
  backend: {
    title: 'Backend',
    body: 'Where the networks run: WebGPU (the graphics card, through the browser) or WebAssembly (the CPU). When a model loads, the studio times a probe step built from the model\'s sizes on each usable backend and runs on the faster; a WebGPU adapter that reports itself as software (SwiftShader, llvmpipe) is a candidate, not the default. The decision is cached per adapter and model shape in this browser; "Run on" overrides it and is remembered.',
  },
  sampler: {
    title: 'Sampler',
    body: 'How the denoising steps are taken. PLMS (pseudo linear multi-step) is what the paper samples with; DDIM is deterministic at eta 0 and needs fewer steps for the same quality. Both walk the same 1000-step noise schedule, visiting a subset of its timesteps.',
  },
  steps: {
    title: 'Steps',
    body: "How many of the 1000 training timesteps the sampler visits (S). More steps: closer to the model's distribution, slower. The authors' uniform spacing can run one more than asked (S = 12 runs 13); counts whose last timestep would fall past the schedule are refused with counts that work.",
  },
  eta: {
    title: 'eta (η)',
    body: 'DDIM only: how much fresh noise each step adds. 0 = deterministic (the same seed gives the same image); 1 = as much noise as the original DDPM. PLMS always uses 0.',
  },
  seed: {
    title: 'Seed',
    body: "Seeds the starting noise x_T (and DDIM's per-step noise). The same fMRI, seed and settings reproduce the same images; a decode receipt records them.",
  },
  samples: {
    title: 'Samples',
    body: 'How many images are drawn from the same fMRI conditioning, each from its own noise. Their pixel mean is shown too: it keeps what the samples agree on.',
  },
  init: {
    title: 'Start (init)',
    body: "Noise: sampling starts from pure noise x_T, as in the paper. Low-level start (img2img): the model's fMRI-predicted low-level image (ridge → pixels → first-stage encoder) is noised to the strength's timestep and denoised from there; timeline frame 0 shows it. Needs a model with a low-level decoder.",
  },
  strength: {
    title: 'Strength',
    body: 'img2img with the low-level start only: the fraction of the schedule that is re-run. The start latent is noised to t ≈ strength·T and only the remaining steps run; 1 re-runs everything (the start is forgotten), small values stay close to the low-level image.',
  },
  guidance: {
    title: 'Guidance scale',
    body: 'Classifier-free guidance g: each step predicts the noise with and without the fMRI (ε_c, ε_u) and uses ε_u + g·(ε_c − ε_u). 1 = off (the paper), larger follows the fMRI more strongly at the cost of variety, 0 = unconditional. Needs a model with a learned null context; doubles the work per step.',
  },
  scale: {
    title: 'Scale',
    body: 'A multiplier for the file\'s values, e.g. 1/300 for NSD betas stored as int16 percent signal change × 300. Integers are never rescaled silently: empty means "as stored".',
  },
  split: {
    title: 'Split',
    body: 'For GOD-layout files: train (1,200 trials, one per training image), test-avg (50 test images, each averaged over its 35 repetitions: what the paper scores) and test-single (the repetitions one by one). Other files have one split.',
  },
  sample: {
    title: 'Sample',
    body: 'Which row (trial, volume) of the split is decoded. For the bundled set the ground-truth image and its Fashion-MNIST class are shown next to it.',
  },
  roi: {
    title: 'ROI (region of interest)',
    body: "Which voxels are used. VC: the whole visual cortex (the paper's and the default model's input). LVC: lower (early) visual cortex, V1–V3. HVC: higher visual cortex (LOC, FFA, PPA: object- and scene-selective areas). V1, V2, V3: the first three retinotopic visual areas. A model is trained on one ROI; other ROIs have another voxel count and are refused by it with both counts.",
  },
  wrapPadding: {
    title: 'Wrap padding',
    body: 'The encoder reads voxels in patches of 16, so the voxel vector is lengthened to whole patches by copying its first voxels to the end (numpy.pad mode "wrap"), as the authors do: always pad = 16 − V mod 16 voxels, a whole extra patch when V is already a multiple of 16.',
  },
  zscore: {
    title: 'z-score',
    body: "After padding, every value has the training set's single mean subtracted and is divided by its single standard deviation (scalars stored with the model), so test data is scaled like the training data.",
  },
  timeline: {
    title: 'Timeline',
    body: "Every step of the run, scrubbed with the mouse or the arrow keys: each position shows that step's x_t and predicted x̂₀; the last is the final image. Frame 0 is the low-level start when the run starts from it.",
  },
  x0: {
    title: 'Predicted x̂₀',
    body: "At each step, the model's estimate of the clean image, computed from the noisy latent x_t and the predicted noise ε: x̂₀ = (x_t − √(1−ᾱ_t)·ε) / √ᾱ_t, decoded to pixels. It is what the run is heading towards, and sharpens as t falls.",
  },
  xt: {
    title: 'x_t',
    body: 'The noisy latent the sampler holds at timestep t (3 latent channels shown as RGB, not an image): pure noise at the start, the final latent at the end. x̂₀ is the image predicted from it.',
  },
  mean: {
    title: 'Mean of samples',
    body: "The pixel-wise mean of the samples' images at this step: blurrier, but it keeps what the samples share. Scored like each sample.",
  },
  groundTruth: {
    title: 'Ground truth',
    body: 'The image shown to the subject during this trial, with its class. Known only for the bundled set (a SIMULATED data set with Fashion-MNIST stimuli, not brain data); for your own files the studio has no stimulus to compare with.',
  },
  pcc: {
    title: 'PCC (Pearson correlation)',
    body: "Correlation of the reconstruction's and the ground truth's grey pixels at the ground truth's resolution: 1 = same pattern of light and dark, 0 = unrelated (chance level for an unrelated image), −1 = inverted.",
  },
  ssim: {
    title: 'SSIM (structural similarity)',
    body: "Structural similarity of the grey images (local means, contrasts and correlations): 1 = identical, near 0 for unrelated images (chance level; it depends on the images' smoothness), negative = anti-correlated structure.",
  },
  cnnClass: {
    title: 'CNN class',
    body: 'The class a classifier trained on the stimuli sees in the reconstruction (the "CNN class" of npm run eval). It matches the ground truth\'s class by chance 1 time in 10 (10 Fashion-MNIST classes).',
  },
  twoWay: {
    title: '2-way identification',
    body: 'npm run eval: for each reconstruction, is it closer (by PCC or SSIM) to its own ground truth than to another test image? Averaged over all pairs; chance level 0.5.',
  },
  nWay: {
    title: 'n-way identification',
    body: "npm run eval: the reconstruction must be closer to its own ground truth than to n − 1 other test images at once (50-way: all test images). Chance level 1/n (0.02 for 50-way). The paper's top-1 class accuracy in n-way is scored the same way on classifier outputs.",
  },
  bundle: {
    title: 'Model bundle',
    body: "A converted model: manifest.json plus weight shards (npm run convert writes them from the authors' .pth/.ckpt checkpoints). Drop the folder or a .zip of it, or give the URL of a folder served over https with CORS. Loaded bundles can be kept in this browser (OPFS).",
  },
} satisfies Record<string, HelpEntry>;

export type HelpId = keyof typeof HELP;

/** Help panel sections: which entries, in which order. */
export const HELP_SECTIONS: { title: string; ids: HelpId[] }[] = [
  { title: 'Data and preprocessing', ids: ['roi', 'split', 'sample', 'scale', 'wrapPadding', 'zscore'] },
  { title: 'Decoding', ids: ['sampler', 'steps', 'eta', 'seed', 'samples', 'init', 'strength', 'guidance'] },
  { title: 'What you see', ids: ['timeline', 'xt', 'x0', 'mean', 'groundTruth'] },
  { title: 'Scores and their chance levels', ids: ['pcc', 'ssim', 'cnnClass', 'twoWay', 'nWay'] },
  { title: 'Models and backends', ids: ['bundle', 'backend'] },
];
