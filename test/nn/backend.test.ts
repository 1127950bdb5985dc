import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ConfigError } from '../../src/core/errors.js';
import { BACKEND_ENV_VAR, availableBackends, initBackend, requestedBackend } from '../../src/nn/backend.js';

describe('backend selection', () => {
  const saved = process.env[BACKEND_ENV_VAR];
  afterEach(() => {
    if (saved === undefined) delete process.env[BACKEND_ENV_VAR];
    else process.env[BACKEND_ENV_VAR] = saved;
  });

  it('takes --backend first, then DROPTUNE_BACKEND, else auto', () => {
    delete process.env[BACKEND_ENV_VAR];
    expect(requestedBackend()).to.equal('auto');
    process.env[BACKEND_ENV_VAR] = 'cpu';
    expect(requestedBackend()).to.equal('cpu');
    expect(requestedBackend('wasm')).to.equal('wasm');
  });

  it('names where a bad backend came from', () => {
    process.env[BACKEND_ENV_VAR] = 'gpu';
    expect(() => requestedBackend()).to.throw(
      ConfigError,
      "DROPTUNE_BACKEND must be one of auto, tensorflow, wasm, cpu, got 'gpu'",
    );
    expect(() => requestedBackend('tpu')).to.throw(
      ConfigError,
      "--backend must be one of auto, tensorflow, wasm, cpu, got 'tpu'",
    );
  });

  it('switches between the backends that start, and says why one cannot', async () => {
    const before = tf.getBackend();
    const available = await availableBackends();
    expect(available).to.include('cpu');
    expect(tf.getBackend(), 'probing leaves the backend as it was').to.equal(before);
    for (const name of available) expect(await initBackend(name)).to.equal(name);
    if (!available.includes('tensorflow')) {
      try {
        await initBackend('tensorflow');
        expect.fail('tensorflow started although it was not available');
      } catch (err) {
        expect(err).to.be.instanceOf(ConfigError);
        expect((err as Error).message).to.match(/^--backend tensorflow is not available: .*; available: /);
      }
    }
    await initBackend(before as 'wasm');
  });

  it("drops tfjs's Node.js greeting on the cpu backend and keeps its real warnings", () => {
    const root = path.resolve(import.meta.dirname, '../..');
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/helpers/tfjs-warnings.ts'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).to.equal(0);
    const output = r.stdout + r.stderr;
    expect(output).to.not.include('looks like you are running TensorFlow.js in Node.js');
    expect(output).to.include('Platform node has already been set');
  });
});
