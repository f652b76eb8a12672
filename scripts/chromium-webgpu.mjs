// How every Chromium this repository launches gets WebGPU on a machine without a GPU: Debian's chromium, whose
// SwiftShader gives a software WebGPU adapter (the recipe and the flag sets tried: ../shared/spec/webgpu.md, section 3).
// One list for the Vitest browser project (vitest.config.ts), the e2e suite (playwright.config.ts) and the scripts
// that drive the built studio (scripts/measure-studio.mjs, scripts/bench-published-page.ts,
// scripts/bench-bigfile-studio.ts). Plain JavaScript so that `node scripts/measure-studio.mjs` can import it; its
// types are in chromium-webgpu.d.mts.

/** Debian's chromium (apt-get install chromium); never Playwright's own download (`npx playwright install`). */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Chromium's command line, in this order. */
export const CHROMIUM_WEBGPU_ARGS = [
  // WebGPU is off on Linux without it: navigator.gpu is there but requestAdapter() returns null ("No available
  // adapters."). With it, headless Chromium gets SwiftShader's adapter (vendor google, architecture swiftshader).
  // The only flag WebGPU needs: Vulkan/ANGLE flags (--use-angle, --use-vulkan, --use-webgpu-adapter) change nothing.
  '--enable-unsafe-webgpu',
  // The next four stop the browser's own traffic and background work (field trials, safe browsing lists, component
  // updates, sync, the first-run page), so that runs stay quiet and comparable on an offline machine. Playwright
  // adds them by itself; they are listed so that the set is complete should Chromium be started another way.
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  // No QUIC (HTTP/3) attempts: the pages are served over plain HTTP from 127.0.0.1.
  '--disable-quic',
];

/**
 * Playwright's launch options for that chromium: `executablePath` and `args` (a fresh array, with `extraArgs` after
 * the shared flags).
 */
export function chromiumLaunchOptions(extraArgs = []) {
  return { executablePath: CHROMIUM_PATH, args: [...CHROMIUM_WEBGPU_ARGS, ...extraArgs] };
}

/**
 * The environment the scripts give Chromium, unless the caller set it: Vulkan's loader pointed at the SwiftShader
 * that Debian's chromium ships (the ICD that works for Dawn; Mesa's lavapipe is refused), and an XDG_RUNTIME_DIR,
 * whose absence only prints a harmless "XDG_RUNTIME_DIR is invalid or not set".
 */
export function setSwiftShaderEnv() {
  process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
}
