/**
 * A mistake in what the user asked for (an option, a file, a value).
 * Command-line entry points print its one-line message and exit with `exitCode`; no stack trace.
 */
export class ConfigError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Throws a ConfigError unless `ok`. */
export function require_(ok: boolean, message: string): asserts ok {
  if (!ok) throw new ConfigError(message);
}
