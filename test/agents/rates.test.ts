import { expect } from 'chai';
import { ConfigError } from '../../src/core/errors.js';
import { createRng } from '../../src/core/rng.js';
import type { ActionMode, AgentContext, StepInfo } from '../../src/core/types.js';
import { armValues, rateGrid, towardRates } from '../../agents/rates.js';
import { SavedRng, readArray, readState } from '../../agents/state.js';
import { TargetPathEnv } from '../helpers/toy-envs.js';

const ctxFor = (
  actionMode: ActionMode,
  extra: Partial<ConstructorParameters<typeof TargetPathEnv>[0]> = {},
): AgentContext =>
  new TargetPathEnv({
    actionMode,
    numLayers: 3,
    rateStep: 0.05,
    maxDelta: 0.1,
    minRate: 0.1,
    maxRate: 0.6,
    ...extra,
  }).context(1);

const infoWith = (rates: number[]): StepInfo => ({
  epoch: 0,
  trainLoss: 1,
  trainLossStd: 0,
  trainAcc: 0,
  valLoss: 1,
  valAcc: 0,
  rates,
  diverged: false,
});

describe('towardRates', () => {
  it('gives the clamped target rate in absolute mode', () => {
    expect(towardRates([0.3, 0.05, 0.9], infoWith([0.2, 0.2, 0.2]), ctxFor('absolute'))).to.deep.equal([0.3, 0.1, 0.6]);
  });

  it('gives the delta to the target, clipped to ±maxDelta, in continuous mode', () => {
    const action = towardRates([0.35, 0.5, 0.15], infoWith([0.3, 0.2, 0.4]), ctxFor('continuous'));
    expect(action).to.deep.equal([0.05, 0.1, -0.1]);
  });

  it('steps once toward the target in discrete mode, keeping within rateStep/2', () => {
    // rateStep 0.05: 0.3 → 0.4 is up, 0.3 → 0.325 (exactly half a step) is keep, 0.3 → 0.27 is down.
    expect(towardRates([0.4, 0.325, 0.27], infoWith([0.3, 0.3, 0.3]), ctxFor('discrete'))).to.deep.equal([2, 1, 0]);
    expect(towardRates([0.3, 0.3, 0.3], infoWith([0.3, 0.3, 0.3]), ctxFor('discrete'))).to.deep.equal([1, 1, 1]);
  });

  it('clamps the target before stepping (no step toward an unreachable rate)', () => {
    // Target 0.9 is clamped to maxRate 0.6: a layer already at 0.6 keeps.
    expect(towardRates([0.9, 0], infoWith([0.6, 0.1]), ctxFor('discrete', { numLayers: 2 }))).to.deep.equal([1, 1]);
  });

  it('rejects a target of the wrong length', () => {
    expect(() => towardRates([0.3], infoWith([0.3, 0.3, 0.3]), ctxFor('absolute'))).to.throw(/3 layers/);
  });
});

describe('armValues', () => {
  it('is down/keep/up in discrete mode', () => {
    expect(armValues(ctxFor('discrete'), 0)).to.deep.equal([0, 1, 2]);
  });

  it('is −maxDelta, 0, +maxDelta from the Box in continuous mode', () => {
    expect(armValues(ctxFor('continuous'), 2)).to.deep.equal([-0.1, 0, 0.1]);
  });

  it('is the rate grid minRate..maxRate by rateStep in absolute mode', () => {
    expect(armValues(ctxFor('absolute'), 1)).to.deep.equal([
      0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6,
    ]);
  });
});

describe('rateGrid', () => {
  it('includes both ends and appends maxRate when it is off the grid', () => {
    expect(rateGrid(0, 0.5, 0.2)).to.deep.equal([0, 0.2, 0.4, 0.5]);
    expect(rateGrid(0.3, 0.3, 0.05)).to.deep.equal([0.3]);
  });

  it('refuses a step so fine the bandit would have thousands of arms', () => {
    expect(() => rateGrid(0, 0.8, 1e-5)).to.throw(ConfigError, /--rate-step/);
  });
});

describe('SavedRng', () => {
  it('continues after restore exactly where the saved stream stopped', () => {
    const a = SavedRng.from(createRng(3));
    for (let i = 0; i < 7; i++) {
      a.next();
      a.int(5);
      a.normal();
      a.seed();
    }
    const b = SavedRng.restore('test', JSON.parse(JSON.stringify(a.save())));
    const draw = (r: SavedRng) => [r.next(), r.int(10), r.normal(), r.seed(), r.fork().next()];
    expect(draw(b)).to.deep.equal(draw(a));
    expect(b.save()).to.deep.equal(a.save());
  });

  it('saves four numbers, whatever the number of draws, and reads older {seed, draws} files', () => {
    const a = SavedRng.from(createRng(5));
    for (let i = 0; i < 100_000; i++) a.next();
    const saved = a.save();
    expect(Object.keys(saved.state).sort()).to.deep.equal(['c', 's0', 's1', 's2']);
    const legacy = SavedRng.restore('test', { seed: saved.seed, draws: 100_000 });
    expect(legacy.next()).to.equal(SavedRng.restore('test', saved).next());
  });

  it('refuses to replay a huge draw count of an older file, at once', () => {
    const started = performance.now();
    expect(() => SavedRng.restore('ucb', { seed: 1, draws: 1e12 })).to.throw(
      ConfigError,
      /rng.draws must be at most 10000000/,
    );
    expect(performance.now() - started).to.be.below(1000);
  });

  it('rejects a malformed state with a ConfigError naming the field', () => {
    expect(() => SavedRng.restore('ucb', { seed: 1, draws: -2 })).to.throw(
      ConfigError,
      /--load-agent: ucb state: rng.draws/,
    );
    expect(() => SavedRng.restore('ucb', { seed: 1, state: { c: 1, s0: 'x' } })).to.throw(
      ConfigError,
      /rng.state must be/,
    );
    expect(() => SavedRng.restore('ucb', 'x')).to.throw(ConfigError, /rng must be/);
  });
});

describe('state readers', () => {
  it('check the envelope and name a bad field by its path', () => {
    expect(() => readState('ucb', [])).to.throw(ConfigError, /must be a JSON object/);
    expect(() => readState('ucb', { agent: 'thompson', version: 1 })).to.throw(
      ConfigError,
      /saved by agent "thompson", not 'ucb'/,
    );
    expect(() =>
      readArray(
        'ucb',
        'n',
        [
          [1, 2],
          [3, 'x'],
        ],
        [2, 2],
      ),
    ).to.throw(ConfigError, /n\[1\]\[1\] must be a finite number/);
    expect(() => readArray('ucb', 'n', [[1, 2]], [2, 2])).to.throw(ConfigError, /n must have 2 entries/);
  });
});
