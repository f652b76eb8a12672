export * from './manifest';
export { loadBundle, type BundleSource, type LoadedTensors, type LoadOptions, type ReadOptions } from './loader';
export { bundleFromZip, memorySource, urlSource } from './sources';
export { writeBundle, shardName, type BundleSink, type BundleTensor, type WriteBundleOptions } from './writer';
export { sha256Hex } from './sha256';
