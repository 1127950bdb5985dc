/**
 * Small validators shared by every `checkConfig`: each names the option, the value and what is allowed.
 * `name` is the option as the user typed it, e.g. `--rate`.
 */
import { ConfigError } from './errors.js';

/** A value as the user wrote it: NaN and Infinity as themselves (JSON would say null). */
export const show = (value: unknown): string =>
  typeof value === 'string'
    ? `'${value}'`
    : typeof value === 'number' || value === undefined || typeof value === 'bigint'
      ? String(value)
      : (JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)) ??
        String(value));

export function checkInt(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`;
    throw new ConfigError(`${name} must be ${range}, got ${show(value)}`);
  }
  return value;
}

/** A number in [min, max] (or [min, max) with `openMax`). */
export function checkNumber(name: string, value: unknown, min: number, max: number, openMax = false): number {
  const ok =
    typeof value === 'number' && Number.isFinite(value) && value >= min && (openMax ? value < max : value <= max);
  if (!ok) throw new ConfigError(`${name} must be in [${min}, ${max}${openMax ? ')' : ']'}, got ${show(value)}`);
  return value as number;
}

export function checkRate(name: string, value: unknown): number {
  return checkNumber(name, value, 0, 1, true);
}

export function checkOneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got ${show(value)}`);
  }
  return value as T;
}

export function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new ConfigError(`${name} must be true or false, got ${show(value)}`);
  return value;
}

export function checkString(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0)
    throw new ConfigError(`${name} must be a non-empty string, got ${show(value)}`);
  return value;
}

/** Rejects keys that no option has, so a typo never passes silently. */
export function checkKnownKeys(where: string, partial: object, known: readonly string[]): void {
  for (const key of Object.keys(partial)) {
    if (!known.includes(key)) throw new ConfigError(`${where}: unknown option '${key}' (known: ${known.join(', ')})`);
  }
}
