/**
 * Entry-point wrapper shared by every command: a ConfigError (a user mistake) prints one line and
 * exits 2; anything else is a bug and prints its stack. Exiting explicitly also keeps the wasm
 * module's own uncaught-exception handler from dumping its source on an error.
 */
import { ConfigError, StorageError } from '../core/errors.js';

let outputGuarded = false;

/**
 * Output must never kill a run: a reader that goes away (`| head`) makes the next write fail with
 * EPIPE, and an 'error' event nobody listens to ends the process (through the wasm module's handler,
 * with its source on stderr). The first error on stdout or stderr silences that stream for good:
 * later writes are dropped, their callbacks still called, and the command goes on to its own exit code.
 */
export function dropOutputOnError(): void {
  if (outputGuarded) return;
  outputGuarded = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', () => {
      stream.write = ((_chunk: unknown, encodingOrDone?: unknown, done?: unknown): boolean => {
        const callback = typeof encodingOrDone === 'function' ? encodingOrDone : done;
        if (typeof callback === 'function') process.nextTick(callback as () => void);
        return true;
      }) as typeof stream.write;
    });
  }
}

/** Prints what ended the command (one line for a user's mistake or a full disk) and exits. */
function exitOn(command: string, err: unknown): never {
  if (err instanceof ConfigError || err instanceof StorageError) {
    process.stderr.write(`${command}: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  process.stderr.write(
    `${command}: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
}

export function runCli(command: string, main: (argv: string[]) => Promise<number>): void {
  dropOutputOnError();
  // An error thrown outside main's promise (a stream callback) ends the command the same way, before the
  // wasm module's own handler (registered later, when the backend starts) can print its source.
  process.on('uncaughtException', (err) => exitOn(command, err));
  process.on('unhandledRejection', (err) => exitOn(command, err));
  main(process.argv.slice(2))
    .then((code) => process.exit(code))
    .catch((err: unknown) => exitOn(command, err));
}
