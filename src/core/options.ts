/**
 * Command-line options described once: the CLI parses them, --help lists them, checkConfig validates.
 * Values arrive as strings from argv or as JSON values from --config; `parseOptionValue` turns a
 * string into the option's type and names the option when it cannot.
 */
import { checkBoolean, checkInt, checkNumber, checkOneOf, checkString } from './check.js';
import { ConfigError } from './errors.js';

export type OptionType = 'number' | 'int' | 'string' | 'boolean' | 'numbers';

export interface OptionSpec {
  /** Key in the config object, e.g. `trainSize`. */
  key: string;
  /** As typed on the command line, e.g. `--train-size`. */
  flag: string;
  type: OptionType;
  default: unknown;
  help: string;
  /** For strings with a fixed set of values. */
  choices?: readonly string[];
  /** The smallest value allowed (numbers, ints). */
  min?: number;
  /** The largest value allowed (numbers, ints); excluded with `openMax`. */
  max?: number;
  openMax?: boolean;
}

/**
 * Checks `value` against the spec's type, range and choices; the message names the spec's flag, the
 * value and what is allowed. Numbers without a range must merely be finite.
 */
export function checkOption(spec: OptionSpec, value: unknown): unknown {
  switch (spec.type) {
    case 'int':
      return checkInt(spec.flag, value, spec.min ?? Number.MIN_SAFE_INTEGER, spec.max);
    case 'number':
      return checkNumber(spec.flag, value, spec.min ?? -Number.MAX_VALUE, spec.max ?? Number.MAX_VALUE, spec.openMax);
    case 'boolean':
      return checkBoolean(spec.flag, value);
    case 'string':
      return spec.choices ? checkOneOf(spec.flag, value, spec.choices) : checkString(spec.flag, value);
    case 'numbers':
      if (!Array.isArray(value)) throw new ConfigError(`${spec.flag} must be a list of numbers, got ${String(value)}`);
      return value.map((v) =>
        checkNumber(spec.flag, v, spec.min ?? -Number.MAX_VALUE, spec.max ?? Number.MAX_VALUE, spec.openMax),
      );
  }
}

/** `trainSize` → `--train-size`. */
export function flagOf(key: string): string {
  return '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

export function parseOptionValue(spec: OptionSpec, text: string): unknown {
  const number = (t: string) => {
    const v = Number(t);
    if (t.trim() === '' || !Number.isFinite(v)) throw new ConfigError(`${spec.flag} must be a number, got '${text}'`);
    return v;
  };
  switch (spec.type) {
    case 'number':
      return number(text);
    case 'int': {
      const v = number(text);
      if (!Number.isInteger(v)) throw new ConfigError(`${spec.flag} must be an integer, got '${text}'`);
      return v;
    }
    case 'numbers':
      return text.split(',').map(number);
    case 'boolean':
      if (text === 'true') return true;
      if (text === 'false') return false;
      throw new ConfigError(`${spec.flag} must be true or false, got '${text}'`);
    case 'string':
      if (spec.choices && !spec.choices.includes(text)) {
        throw new ConfigError(`${spec.flag} must be one of ${spec.choices.join(', ')}, got '${text}'`);
      }
      return text;
  }
}

/** Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of neighbours. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The known flag nearest to a mistyped one, if one is near enough to be what was meant: within a third
 * of its length in edits (at least 2), or the only known flag it is the start of (`--val` → `--val-size`).
 */
export function nearestFlag(flag: string, known: readonly string[]): string | undefined {
  const name = flag.replace(/^-+/, '');
  let best: { flag: string; distance: number } | undefined;
  for (const k of known) {
    const distance = editDistance(name, k.replace(/^-+/, ''));
    if (!best || distance < best.distance) best = { flag: k, distance };
  }
  if (best && best.distance <= Math.max(2, Math.floor(name.length / 3))) return best.flag;
  const extending = known.filter((k) => k.startsWith(`--${name}`));
  return extending.length === 1 ? extending[0] : undefined;
}

/** The known key nearest to a mistyped one (`agnet` → `agent`), by nearestFlag's rule. */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  return nearestFlag(
    `--${key}`,
    known.map((k) => `--${k}`),
  )?.slice(2);
}

/**
 * A message written for the command line, in code's terms: each `--flag` of `specs` becomes its key
 * (`--train-size` → `trainSize`), so an error raised from code names what the code wrote.
 */
export function inCodeTerms(message: string, specs: readonly Pick<OptionSpec, 'key' | 'flag'>[]): string {
  const keyOf = new Map(specs.map((s) => [s.flag, s.key]));
  return message.replace(/--[a-z][a-z0-9-]*/g, (flag) => keyOf.get(flag) ?? flag);
}
