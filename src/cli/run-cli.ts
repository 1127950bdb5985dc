/**
 * Entry-point wrapper shared by every command: a ConfigError (a user mistake) prints one line and
 * exits 2; anything else is a bug and prints its stack. Exiting explicitly also keeps the wasm
 * module's own uncaught-exception handler from dumping its source on an error.
 */
import { ConfigError } from '../core/errors.js';

export function runCli(command: string, main: (argv: string[]) => Promise<number>): void {
  main(process.argv.slice(2))
    .then((code) => process.exit(code))
    .catch((err: unknown) => {
      if (err instanceof ConfigError) {
        process.stderr.write(`${command}: ${err.message}\n`);
        process.exit(err.exitCode);
      }
      process.stderr.write(`${command}: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    });
}
