// A small, strict argv parser shared by the CLIs: known flags only, typed values, clear errors.
import { DEFAULT_RUN_SETTINGS, modeProblems, problemMessage } from '../engine/settings';
import { errorClass } from '../errors';

export interface FlagSpec {
  type: 'string' | 'number' | 'boolean' | 'list';
  help: string;
  default?: string | number | boolean;
  /** A source consulted before `default` (help text: "default: <defaultFrom>, else <default>"). */
  defaultFrom?: string;
  choices?: string[];
}

export type ParsedArgs = { _: string[] } & Record<string, string | number | boolean | string[] | undefined>;

export class UsageError extends errorClass('UsageError') {}

export function parseArgs(argv: string[], spec: Record<string, FlagSpec>): ParsedArgs {
  const out: ParsedArgs = { _: [] };
  for (const [k, s] of Object.entries(spec)) if (s.default !== undefined) out[k] = s.default;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      out._.push(a);
      continue;
    }
    const [name, inline] = a.slice(2).split(/=(.*)/s, 2);
    const s = spec[name];
    if (!s) throw new UsageError(`unknown option --${name}`);
    if (s.type === 'boolean') {
      out[name] = true;
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    if (s.choices && !s.choices.includes(value)) throw new UsageError(`--${name} must be one of ${s.choices.join(', ')} (got '${value}')`);
    if (s.type === 'number') {
      // Number('') is 0: an empty value must not pass as a zero.
      if (value.trim() === '') throw new UsageError(`--${name} needs a number (got nothing)`);
      const n = Number(value);
      if (!Number.isFinite(n)) throw new UsageError(`--${name} needs a number (got '${value}')`);
      out[name] = n;
    } else if (s.type === 'list') {
      out[name] = [...((out[name] as string[] | undefined) ?? []), value];
    } else out[name] = value;
  }
  return out;
}

export function usage(command: string, synopsis: string, spec: Record<string, FlagSpec>): string {
  const lines = Object.entries(spec).map(([k, s]) => {
    const def =
      s.default === undefined || s.type === 'boolean'
        ? ''
        : s.defaultFrom
          ? ` (default: ${s.defaultFrom}, else ${s.default})`
          : ` (default ${s.default})`;
    const arg = s.type === 'boolean' ? '' : s.choices ? ` <${s.choices.join('|')}>` : ' <value>';
    return `  --${k}${arg}\n      ${s.help}${def}`;
  });
  return `usage: ${command} ${synopsis}\n\noptions:\n${lines.join('\n')}\n`;
}

/** Help text of the flags a model's config.sampling supplies when they are not typed (src/cli/samplingDefaults.ts). */
export const MODEL_DEFAULT = "the model's config.sampling when its bundle has one";

/** --init / --strength / --guidance, shared by decode and eval (DecodeOptions.init / strength / guidance). */
export const DECODE_MODE_SPEC: Record<string, FlagSpec> = {
  init: {
    defaultFrom: MODEL_DEFAULT,
    type: 'string',
    choices: ['noise', 'lowlevel'],
    default: DEFAULT_RUN_SETTINGS.init,
    help: "where sampling starts: noise (x_T) or lowlevel (img2img from the model's fMRI-predicted low-level latent; needs a model with a low-level decoder)",
  },
  strength: {
    defaultFrom: MODEL_DEFAULT,
    type: 'number',
    default: DEFAULT_RUN_SETTINGS.strength,
    help: 'img2img strength in (0, 1]: noise the low-level latent to the step nearest t = strength·T and run only the remaining steps; < 1 needs --init lowlevel',
  },
  guidance: {
    defaultFrom: MODEL_DEFAULT,
    type: 'number',
    default: DEFAULT_RUN_SETTINGS.guidance,
    help: 'classifier-free guidance scale g, a finite number ≥ 0: ε_u + g·(ε_c − ε_u); 1 = off, 0 = unconditional; ≠ 1 needs a model with a null context',
  },
};

/** The validated --init / --strength / --guidance values (run-settings rules, src/engine/settings.ts); UsageError naming the flag otherwise. */
export function decodeMode(args: Record<string, unknown>): { init: 'noise' | 'lowlevel'; strength: number; guidance: number } {
  const d = DEFAULT_RUN_SETTINGS;
  const mode = {
    init: String(args.init ?? d.init),
    strength: Number(args.strength ?? d.strength),
    guidance: Number(args.guidance ?? d.guidance),
  };
  const [bad] = modeProblems(mode);
  if (bad) throw new UsageError(problemMessage(bad, `--${bad.field}`));
  return mode as { init: 'noise' | 'lowlevel'; strength: number; guidance: number };
}
