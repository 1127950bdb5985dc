import { expect } from 'chai';
import path from 'node:path';
import { ProcessExecutor } from '../../src/execution/process-executor.js';
import type { Job } from '../../src/execution/job.js';
import { settle, within } from './helpers.js';

const fixture = (name: string) => path.join(import.meta.dirname, 'fixtures', name);
const jobsNamed = (names: string[]) => names.map((name): Job => ({ options: {}, seed: 0, out: `/runs/${name}` }));

describe('ProcessExecutor with a worker that fails', () => {
  it('fails a job that throws, and one whose process exits, with their one-line errors; the other jobs finish', async () => {
    const executor = new ProcessExecutor({ workers: 2, filename: fixture('faulty-worker.ts') });
    try {
      // the process that exits is replaced: the jobs after it still have two workers
      expect(
        await within(30_000, settle(executor, jobsNamed(['a', 'throw', 'b', 'exit', 'c', 'd', 'e']))),
      ).to.deep.equal([
        'done /runs/a',
        'failed: injected failure in throw',
        'done /runs/b',
        'failed: worker process exited with code 7',
        'done /runs/c',
        'done /runs/d',
        'done /runs/e',
      ]);
    } finally {
      await executor.close();
    }
  });

  for (const [file, message] of [
    ['throws-at-import-worker.ts', 'injected: this worker fails at import'],
    ['exits-at-import-worker.ts', 'code 3'],
  ] as const) {
    it(`fails every job with one line when every worker dies as it starts (${file})`, async () => {
      const executor = new ProcessExecutor({ workers: 2, filename: fixture(file) });
      try {
        const settled = await within(30_000, settle(executor, jobsNamed(['1', '2', '3'])));
        expect(settled).to.deep.equal(
          Array(3).fill(`failed: worker processes failed: every one exited while starting (${message})`),
        );
      } finally {
        await executor.close();
      }
    });
  }
});
