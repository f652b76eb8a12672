// Files of the Node-made oracles inside the Chromium tests: the page cannot read the disk, so they come through
// vitest's commands.readFile (base64) from the folders test/globalSetup.golden.ts made and provides.
import * as tf from '@tensorflow/tfjs-core';
import { commands } from 'vitest/browser';
import { npyToFloat32, readNpy } from '../src/io/npy';
import type { ModelConfig } from '../src/model/config';
import type { HostArray } from './golden';

/** The bytes of a file under the repository (or an absolute path), read by the test runner. */
export async function readBytes(path: string): Promise<Uint8Array> {
  const b64 = await commands.readFile(path, 'base64');
  return Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
}

/** `<dir>/<name>.npy` as float32 with its shape (int64 timesteps included), as test/golden.ts goldenArray in Node. */
export const arraysIn =
  (dir: string) =>
  async (name: string): Promise<HostArray> => {
    const a = readNpy(await readBytes(`${dir}/${name}.npy`));
    return { data: npyToFloat32(a), shape: a.shape };
  };

/**
 * The golden preset's model_config.json and phase-3 weights (tensors.json, PyTorch layouts) as new tensors on the
 * current backend, with the extras (extras.json: low-level decoder, null context) when `extras` is set.
 */
export async function goldenModelFiles(dir: string, extras = false): Promise<{ cfg: ModelConfig; weights: Record<string, tf.Tensor> }> {
  const json = async <T>(file: string): Promise<T> => JSON.parse(await commands.readFile(`${dir}/${file}`, 'utf8')) as T;
  const cfg = await json<ModelConfig>('model_config.json');
  const names = [...(await json<string[]>('tensors.json')), ...(extras ? await json<string[]>('extras.json') : [])];
  const load = arraysIn(dir);
  const weights: Record<string, tf.Tensor> = {};
  for (const name of names) {
    const a = await load(`tensors/${name}`);
    weights[name] = tf.tensor(a.data, a.shape);
  }
  return { cfg, weights };
}
