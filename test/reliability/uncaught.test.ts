import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { tune } from '../../src/api/tune.js';
import { ROOT, tempDir } from './helpers.js';

describe('errors outside a promise', () => {
  it('an uncaught error after the wasm backend started prints its own stack, not the module source', () => {
    const script = `
      import { initBackend } from './src/nn/backend.ts';
      await initBackend('wasm');
      setTimeout(() => { throw new Error('boom from a callback'); }, 0);`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).to.not.equal(0);
    expect(r.stderr).to.include('boom from a callback');
    expect(r.stderr.length, 'stderr holds the minified wasm module').to.be.below(4000);
  });

  it('tune() rejects with the error an onEvent callback throws, and nothing is left unhandled', async () => {
    const unhandled: unknown[] = [];
    const record = (err: unknown) => unhandled.push(err);
    process.on('uncaughtException', record);
    try {
      const failure = await tune({
        agent: 'constant',
        dataset: 'synthetic',
        trainSize: 64,
        valSize: 32,
        testSize: 32,
        model: 'mlp:8',
        episodes: 2,
        epochs: 2,
        out: `${tempDir('on-event')}/run`,
        onEvent: (event) => {
          if (event.type === 'step') throw new Error('the callback failed');
        },
      }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(failure).to.be.instanceOf(Error);
      expect((failure as Error).message).to.equal('the callback failed');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).to.deep.equal([]);
    } finally {
      process.removeListener('uncaughtException', record);
    }
  });
});
