/** Shared paths and checks for the run-folder tests. */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = fileURLToPath(new URL('../fixtures/runs', import.meta.url));
/** 3 constant runs (rate 0.3, seeds 1–3) and 2 thompson runs (seeds 1–2, the second cut off). */
export const SWEEP = join(FIXTURES, 'sweep');
export const CORRUPT = join(FIXTURES, 'corrupt');
export const TRUNCATED_STEPS = join(FIXTURES, 'truncated-steps');
export const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** One hash over every file's path and bytes under `dir`: any write, creation or deletion changes it. */
export function hashTree(dir: string): string {
  const hash = createHash('sha256');
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else hash.update(relative(dir, path)).update('\0').update(readFileSync(path)).update('\0');
    }
  };
  walk(dir);
  return hash.digest('hex');
}
