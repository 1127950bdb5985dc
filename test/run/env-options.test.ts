import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DROPOUT_ENV_OPTIONS, DropoutEnv, ENV_DEFAULTS, ENV_OPTIONS } from '../../envs/dropout-env.js';
import { ConfigError } from '../../src/core/errors.js';
import { resolveRun } from '../../src/run/run.js';

/** A value of each run-settable option other than its default, that the env accepts. */
const OTHER: Record<string, unknown> = {
  model: 'mlp:16',
  batchNorm: true,
  inputDropout: true,
  l2: 0.01,
  optimizer: 'sgd',
  lr: 0.01,
  momentum: 0.5,
  batchSize: 32,
  action: 'continuous',
  rateStep: 0.1,
  maxDelta: 0.2,
  minRate: 0.05,
  maxRate: 0.7,
  initialRate: [0.2],
  reward: 'terminal',
  divergencePenalty: -2,
  testEachEpoch: true,
};

describe('env options (declared once in DROPOUT_ENV_OPTIONS)', () => {
  const out = () => path.join(mkdtempSync(path.join(tmpdir(), 'droptune-envopt-')), 'run');
  const task = { agent: 'random', dataset: 'synthetic', trainSize: 64, valSize: 32, testSize: 32 };

  it('declares every config key once, and ENV_DEFAULTS is its defaults', () => {
    const keys = DROPOUT_ENV_OPTIONS.map((o) => o.key);
    expect(new Set(keys).size).to.equal(keys.length);
    expect(Object.keys(ENV_DEFAULTS)).to.deep.equal(keys);
    expect(ENV_DEFAULTS.maxRate).to.equal(0.8);
  });

  it('gives resolveRun every run option by its run key, so a value set on the command line reaches the env', () => {
    // Concrete dropout's options apply with --concrete-dropout only (a constant agent): checked in its own tests.
    const settable = ENV_OPTIONS.map((o) => o.key).filter((k) => !k.startsWith('concrete'));
    expect(Object.keys(OTHER).sort()).to.deep.equal(settable.sort());
    const run = resolveRun({ ...task, ...OTHER, out: out() });
    for (const o of DROPOUT_ENV_OPTIONS) {
      if (o.runKey === undefined || o.key.startsWith('concrete')) continue;
      const expected = o.key === 'initialRates' ? 0.2 : OTHER[o.runKey];
      expect(run.env[o.key], o.runKey).to.deep.equal(expected);
    }
  });

  it('checks each declared range with a message naming the flag, the value and the range', () => {
    const data = { n: 0 } as never;
    for (const o of DROPOUT_ENV_OPTIONS.filter((d) => d.min !== undefined)) {
      const below = o.min! - 1;
      expect(() => new DropoutEnv(data, { [o.key]: below }), o.key)
        .to.throw(ConfigError)
        .with.property('message')
        .that.matches(new RegExp(`^${o.flag} must be .*${o.min}.*, got ${below}$`));
    }
  });
});
