/** A folder of runs for the dashboard tests, and raw HTTP requests that keep their path as written. */
import { cpSync, mkdtempSync, writeFileSync, mkdirSync, appendFileSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { FIXTURES } from '../helpers/run-fixtures.js';

/**
 * A temporary copy of test/fixtures/runs (sweep/ with 5 runs, truncated-steps/, corrupt/) plus an
 * experiment exp/ (experiment.json and one run) and live/: thompson-s2's config and first 7 steps with
 * no episode finished, a run in progress to which a test appends. 9 runs, one of them malformed.
 */
export function runsFolder(): { root: string; live: string; stepLines: string[] } {
  const root = mkdtempSync(join(tmpdir(), 'droptune-dashboard-'));
  cpSync(FIXTURES, root, { recursive: true });
  const live = join(root, 'live');
  mkdirSync(live);
  const source = join(FIXTURES, 'sweep', 'thompson-s2');
  writeFileSync(join(live, 'config.json'), readFileSync(join(source, 'config.json')));
  const stepLines = readFileSync(join(source, 'steps.jsonl'), 'utf8').trim().split('\n');
  writeFileSync(
    join(live, 'steps.jsonl'),
    stepLines
      .slice(0, 2)
      .map((l) => l + '\n')
      .join(''),
  );
  const exp = join(root, 'exp');
  cpSync(join(FIXTURES, 'sweep', 'constant-s1'), join(exp, 'runs', 's0', 'grid-r30'), { recursive: true });
  writeFileSync(join(exp, 'experiment.json'), JSON.stringify(EXPERIMENT, null, 2));
  return { root, live, stepLines };
}

/** Appends one step line to a run's steps.jsonl, as RunWriter does. */
export const appendStep = (dir: string, line: string): void => appendFileSync(join(dir, 'steps.jsonl'), line + '\n');

const schedule = (rate: number) => [
  [rate, rate],
  [rate, rate],
  [rate, rate],
];
/**
 * Two seeds, grid against curriculum: curriculum − grid in test accuracy is +0.02 and +0.04, mean
 * +0.03, half-width t(0.975, 1) · s/√2 = 12.706 · 0.01414/1.414 = 0.127: "+3.00 ± 12.71" points, no
 * detectable difference.
 */
export const EXPERIMENT = {
  preset: 'quick',
  config: { dataset: 'synthetic', model: 'mlp:16,8', seeds: 2, folds: 1, epochs: 3 },
  picks: [
    {
      method: 'grid',
      seed: 0,
      valAcc: 0.8,
      testAcc: 0.8,
      epochs: 9,
      schedule: schedule(0.3),
      from: 'exp/runs/s0/grid-r30#0',
    },
    { method: 'curriculum', seed: 0, valAcc: 0.81, testAcc: 0.82, epochs: 9, schedule: schedule(0.1), from: 'x#0' },
    { method: 'grid', seed: 1, valAcc: 0.79, testAcc: 0.78, epochs: 9, schedule: schedule(0.3), from: 'y#0' },
    { method: 'curriculum', seed: 1, valAcc: 0.83, testAcc: 0.82, epochs: 9, schedule: schedule(0.2), from: 'z#0' },
  ],
  // the grid of one rate, and curriculum at its 9 epochs (src/experiment/compute.ts)
  compute: [
    {
      series: 'grid',
      label: 'grid, 1 of 1 rates',
      rates: 1,
      epochs: 9,
      testAcc: { n: 2, mean: 0.79, std: 0.01414, half: 0.127, level: 0.95 },
    },
    {
      series: 'curriculum',
      label: 'curriculum',
      epochs: 9,
      testAcc: { n: 2, mean: 0.82, std: 0, half: 0, level: 0.95 },
    },
  ],
};

/** GET (or another method) with the path sent exactly as given: no client-side normalizing of `..`. */
export function rawRequest(
  port: number,
  path: string,
  opts: { method?: string; host?: string } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: opts.method ?? 'GET',
        headers: { host: opts.host ?? `127.0.0.1:${port}` },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}
