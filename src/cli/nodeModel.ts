// Loading a bundle directory from Node (CLIs, eval, bench).
import { dirSource } from '../io/bundle/node';
import { loadModel, type EngineModel } from '../engine/pipeline';

export function loadModelFromDir(dir: string, onProgress?: (done: number, total: number) => void): Promise<EngineModel> {
  return loadModel(dirSource(dir), { onProgress });
}
