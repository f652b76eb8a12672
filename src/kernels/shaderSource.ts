// WGSL sources from shaders/*.wgsl, the single source of truth.
// Under Vite and Vitest the files are inlined at build time (import.meta.glob with ?raw). tsx (the Node CLIs)
// has neither ?raw nor import.meta.env, so there they are read from disk with Node's fs
// (process.getBuiltinModule, Node ≥ 20.16, keeps this synchronous and out of the browser bundle).
export type ShaderName =
  | 'cross_attention'
  | 'cross_attention_weights'
  | 'flash_attention'
  | 'attention_load_f32'
  | 'attention_load_f16packed'
  | 'attention_load_f16'
  | 'pack_f16'
  | 'unpack_f16';

function readShaders(): Record<string, string> {
  if (import.meta.env) {
    const files = import.meta.glob('../../shaders/*.wgsl', { query: '?raw', import: 'default', eager: true });
    return Object.fromEntries(Object.entries(files).map(([path, text]) => [baseName(path), text as string]));
  }
  const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
  const url = process.getBuiltinModule('node:url') as typeof import('node:url');
  const dir = url.fileURLToPath(new URL(/* @vite-ignore */ '../../shaders/', import.meta.url));
  return Object.fromEntries(
    fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.wgsl'))
      .map((f) => [baseName(f), fs.readFileSync(dir + f, 'utf8')]),
  );
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1).replace(/\.wgsl$/, '');
}

const shaders = readShaders();

export function shaderSource(name: ShaderName): string {
  const text = shaders[name];
  if (text === undefined) {
    throw new Error(`shaderSource: shaders/${name}.wgsl not found (have: ${Object.keys(shaders).join(', ')})`);
  }
  return text;
}
