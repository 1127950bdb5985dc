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

/** Why a write failed, for the errors a user can fix by freeing space or permissions. */
const WRITE_FAILURES: Record<string, string> = {
  ENOSPC: 'no space left on device; free space and --resume continues',
  EDQUOT: 'disk quota exceeded; free space and --resume continues',
  EROFS: 'read-only file system; make it writable and --resume continues',
  EACCES: 'permission denied; make it writable and --resume continues',
  EPERM: 'operation not permitted; make it writable and --resume continues',
};

/**
 * A file could not be written because of the disk (full, read-only, not ours): not a bug and not a
 * mistake in the options. Commands print its one line and exit 1; what was written so far is resumable.
 */
export class StorageError extends Error {
  readonly exitCode = 1;
  constructor(
    readonly file: string,
    readonly code: string,
  ) {
    super(`cannot write ${file}: ${WRITE_FAILURES[code] ?? code}`);
    this.name = 'StorageError';
  }
}

/** `err` as a StorageError about `file` when the disk refused the write; otherwise `err` itself. */
export function storageErrorOf(err: unknown, file: string): unknown {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && code in WRITE_FAILURES ? new StorageError(file, code) : err;
}
