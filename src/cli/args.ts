// A small, strict argv parser shared by the CLIs: known flags only, typed values, clear errors.
export interface FlagSpec {
  type: 'string' | 'number' | 'boolean' | 'list';
  help: string;
  default?: string | number | boolean;
  choices?: string[];
}

export type ParsedArgs = { _: string[] } & Record<string, string | number | boolean | string[] | undefined>;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function parseArgs(argv: string[], spec: Record<string, FlagSpec>): ParsedArgs {
  const out: ParsedArgs = { _: [] };
  for (const [k, s] of Object.entries(spec)) if (s.default !== undefined) out[k] = s.default;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) { out._.push(a); continue; }
    const [name, inline] = a.slice(2).split(/=(.*)/s, 2);
    const s = spec[name];
    if (!s) throw new UsageError(`unknown option --${name}`);
    if (s.type === 'boolean') { out[name] = true; continue; }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    if (s.choices && !s.choices.includes(value)) throw new UsageError(`--${name} must be one of ${s.choices.join(', ')} (got '${value}')`);
    if (s.type === 'number') {
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
    const def = s.default !== undefined && s.type !== 'boolean' ? ` (default ${s.default})` : '';
    const arg = s.type === 'boolean' ? '' : s.choices ? ` <${s.choices.join('|')}>` : ' <value>';
    return `  --${k}${arg}\n      ${s.help}${def}`;
  });
  return `usage: ${command} ${synopsis}\n\noptions:\n${lines.join('\n')}\n`;
}
