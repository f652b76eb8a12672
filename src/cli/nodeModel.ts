// Loading a bundle directory from Node (CLIs, eval, bench).
import { dirSource } from '../io/bundle/node';
import { loadBundle } from '../io/bundle/loader';
import { loadModel, type EngineModel } from '../engine/pipeline';
import { VOXEL_XYZ_MM } from '../model/layout';

export function loadModelFromDir(dir: string, onProgress?: (done: number, total: number) => void): Promise<EngineModel> {
  return loadModel(dirSource(dir), { onProgress });
}

/**
 * The bundle's input voxel positions ([rawVoxels × 3] mm, VOXEL_XYZ_MM) without loading the model: only the shard
 * holding them is read (and checked). Undefined when the bundle does not record them.
 * @throws BundleError as loadBundle
 */
export async function readVoxelPositions(dir: string): Promise<Float32Array | undefined> {
  const { tensors } = await loadBundle(dirSource(dir), { only: (name) => name === VOXEL_XYZ_MM });
  return tensors[VOXEL_XYZ_MM]?.data;
}
