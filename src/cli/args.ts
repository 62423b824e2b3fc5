// Flag parsing that accepts Litestream's single-dash long flags (-config) as well as --config,
// and both "-flag value" and "-flag=value".
import { UsageError } from './errors.js';

export interface FlagSpec {
  type: 'string' | 'boolean';
  help: string;
}

export interface ParsedArgs {
  strings: Map<string, string>;
  booleans: Set<string>;
  positionals: string[];
}

export function parseArgs(command: string, argv: readonly string[], specs: Record<string, FlagSpec>): ParsedArgs {
  const out: ParsedArgs = { strings: new Map(), booleans: new Set(), positionals: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      out.positionals.push(arg);
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq === -1 ? body : body.slice(0, eq);
    const spec = specs[name];
    if (!spec) throw new UsageError(`${command}: unknown flag -${name} (see walship ${command} -h)`);
    if (spec.type === 'boolean') {
      if (eq !== -1) {
        const v = body.slice(eq + 1);
        if (v !== 'true' && v !== 'false') throw new UsageError(`${command}: -${name} takes true or false, got "${v}"`);
        if (v === 'true') out.booleans.add(name);
        else out.booleans.delete(name);
      } else {
        out.booleans.add(name);
      }
      continue;
    }
    let value: string | undefined;
    if (eq !== -1) value = body.slice(eq + 1);
    else value = argv[++i];
    if (value === undefined) throw new UsageError(`${command}: -${name} needs a value`);
    out.strings.set(name, value);
  }
  return out;
}

export function usage(command: string, synopsis: string, specs: Record<string, FlagSpec>): string {
  const lines = [`usage: walship ${command} ${synopsis}`, ''];
  for (const [name, spec] of Object.entries(specs)) {
    lines.push(`  -${name}${spec.type === 'string' ? ' VALUE' : ''}`.padEnd(30) + spec.help);
  }
  return lines.join('\n');
}
