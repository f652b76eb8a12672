// The oracle of the CNN class metric, shared by the Node and the Chromium parity tests (browsers cannot run
// Python, so test/globalSetup.golden.ts calls this before they start): the synthetic set's true test images plus
// noisy variants, and PyTorch's logits of the shipped classifier on them (python/cad_ref/train/classifier.py via
// test/oracles/reference_cnn.py, fp32, from the same npz).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNpy, writeNpy } from '../../src/io/npy';
import { loadSynthDataset } from '../../src/eval/data';

export const CNN_DATA = 'public/data/god-synth';
/** Rows after the true test images: 3 test images with strong noise, then 3 of pure noise (far off the training distribution). */
export const CNN_NOISY = 6;

export interface CnnOracle {
  /** float32 [n, 32, 32] in [0, 1]: the numTest true test images, then CNN_NOISY noisy rows. */
  images: Float32Array;
  /** float32 [n, 10], PyTorch's logits. */
  logits: Float32Array;
  n: number;
  numTest: number;
  /** Class of each true test image, [numTest]. */
  labels: Int32Array;
  /** Folder holding images.npy, logits.npy and labels.npy (for the browser tests). */
  dir: string;
}

/** Deterministic values in [0, 1) (no Math.random in tests). */
const wave = (len: number, seed: number): Float32Array =>
  Float32Array.from({ length: len }, (_, i) => {
    const s = Math.sin(i * 12.9898 + seed * 78.233) * 43758.5453;
    return s - Math.floor(s);
  });

/** Builds the inputs, runs the PyTorch reference (Debian python3-torch) and writes the three .npy files to `dir`. */
export async function cnnOracle(dir: string): Promise<CnnOracle> {
  const ds = await loadSynthDataset(CNN_DATA);
  const px = 32 * 32,
    numTest = ds.numTest,
    n = numTest + CNN_NOISY;
  const images = new Float32Array(n * px);
  for (let i = 0; i < numTest * px; i++) images[i] = ds.testImages[i] / 255;
  for (let k = 0; k < CNN_NOISY; k++) {
    const noise = wave(px, k),
      off = (numTest + k) * px;
    for (let p = 0; p < px; p++)
      images[off + p] = k < CNN_NOISY / 2 ? Math.min(1, Math.max(0, images[k * px + p] + 0.6 * (noise[p] - 0.5))) : noise[p];
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'images.npy'), writeNpy(images, [n, 32, 32]));
  const labels = Int32Array.from(ds.testLabels);
  writeFileSync(join(dir, 'labels.npy'), writeNpy(labels, [numTest]));
  const py = spawnSync(
    '/usr/bin/python3',
    ['test/oracles/reference_cnn.py', join(CNN_DATA, 'classifier_cnn.npz'), join(dir, 'images.npy'), join(dir, 'logits.npy')],
    { encoding: 'utf8' },
  );
  if (py.status !== 0) throw new Error(`reference_cnn.py failed (needs Debian python3-torch): ${py.stderr}`);
  const logits = readNpy(readFileSync(join(dir, 'logits.npy'))).data as Float32Array;
  return { images, logits, n, numTest, labels, dir };
}
