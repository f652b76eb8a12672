import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import threadedFactory, { pthreadFactorySource } from './wasmThreadedFactory';

describe('the threaded factory handed to tfjs-wasm', () => {
  it('gives the pthread workers a self-contained source: the factory, evaluated where nothing else is defined', () => {
    expect(threadedFactory.toString()).toBe(pthreadFactorySource);
    // What tfjs puts in the workers' blob (dist/backend_wasm.js), run in an empty global scope.
    const factory = runInNewContext(`var WasmBackendModuleThreadedSimd = ${threadedFactory.toString()}; WasmBackendModuleThreadedSimd`, {});
    expect(typeof factory).toBe('function');
    expect(factory.length).toBe(1);
    // Unminified: the wrapper's _scriptDir is declared inside the source, and guarded where the factory reads it.
    expect(pthreadFactorySource).toContain('var _scriptDir =');
    expect(pthreadFactorySource).toContain('typeof _scriptDir !== "undefined"');
  });
});
