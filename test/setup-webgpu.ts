// Gives Node a `navigator.gpu` (Dawn via the `webgpu` package) before tfjs-backend-webgpu is imported:
// that backend registers itself at import time only if navigator.gpu exists. On a machine without a
// GPU, Dawn runs on the SwiftShader Vulkan driver that Debian's chromium ships.
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);
if (!process.env.VK_ICD_FILENAMES) process.env.VK_ICD_FILENAMES = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = '/tmp';
const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
if (!g.navigator) g.navigator = {};
if (!g.navigator.gpu) Object.defineProperty(g.navigator, 'gpu', { value: create([]), configurable: true });
