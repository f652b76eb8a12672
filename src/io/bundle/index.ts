export * from './manifest';
export { loadBundle, type BundleSource, type LoadOptions } from './loader';
export { bundleFromZip, memorySource, urlSource } from './sources';
export { sha256Hex } from './sha256';
