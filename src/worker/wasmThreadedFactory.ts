// Stands in for tfjs-backend-wasm's threaded-SIMD emscripten factory in the browser build (the Vite plugin
// `tfjsWasmThreadsSource` in vite.config.ts resolves tfjs's own import of it to this module).
//
// Why: tfjs starts each pthread worker from a Blob holding `var WasmBackendModuleThreadedSimd = ` +
// factory.toString() (dist/backend_wasm.js, init()). After bundling and minifying, that function's text
// refers to names of the scope around it: the emscripten wrapper's `_scriptDir`, renamed (e.g. to `e`),
// with its guard `typeof _scriptDir !== "undefined"` folded to `e !== void 0` since the minifier knows it
// is declared. In the blob there is no such scope, so every pthread worker threw "ReferenceError: e is not
// defined" and the backend never finished starting. Here the main thread runs the bundled factory as
// before, and the pthread workers get the file's own, unminified source (a string, which no minifier
// rewrites): the whole emscripten output, evaluated to its factory.
import bundledFactory from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js';
import emscriptenOutput from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js?raw';

type Factory = typeof bundledFactory;

/** A self-contained expression whose value is the factory (the file declares it as a top-level `var`). */
export const pthreadFactorySource = `(function () {\n${emscriptenOutput}\nreturn WasmBackendModuleThreadedSimd;\n})()`;

let pthreadSource = pthreadFactorySource;
const threadedFactory: Factory = (config) => bundledFactory(config);
// tfjs reads the factory's source through toString() (and nothing else) to build the pthread workers' script.
threadedFactory.toString = () => pthreadSource;

/** e2e only (?testHooks=1&threadsFail=1): the pthread workers' script throws as it loads, as the minified one did. */
export function failPthreadsForTest(): void {
  pthreadSource = '(function () { throw new Error("test hook: the pthread script fails to load"); })()';
}

export default threadedFactory;
