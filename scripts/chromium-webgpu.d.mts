// Types of chromium-webgpu.mjs (plain JavaScript, for `node scripts/measure-studio.mjs`), for the TypeScript importers.
export declare const CHROMIUM_PATH: string;
export declare const CHROMIUM_WEBGPU_ARGS: readonly string[];
export declare function chromiumLaunchOptions(extraArgs?: readonly string[]): { executablePath: string; args: string[] };
export declare function setSwiftShaderEnv(): void;
