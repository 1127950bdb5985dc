/**
 * The folder droptune is installed in (the one holding its package.json), from wherever this file
 * runs: src/core/ under tsx in development, dist/src/core/ in the published package. Files shipped
 * beside the code (policies/, package.json) are found from here, never relative to a source file.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

export function packageRoot(): string {
  if (root !== undefined) return root;
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === 'droptune')
      return (root = dir);
    if (path.dirname(dir) === dir)
      throw new Error(`droptune's package.json was not found above ${fileURLToPath(import.meta.url)}`);
  }
}

/** droptune's own version, from its package.json. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}
