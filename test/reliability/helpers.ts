/** What the reliability tests share: a tiny run, the CLI run as a process, and a real tmpfs. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');

/** A run of about a second on synthetic data. */
export const TINY = [
  '--dataset',
  'synthetic',
  '--train-size',
  '128',
  '--val-size',
  '64',
  '--test-size',
  '64',
  '--model',
  'mlp:16,8',
  '--batch-size',
  '32',
];

export function cli(command: string, args: string[], opts: { cwd?: string; timeout?: number } = {}) {
  return spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli', `${command}.ts`), ...args], {
    cwd: opts.cwd ?? ROOT,
    encoding: 'utf8',
    timeout: opts.timeout ?? 60_000,
  });
}

export const tempDir = (name: string) => mkdtempSync(path.join(tmpdir(), `droptune-${name}-`));

/** What a failing input must give: exactly one line on stderr, no stack trace. */
export function oneLine(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('warning:'));
}

/** A real tmpfs of `size` (as root), mounted at a new folder; `remount` changes its size. */
export function mountTmpfs(size: string): { dir: string; remount(size: string): void; unmount(): void } {
  const dir = tempDir('tmpfs');
  mkdirSync(dir, { recursive: true });
  const mount = (args: string[]) => {
    const r = spawnSync('mount', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mount ${args.join(' ')} failed (needs root): ${r.stderr}`);
  };
  mount(['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  return {
    dir,
    remount: (newSize) => mount(['-o', `remount,size=${newSize}`, dir]),
    unmount: () => {
      spawnSync('umount', [dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
