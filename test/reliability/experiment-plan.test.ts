import { expect } from 'chai';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../src/core/errors.js';
import { PLAN_FILE, checkSavedPlan, checkExperimentConfig } from '../../src/experiment/experiment.js';
import { EXPERIMENT_LOCK } from '../../src/store/run-folder.js';
import { cli, oneLine, tempDir } from './helpers.js';

describe('experiment-plan.json on --resume', () => {
  const file = '/x/experiment-plan.json';
  const saved = (() => {
    const { resume: _r, workers: _w, ...rest } = checkExperimentConfig({ preset: 'quick', out: '/x' });
    return rest;
  })();

  it('is validated as strictly as --config: an object, known keys, the keys every plan has, typed values', () => {
    expect(checkSavedPlan(saved, file)).to.deep.equal(saved);
    for (const [value, why] of [
      [{ x: 1 }, `${file}: unknown key 'x'`],
      [[], `${file}: must hold a JSON object`],
      [null, `${file}: must hold a JSON object`],
      [{ ...saved, preset: undefined }, `${file}: missing 'preset' (every plan records it)`],
      [{ ...saved, seeds: 'two' }, `${file}: --seeds must be an integer in [1, 100], got 'two'`],
      [{ ...saved, options: 3 }, `${file}: 'options' must be an object of run options, got 3`],
      [{ ...saved, grid: [0.1, 7] }, `${file}: --grid must be in [0, 1), got 7`],
    ] as const) {
      expect(() => checkSavedPlan(value, file), JSON.stringify(value)).to.throw(ConfigError, why);
    }
  });

  it('experiment --resume of a folder whose plan is {"x":1} fails with one line and trains nothing', () => {
    const dir = path.join(tempDir('plan'), 'exp');
    mkdirSync(dir);
    writeFileSync(path.join(dir, PLAN_FILE), '{"x":1}');
    const r = cli('experiment', ['--resume', dir]);
    expect(r.status).to.equal(2);
    expect(oneLine(r.stderr)).to.deep.equal([
      `experiment: --resume ${dir}: ${path.join(dir, PLAN_FILE)}: unknown key 'x'`,
    ]);
  });
});

describe('experiment lock', () => {
  it('a second coordinator on the same --out is refused in one line while the first holds it', () => {
    const dir = path.join(tempDir('exp-lock'), 'exp');
    mkdirSync(dir);
    // the lock of a live process on this host: this test's own
    writeFileSync(path.join(dir, EXPERIMENT_LOCK), JSON.stringify({ pid: process.pid, hostname: hostname() }));
    const r = cli('experiment', ['--preset', 'quick', '--seeds', '1', '--dataset', 'synthetic', '--out', dir]);
    expect(r.status).to.equal(2);
    expect(oneLine(r.stderr)).to.deep.equal([
      `experiment: --out ${dir} is being written by process ${process.pid}: wait for it to end or stop it; if no process writes it any more, delete ${path.join(dir, EXPERIMENT_LOCK)}`,
    ]);
    expect(readdirSync(dir)).to.deep.equal([EXPERIMENT_LOCK]);
  });
});
