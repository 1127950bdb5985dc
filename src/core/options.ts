/**
 * Command-line options described once: the CLI parses them, --help lists them, checkConfig validates.
 * Values arrive as strings from argv or as JSON values from --config; `parseOptionValue` turns a
 * string into the option's type and names the option when it cannot.
 */
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
