import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { readRun } from '../../src/runs/read-run.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

describe('examples/own-model (the README\'s "Your own model")', () => {
  it('runs: the fit callback writes a run compare reads, and the saved model trains as the env', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'droptune-example-own-model-'));
    try {
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'examples/own-model.ts', dir], { cwd: REPO });
      const run = readRun(path.join(dir, 'fit')).value;
      expect(run.config.options['agent']).to.equal('plateau');
      expect(run.episodes).to.have.length(1);
      expect(run.steps.map((s) => s.epoch)).to.deep.equal([1, 2, 3, 4, 5]);
      // the rates the log says each epoch trained at are the ones the example prints
      expect(stdout).to.include(`rates per epoch ${JSON.stringify(run.episodes[0]!.schedule)}`);
      expect(stdout).to.match(/env: \S+, \S+ tuned, episode valAcc 0\.\d{3}, schedule \[\[0\.4,0\.4\],\[0\.25,0\.25\],\[0\.1,0\.1\]\]/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
