/**
 * Command-line parsing against OptionSpec lists: `--key value`, `--key=value`, a bare boolean flag
 * (`--batch-norm`) and its negation (`--no-batch-norm`), positional arguments, and `--config FILE` (a
 * JSON object with the same options, keyed as the flag without dashes or in camelCase). The command
 * line wins over the file. An unknown option gets the nearest known one as a suggestion.
 */
import { readFileSync } from 'node:fs';
import { show } from '../core/check.js';
import { ConfigError } from '../core/errors.js';
import { nearestFlag, parseOptionValue, type OptionSpec } from '../core/options.js';

export interface ParsedArgs {
  /** Options given explicitly, by key, already typed. */
  values: Record<string, unknown>;
  positional: string[];
  help: boolean;
}

function typeOk(spec: OptionSpec, value: unknown): boolean {
  switch (spec.type) {
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'int':
      return typeof value === 'number' && Number.isInteger(value);
    case 'numbers':
      return (
        (typeof value === 'number' && Number.isFinite(value)) ||
        (Array.isArray(value) && value.every((v) => typeof v === 'number' && Number.isFinite(v)))
      );
    case 'boolean':
      return typeof value === 'boolean';
    case 'string':
      return typeof value === 'string' && (!spec.choices || spec.choices.includes(value));
  }
}

/** Reads a --config file into typed values, naming the file and key on any mistake. */
export function readConfigFile(file: string, specs: readonly OptionSpec[]): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'is a folder, not a JSON file'
          : code !== undefined
            ? `cannot be read (${code})`
            : 'not valid JSON';
    throw new ConfigError(`--config ${file}: ${why}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new ConfigError(`--config ${file}: must hold a JSON object`);
  const values: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(parsed)) {
    const spec = specs.find((s) => s.key === name || s.flag === `--${name}`);
    if (!spec || spec.key === 'config') {
      const near = nearestFlag(
        name,
        specs.filter((s) => s.key !== 'config').map((s) => s.key),
      );
      throw new ConfigError(`--config ${file}: unknown option '${name}'${near ? `: did you mean '${near}'?` : ''}`);
    }
    if (!typeOk(spec, value)) {
      const allowed = spec.choices
        ? `one of ${spec.choices.join(', ')}`
        : `a ${spec.type === 'int' ? 'whole number' : spec.type === 'number' ? 'finite number' : spec.type}`;
      throw new ConfigError(
        `--config ${file}: '${name}' must be ${allowed}, got ${typeof value === 'number' ? show(value) : JSON.stringify(value)}`,
      );
    }
    values[spec.key] = spec.type === 'numbers' && typeof value === 'number' ? [value] : value;
  }
  return values;
}

/** `unknown option --epoch: did you mean --epochs? (see --help)` */
export function unknownOption(flag: string, known: readonly string[], hint = '(see --help)'): ConfigError {
  const near = nearestFlag(flag, known);
  return new ConfigError(`unknown option ${flag}${near ? `: did you mean ${near}?` : ''} ${hint}`);
}

/** Every flag a spec list accepts, negations of booleans included. */
export function knownFlags(specs: readonly OptionSpec[]): string[] {
  return [...specs.map((s) => s.flag), ...specs.filter((s) => s.type === 'boolean').map(negationOf), '--help'];
}

/** `--per-epoch` → `--no-per-epoch`. */
const negationOf = (spec: OptionSpec): string => `--no-${spec.flag.slice(2)}`;

export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[]): ParsedArgs {
  const fromLine: Record<string, unknown> = {};
  const positional: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const spec = specs.find((s) => s.flag === flag);
    const negated = spec ? undefined : specs.find((s) => s.type === 'boolean' && negationOf(s) === flag);
    if (negated) {
      if (eq !== -1) throw new ConfigError(`${flag} takes no value (it sets ${negated.flag} to false)`);
      fromLine[negated.key] = false;
      continue;
    }
    if (!spec) throw unknownOption(flag, knownFlags(specs));
    let text: string;
    if (eq !== -1) text = arg.slice(eq + 1);
    else if (spec.type === 'boolean' && (argv[i + 1] === undefined || !['true', 'false'].includes(argv[i + 1]!)))
      text = 'true';
    else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new ConfigError(`${flag} needs a value`);
      text = next;
      i += 1;
    }
    fromLine[spec.key] = parseOptionValue(spec, text);
  }
  const file = fromLine['config'];
  const fromFile = typeof file === 'string' ? readConfigFile(file, specs) : {};
  return { values: { ...fromFile, ...fromLine }, positional, help };
}

/** --help text: one line per option with its default; a boolean as `--flag / --no-flag`. */
export function helpText(usage: string, groups: { title: string; specs: readonly OptionSpec[] }[]): string {
  const lines = [usage, ''];
  for (const { title, specs } of groups) {
    if (specs.length === 0) continue;
    lines.push(`${title}:`);
    for (const s of specs) {
      const value =
        s.type === 'boolean' ? ` / ${negationOf(s)}` : s.choices ? ` <${s.choices.join('|')}>` : ` <${s.type}>`;
      const shown =
        s.type === 'boolean'
          ? s.default === true
            ? 'on'
            : s.default === false
              ? 'off'
              : undefined
          : Array.isArray(s.default)
            ? s.default.join(',')
            : s.default === undefined
              ? undefined
              : String(s.default);
      const def = shown === undefined ? '' : ` (default: ${shown})`;
      lines.push(`  ${(s.flag + value).padEnd(34)} ${s.help}${def}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
