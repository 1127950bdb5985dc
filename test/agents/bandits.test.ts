import { expect } from 'chai';
import { inv, multiply } from 'mathjs';
import { createRng } from '../../src/core/rng.js';
import { Box, MultiDiscrete } from '../../src/core/spaces.js';
import type { Agent, AgentContext, StepInfo } from '../../src/core/types.js';
import { AGENTS } from '../../agents/index.js';
import type { ArmTableState } from '../../agents/bandit-table.js';
import { LinUcbAgent } from '../../agents/linucb.js';
import { loadMathjs } from '../../agents/node-loaders.js';
import { TargetPathEnv } from '../helpers/toy-envs.js';
import { runEpisodes } from './harness.js';

const INFO: StepInfo = {
  epoch: 0,
  trainLoss: 1,
  trainLossStd: 0,
  trainAcc: 0,
  valLoss: 1,
  valAcc: 0,
  rates: [0.3],
  diverged: false,
};

/**
 * A stationary 6-armed Gaussian bandit, played through the agent interface: one layer in absolute mode
 * with the rate grid 0, 0.1, …, 0.5 as arms (arm k = rate k/10), reward N(MEANS[k], SD²).
 */
const MEANS = [0.2, 0.35, 0.5, 0.65, 0.45, 0.3];
const BEST = 3;
const SD = 0.2;

function banditContext(seed: number): AgentContext {
  return {
    observationSpace: new Box([0], [1]),
    actionSpace: new Box([0], [0.5]),
    actionMode: 'absolute',
    numLayers: 1,
    minRate: 0,
    maxRate: 0.5,
    rateStep: 0.1,
    maxEpochs: 1,
    rng: createRng(seed),
  };
}

/** Plays `pulls` rounds; returns the arm chosen each round. */
function play(agent: Agent, pulls: number, seed: number): number[] {
  const noise = createRng(`noise:${seed}`);
  const chosen: number[] = [];
  for (let i = 0; i < pulls; i++) {
    const action = agent.act([0], INFO) as number[];
    const arm = Math.round(action[0]! * 10);
    chosen.push(arm);
    const reward = MEANS[arm]! + SD * noise.normal();
    agent.learn!({
      episode: 1,
      epoch: 1,
      observation: [0],
      action,
      reward,
      nextObservation: [0],
      terminated: false,
      truncated: true,
      info: INFO,
    });
  }
  return chosen;
}

/** Pseudo-regret of rounds [from, to): Σ (best mean − chosen mean). */
const regret = (chosen: number[], from: number, to: number) =>
  chosen.slice(from, to).reduce((s, k) => s + MEANS[BEST]! - MEANS[k]!, 0);
const bestShare = (chosen: number[], from: number, to: number) =>
  chosen.slice(from, to).filter((k) => k === BEST).length / (to - from);

const SEEDS = [1, 2, 3, 4, 5];

/** The toy envs reward each epoch and keep the validation accuracy fixed: credit by reward, no pooling. */
const STEP_CREDIT = { credit: 'reward', poolPulls: 0 };

describe('bandits on a stationary 6-armed Gaussian bandit (gap 0.15, noise sd 0.2)', () => {
  // Thresholds: across 8 seeds UCB1 (c = √2) chose the best arm in 78–83% of rounds 1000–2000, with
  // regret(4000)/regret(1000) = 1.9 ± 0.1; Thompson in ≥ 98% of rounds 500–1000, ratio ≈ 1.2. A linear
  // regret (a bandit that stopped learning) has ratio 4 and second-half regret equal to the first half's.
  it('UCB1 picks the best arm most of the time after 1000 pulls, with sublinear regret', () => {
    for (const seed of SEEDS) {
      const chosen = play(
        AGENTS['ucb']!.create({ ucbC: Math.SQRT2, perEpoch: false, credit: 'reward' }, banditContext(seed)),
        4000,
        seed,
      );
      expect(bestShare(chosen, 1000, 2000), `seed ${seed}`).to.be.at.least(0.7);
      expect(regret(chosen, 1000, 2000), `seed ${seed}`).to.be.below(0.6 * regret(chosen, 0, 1000));
      expect(regret(chosen, 0, 4000) / regret(chosen, 0, 1000), `seed ${seed}`).to.be.below(2.5);
    }
  });

  it('Thompson sampling picks the best arm almost always after 500 pulls, with sublinear regret', () => {
    for (const seed of SEEDS) {
      const chosen = play(
        AGENTS['thompson']!.create({ perEpoch: false, credit: 'reward' }, banditContext(seed)),
        4000,
        seed,
      );
      expect(bestShare(chosen, 500, 1000), `seed ${seed}`).to.be.at.least(0.95);
      expect(regret(chosen, 1000, 2000), `seed ${seed}`).to.be.below(0.3 * regret(chosen, 0, 1000));
      expect(regret(chosen, 0, 4000) / regret(chosen, 0, 1000), `seed ${seed}`).to.be.below(1.6);
    }
  });

  it('epsilon-greedy finds the best arm and exploits it with probability 1 − ε + ε/K', () => {
    const epsilon = 0.1;
    const p = 1 - epsilon + epsilon / MEANS.length; // 0.9167
    const n = 1000;
    const sd = Math.sqrt((p * (1 - p)) / n); // binomial sd of the share, 0.0087
    for (const seed of SEEDS) {
      const agent = AGENTS['epsilon-greedy']!.create(
        { epsilon, perEpoch: false, credit: 'reward' },
        banditContext(seed),
      );
      const chosen = play(agent, 2000, seed);
      const table = (agent.saveState() as { table: ArmTableState }).table;
      const means = table.mean[0]![0]!;
      expect(means.indexOf(Math.max(...means)), `seed ${seed}: greedy arm`).to.equal(BEST);
      expect(bestShare(chosen, 1000, 2000), `seed ${seed}`).to.be.within(p - 4 * sd, p + 4 * sd);
    }
  });

  it('UCB1 and Thompson pull every arm before exploiting', () => {
    for (const name of ['ucb', 'thompson']) {
      const chosen = play(AGENTS[name]!.create({ perEpoch: false, credit: 'reward' }, banditContext(1)), 12, 1);
      const pullsFirst = name === 'ucb' ? 6 : 12; // Thompson: twice each
      expect(new Set(chosen.slice(0, pullsFirst)).size, name).to.equal(6);
    }
  });
});

describe('--per-epoch', () => {
  // TargetPathEnv with one layer, absolute mode: the reward of epoch t is −|rate − target[t]|, best at
  // target = 0.4, 0.5, 0.5, 0.4, 0.3, 0.2. Arms: the rate grid 0, 0.1, …, 0.8.
  const greedyRates = (agent: Agent): number[] => {
    const { table } = agent.saveState() as { table: ArmTableState };
    return table.mean[0]!.map((means) => table.values[0]![means.indexOf(Math.max(...means))]!);
  };

  for (const name of ['epsilon-greedy', 'ucb', 'thompson']) {
    it(`${name} learns the per-epoch schedule with per-epoch arms, one rate for all epochs without`, async () => {
      const env = new TargetPathEnv({ actionMode: 'absolute', numLayers: 1 });
      // the toy env's reward is per epoch (its validation accuracy never changes): reward credit, sets apart
      const perEpoch = AGENTS[name]!.create({ perEpoch: true, ...STEP_CREDIT }, env.context(1));
      await runEpisodes(perEpoch, env, 200);
      expect(greedyRates(perEpoch)).to.deep.equal(env.config.target);

      const shared = AGENTS[name]!.create({ perEpoch: false, ...STEP_CREDIT }, env.context(1));
      const { rates } = await runEpisodes(shared, env, 200);
      // One arm set for all epochs: its best arm is the single best rate, 0.4 (return −0.6).
      expect(greedyRates(shared)).to.deep.equal([0.4]);
      if (name !== 'epsilon-greedy') expect(rates.at(-1)!.flat()).to.deep.equal([0.4, 0.4, 0.4, 0.4, 0.4, 0.4]);
    });
  }
});

describe('--phases', () => {
  // A rising target (none early, 0.6 late): two phases of three epochs over the arms 0, 0.2, …, 0.8.
  const target = [0, 0, 0, 0.6, 0.6, 0.6];
  const env = () => new TargetPathEnv({ actionMode: 'absolute', numLayers: 1, rateStep: 0.2, target });

  for (const name of ['epsilon-greedy', 'ucb', 'thompson']) {
    it(`${name} holds one arm per phase, credits it once per episode, and learns the rising schedule`, async () => {
      const agent = AGENTS[name]!.create({ phases: 2, ...STEP_CREDIT }, env().context(1));
      const episodes = 60;
      const { rates } = await runEpisodes(agent, env(), episodes);
      for (const episode of rates) {
        const flat = episode.flat();
        expect(new Set(flat.slice(0, 3)).size, 'one rate through phase 1').to.equal(1);
        expect(new Set(flat.slice(3)).size, 'one rate through phase 2').to.equal(1);
      }
      const { table } = agent.saveState() as { table: ArmTableState };
      // one credit per phase and episode: the pulls of each phase's arm set add up to the episodes
      expect(table.n[0]!.map((pulls) => pulls.reduce((a, b) => a + b, 0))).to.deep.equal([episodes, episodes]);
      const best = table.mean[0]!.map((means) => table.values[0]![means.indexOf(Math.max(...means))]!);
      expect(best).to.deep.equal([0, 0.6]);
      if (name !== 'epsilon-greedy') expect(rates.at(-1)!.flat()).to.deep.equal(target);
    });
  }

  it('credits every (layer, phase) arm once with the summed reward of its phase under --credit reward', async () => {
    const agent = AGENTS['ucb']!.create({ phases: 2, ...STEP_CREDIT }, env().context(1));
    const { rates } = await runEpisodes(agent, env(), 1);
    const { table } = agent.saveState() as { table: ArmTableState };
    const flat = rates[0]!.flat();
    [0, 1].forEach((phase) => {
      const k = table.values[0]!.indexOf(flat[phase * 3]!);
      const phaseReward = flat
        .slice(phase * 3, phase * 3 + 3)
        .reduce((s, r, i) => s - Math.abs(r - target[phase * 3 + i]!), 0);
      expect(table.mean[0]![phase]![k]).to.be.closeTo(phaseReward, 1e-12);
    });
  });

  it('names --phases and what is allowed for a bad value', () => {
    expect(() => AGENTS['ucb']!.check({ phases: -1 })).to.throw('--phases must be an integer in [0, 1000], got -1');
  });
});

describe('linucb on a linear contextual bandit', () => {
  // Context x ∈ [−1, 1]³, 3 arms (discrete mode: down/keep/up), reward θ_kᵀ[x, 1] + N(0, 0.1²).
  const THETA = [
    [1, 0, 0, 0],
    [0, 1, 0, 0.1],
    [-0.5, -0.5, 0.5, 0.2],
  ];
  const NOISE = 0.1;
  const value = (k: number, x: number[]) => THETA[k]!.reduce((s, t, i) => s + t * (i < 3 ? x[i]! : 1), 0);
  const context = (rng: ReturnType<typeof createRng>) => [0, 0, 0].map(() => 2 * rng.next() - 1);

  function train(seed: number): { agent: LinUcbAgent; env: ReturnType<typeof createRng> } {
    const ctx: AgentContext = {
      observationSpace: new Box([-1, -1, -1], [1, 1, 1]),
      actionSpace: new MultiDiscrete([3]),
      actionMode: 'discrete',
      numLayers: 1,
      minRate: 0,
      maxRate: 0.8,
      rateStep: 0.05,
      maxEpochs: 10,
      rng: createRng(seed),
    };
    const agent = new LinUcbAgent({ alpha: 0.5 }, ctx, loadMathjs);
    const env = createRng(`contexts:${seed}`);
    for (let i = 0; i < 1000; i++) {
      const x = context(env);
      const action = agent.act(x, INFO);
      const reward = value(action[0]!, x) + NOISE * env.normal();
      agent.learn({
        episode: 1,
        epoch: 1,
        observation: x,
        action,
        reward,
        nextObservation: x,
        terminated: false,
        truncated: true,
        info: INFO,
      });
    }
    return { agent, env };
  }

  it('recovers θ of every arm within its standard error', () => {
    for (const seed of [1, 2, 3]) {
      const { agent } = train(seed);
      const { A } = agent.saveState() as { A: number[][][][] };
      THETA.forEach((theta, k) => {
        const Ainv = inv(A[0]![k]!) as number[][];
        // Ridge (A = I + Σ xxᵀ): θ̂ − θ = A⁻¹ Σ x ε − A⁻¹ θ, so each entry is within 4 standard errors
        // σ·sqrt((A⁻¹)_ii) of θ_i, plus the shrinkage |(A⁻¹ θ)_i|.
        const shrink = multiply(Ainv, theta) as number[];
        agent.estimate(0, k).forEach((est, i) => {
          const tolerance = 4 * NOISE * Math.sqrt(Ainv[i]![i]!) + Math.abs(shrink[i]!);
          expect(est, `seed ${seed}, arm ${k}, θ[${i}]`).to.be.closeTo(theta[i]!, tolerance);
          // The check has teeth: every bound (observed 0.04–0.18) is far below the 0.5–1 that separates arms' θ.
          expect(tolerance).to.be.below(0.2);
        });
      });
    }
  });

  it('picks the best arm for held-out contexts', () => {
    for (const seed of [1, 2, 3]) {
      const { agent, env } = train(seed);
      let best = 0;
      const n = 500;
      for (let i = 0; i < n; i++) {
        const x = context(env);
        const values = THETA.map((_, k) => value(k, x));
        if (values[agent.act(x, INFO)[0]!] === Math.max(...values)) best += 1;
      }
      // Only contexts within ~0.05 of a boundary between arms are in doubt: observed 98.4–99.8%.
      expect(best / n, `seed ${seed}`).to.be.at.least(0.95);
    }
  });
});
