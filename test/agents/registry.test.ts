/** Every agent in the registry, in every mode it supports: the contract the CLI relies on. */
import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { ConfigError } from '../../src/core/errors.js';
import type { OptionSpec } from '../../src/core/options.js';
import type { Agent } from '../../src/core/types.js';
import { AGENTS, agentNames, checkAgentOptions } from '../../agents/index.js';
import { checkActionMode } from '../../agents/entry.js';
import { schedulerFor } from '../../src/schedulers/index.js';
import { checkEnv } from '../helpers/check_env.js';
import { TargetPathEnv } from '../helpers/toy-envs.js';
import { runEpisodes } from './harness.js';

/** Agents whose actions depend on their random stream; the others are deterministic given the env. */
const STOCHASTIC = new Set(['random', 'epsilon-greedy', 'ucb', 'thompson', 'linucb', 'reinforce']);

const disposeAll = (...agents: Agent[]) => agents.forEach((a) => a.dispose?.());

describe('agent registry', () => {
  let previousBackend: string;
  before(async () => {
    previousBackend = tf.getBackend();
    await tf.setBackend('cpu'); // reinforce's policy net
  });
  after(async () => {
    await tf.setBackend(previousBackend);
  });

  it('lists every agent, each defaulting to a mode it supports', () => {
    expect(agentNames()).to.deep.equal([
      'constant',
      'schedule',
      'plateau',
      'random',
      'epsilon-greedy',
      'ucb',
      'thompson',
      'linucb',
      'reinforce',

      'policy',
    ]);
    for (const name of agentNames()) expect(AGENTS[name]!.supports, name).to.include(AGENTS[name]!.defaultActionMode);
    expect(AGENTS['constant']!.defaultActionMode).to.equal('absolute');
    expect(AGENTS['schedule']!.defaultActionMode).to.equal('absolute');
  });

  it('the toy env passes the shared env check', async () => {
    for (const actionMode of ['discrete', 'continuous', 'absolute'] as const)
      await checkEnv(new TargetPathEnv({ actionMode, rewardNoise: 0.1 }));
  });

  it('holds only agents that create() builds: the schedulers (pbt) are resolved by schedulerFor', () => {
    expect(agentNames()).to.not.include('pbt');
    expect(schedulerFor('pbt')?.name).to.equal('pbt');
    expect(schedulerFor('ucb')).to.equal(undefined);
  });

  for (const name of agentNames()) {
    describe(name, () => {
      for (const actionMode of AGENTS[name]!.supports) {
        const env = () => new TargetPathEnv({ actionMode, rewardNoise: 0.05 });
        const create = (seed: number) => AGENTS[name]!.create({}, env().context(seed));

        it(`runs episodes in ${actionMode} mode with every action in the action space`, async () => {
          const agent = create(1);
          // runEpisodes asserts each action lies in the space; the env also refuses one that does not.
          const { actions } = await runEpisodes(agent, env(), 3);
          expect(actions.flat().length).to.equal(18);
          disposeAll(agent);
        });

        it(`round-trips saveState → JSON → loadState to identical subsequent actions (${actionMode})`, async () => {
          const a = create(1);
          await runEpisodes(a, env(), 2);
          const b = create(99); // another seed: everything that matters must come from the state
          b.loadState(JSON.parse(JSON.stringify(a.saveState())));
          const fromA = await runEpisodes(a, env(), 2, { firstEpisode: 3 });
          const fromB = await runEpisodes(b, env(), 2, { firstEpisode: 3 });
          expect(fromB.actions).to.deep.equal(fromA.actions);
          expect(b.saveState()).to.deep.equal(a.saveState());
          disposeAll(a, b);
        });

        it(`repeats itself with the same seed${STOCHASTIC.has(name) ? ', differs with another' : ''} (${actionMode})`, async () => {
          const [a, b, c] = [create(5), create(5), create(6)];
          const runA = await runEpisodes(a, env(), 3);
          const runB = await runEpisodes(b, env(), 3);
          const runC = await runEpisodes(c, env(), 3);
          expect(runB.actions).to.deep.equal(runA.actions);
          if (STOCHASTIC.has(name)) expect(runC.actions).to.not.deep.equal(runA.actions);
          else expect(runC.actions).to.deep.equal(runA.actions);
          disposeAll(a, b, c);
        });
      }

      it('rejects a bad state with a ConfigError, and is unchanged by the attempt', async () => {
        const actionMode = AGENTS[name]!.defaultActionMode;
        const env = () => new TargetPathEnv({ actionMode });
        const trained = AGENTS[name]!.create({}, env().context(1));
        await runEpisodes(trained, env(), 2);
        const good = JSON.parse(JSON.stringify(trained.saveState())) as Record<string, unknown>;

        const [target, twin] = [AGENTS[name]!.create({}, env().context(3)), AGENTS[name]!.create({}, env().context(3))];
        const bad: unknown[] = [42, null, [], { ...good, agent: 'someone-else' }, { ...good, version: 2 }];
        for (const key of Object.keys(good).filter((k) => k !== 'agent' && k !== 'version'))
          bad.push({ ...good, [key]: 'junk' });
        for (const state of bad) {
          expect(() => target.loadState(state), JSON.stringify(state).slice(0, 80)).to.throw(
            ConfigError,
            new RegExp(`^--load-agent: ${name} state: `),
          );
        }
        const [fromTarget, fromTwin] = [await runEpisodes(target, env(), 2), await runEpisodes(twin, env(), 2)];
        expect(fromTarget.actions).to.deep.equal(fromTwin.actions);
        disposeAll(trained, target, twin);
      });
    });
  }
});

describe('agent options', () => {
  it('fill in every default, which are the OptionSpecs defaults', () => {
    for (const name of agentNames()) {
      const specs = AGENTS[name]!.options;
      const defaults = Object.fromEntries(specs.map((s) => [s.key, s.default]));
      expect(checkAgentOptions(name, {}), name).to.deep.equal(defaults);
    }
  });

  it('give a shared flag the same key, type and help in every agent', () => {
    const byFlag = new Map<string, OptionSpec>();
    for (const spec of agentNames().flatMap((n) => AGENTS[n]!.options)) {
      expect(spec.flag).to.match(/^--[a-z][a-z-]*$/);
      const first = byFlag.get(spec.flag);
      if (!first) byFlag.set(spec.flag, spec);
      else
        expect({ key: spec.key, type: spec.type, help: spec.help }, spec.flag).to.deep.equal({
          key: first.key,
          type: first.type,
          help: first.help,
        });
    }
    // The env and the run own these; an agent flag of the same name would set both.
    for (const taken of [
      '--lr',
      '--epochs',
      '--seed',
      '--rate-step',
      '--min-rate',
      '--max-rate',
      '--max-delta',
      '--action',
      '--model',
      '--batch-size',
    ]) {
      expect(byFlag.has(taken), taken).to.equal(false);
    }
  });

  const bad: [string, Record<string, unknown>, string | RegExp][] = [
    ['nope', {}, /^--agent must be one of constant, schedule, /],
    [
      'ucb',
      { epsilon: 0.2 },
      '--epsilon does not apply to --agent ucb (its options: --ucb-c, --per-epoch, --phases, --arms, --credit, --pool-pulls)',
    ],
    ['random', { rate: 0.2 }, '--rate does not apply to --agent random (its options: none)'],
    ['constant', { rate: 1.5 }, '--rate must be in [0, 1), got 1.5'],
    ['schedule', { finalRate: -0.1 }, '--final-rate must be in [0, 1), got -0.1'],
    [
      'schedule',
      { schedule: 'cosine' },
      /^--schedule cosine: not a schedule name \(linear, curriculum, annealed, early, late\)/,
    ],
    ['schedule', { cutoff: 1.5 }, '--cutoff must be an integer >= 0, got 1.5'],
    ['plateau', { patience: 0 }, '--patience must be an integer >= 1, got 0'],
    ['epsilon-greedy', { epsilon: 2 }, '--epsilon must be in [0, 1], got 2'],
    ['thompson', { perEpoch: 'yes' }, "--per-epoch must be true or false, got 'yes'"],
    ['ucb', { ucbC: -1 }, '--ucb-c must be in [0, 1000000], got -1'],
    ['linucb', { alpha: 'x' }, "--alpha must be in [0, 1000000], got 'x'"],
    ['reinforce', { baseline: 'median' }, "--baseline must be one of mean, value, got 'median'"],
    ['reinforce', { gamma: 1.5 }, '--gamma must be in [0, 1], got 1.5'],
    ['reinforce', { hidden: 0 }, '--hidden must be an integer in [1, 4096], got 0'],
    ['reinforce', { batchEpisodes: 0 }, '--batch-episodes must be an integer >= 1, got 0'],
  ];
  for (const [name, options, message] of bad) {
    it(`rejects ${name} ${JSON.stringify(options)} naming the flag`, () => {
      expect(() => checkAgentOptions(name, options)).to.throw(ConfigError, message);
    });
  }

  it('refuses an action mode an agent does not support, naming --action', () => {
    const ctx = new TargetPathEnv({ actionMode: 'discrete' }).context(1);
    expect(() => checkActionMode('constant', ctx, ['absolute'])).to.throw(
      ConfigError,
      '--action discrete is not supported by agent constant (it supports: absolute)',
    );
    expect(() => checkActionMode('constant', ctx, ['discrete', 'absolute'])).to.not.throw();
  });
});
