import { expect } from 'chai';
import path from 'node:path';
import { PoolExecutor, workerExecArgv } from '../../src/execution/executor.js';
import type { Job } from '../../src/execution/job.js';
import { settle, within } from './helpers.js';

const fixture = (name: string) => path.join(import.meta.dirname, 'fixtures', name);

describe('workerExecArgv', () => {
  it("passes the parent's tsx loader on, and adds one for a .ts worker when the parent has none", () => {
    expect(workerExecArgv('/w.ts', ['--import', 'tsx'])).to.deep.equal(['--import', 'tsx']);
    expect(
      workerExecArgv('/w.ts', [
        '--require',
        '/x/node_modules/tsx/dist/preflight.cjs',
        '--import',
        'file:///x/node_modules/tsx/dist/loader.mjs',
      ]),
    ).to.have.length(4);
    expect(workerExecArgv('/w.ts', ['--max-old-space-size=4096'])).to.deep.equal([
      '--max-old-space-size=4096',
      '--import',
      'tsx',
    ]);
    expect(workerExecArgv('/w.js', [])).to.deep.equal([]);
    // what this very test runs under (mocha's node-option import=tsx) reaches the workers unchanged
    expect(workerExecArgv('/w.ts')).to.deep.equal(process.execArgv);
  });
});

describe('PoolExecutor with a worker that fails', () => {
  it('fails a job that throws, and one whose worker exits, with their one-line errors; the other jobs finish', async () => {
    const pool = new PoolExecutor({ workers: 2, filename: fixture('faulty-worker.ts') });
    try {
      const jobs = ['a', 'throw', 'b', 'exit', 'c', 'd'].map((name): Job => ({
        options: {},
        seed: 0,
        out: `/runs/${name}`,
      }));
      expect(await within(30_000, settle(pool, jobs))).to.deep.equal([
        'done /runs/a',
        'failed: injected failure in throw',
        'done /runs/b',
        'failed: worker exited with code: 7',
        'done /runs/c',
        'done /runs/d',
      ]);
    } finally {
      await pool.close();
    }
  });

  for (const [file, message] of [
    // piscina retries a file that failed to load as ESM, whose error ("Unknown file extension") is the one
    // reported: why src/execution/pool-thread.ts catches its own load errors and throws them from each task
    ['throws-at-import-worker.ts', /failed: (worker pool failed: )?Unknown file extension ".ts"/],
    [
      'exits-at-import-worker.ts',
      /failed: (worker exited with code: 3|worker pool failed: every worker thread exited while starting)/,
    ],
  ] as const) {
    it(`does not hang when every worker dies as it loads (${file})`, async () => {
      const pool = new PoolExecutor({ workers: 2, filename: fixture(file) });
      try {
        const jobs = [1, 2, 3, 4, 5].map((i): Job => ({ options: {}, seed: 0, out: `/runs/${i}` }));
        const settled = await within(30_000, settle(pool, jobs));
        for (const line of settled) expect(line).to.match(message);
      } finally {
        await pool.close();
      }
    });
  }
});
