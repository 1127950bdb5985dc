import { expect } from 'chai';
import { AGENTS } from '../../agents/index.js';
import { ArmTable, combine, evenRates, type ArmTableState } from '../../agents/bandit-table.js';
import { ConfigError } from '../../src/core/errors.js';
import { episodeScore } from '../../src/core/episode-score.js';
import { createRng } from '../../src/core/rng.js';
import { Box, MultiDiscrete } from '../../src/core/spaces.js';
import type { AgentContext, StepInfo, Transition } from '../../src/core/types.js';

/** Two layers, four epochs, absolute rates in [0, 0.8]. */
function context(seed = 1): AgentContext {
  return {
    observationSpace: new Box([0], [1]),
    actionSpace: new Box([0, 0], [0.8, 0.8]),
    actionMode: 'absolute',
    numLayers: 2,
    minRate: 0,
    maxRate: 0.8,
    rateStep: 0.25,
    maxEpochs: 4,
    rng: createRng(seed),
  };
}

const info = (epoch: number, valAcc: number, rates: number[]): StepInfo => ({
  epoch,
  trainLoss: 1,
  trainLossStd: 0,
  trainAcc: 0.9,
  valLoss: 1,
  valAcc,
  rates,
  diverged: false,
});

/** An episode: the rates chosen before each epoch and the validation accuracy after it. */
function episode(actions: number[][], valAccs: number[]): Transition[] {
  return actions.map((action, i) => ({
    episode: 1,
    epoch: i + 1,
    observation: [0],
    action,
    reward: valAccs[i]! - (i === 0 ? 0.1 : valAccs[i - 1]!),
    nextObservation: [0],
    terminated: false,
    truncated: i === actions.length - 1,
    info: info(i + 1, valAccs[i]!, action),
  }));
}

// phase 1 (epochs 1–2): layer 1 at 0, layer 2 at 0.4; phase 2 (epochs 3–4): layer 1 at 0.4, layer 2 at 0.2
const ACTIONS = [
  [0, 0.4],
  [0, 0.4],
  [0.4, 0.2],
  [0.4, 0.2],
];
// the same run up to the last epoch: phase 1 gains 0.6 in both, only the final accuracy differs
const EPISODE_A = episode(ACTIONS, [0.5, 0.7, 0.75, 0.8]);
const EPISODE_B = episode(ACTIONS, [0.5, 0.7, 0.75, 0.9]);
const ARMS = [0, 0.2, 0.4];
const options = { phases: 2, arms: ARMS, poolPulls: 0 };

describe('bandit credit (--credit final)', () => {
  it('scores an episode by its last validation accuracy (NaN as 0, none as 0)', () => {
    expect(episodeScore(EPISODE_B)).to.equal(0.9);
    expect(episodeScore([{ info: { valAcc: Number.NaN } }])).to.equal(0);
    expect(episodeScore([])).to.equal(0);
  });

  for (const name of ['epsilon-greedy', 'ucb', 'thompson']) {
    it(`${name} gives every (layer, phase) arm the episodes' final accuracy, once per episode, and nothing per step`, () => {
      const agent = AGENTS[name]!.create(options, context());
      for (const transitions of [EPISODE_A, EPISODE_B]) {
        agent.beginEpisode!([0], info(0, 0.1, [0.3, 0.3]), 1);
        for (const t of transitions) agent.learn!(t);
        agent.endEpisode!(transitions);
      }
      const { table } = agent.saveState() as { table: ArmTableState };
      const pulled: [number, number, number][] = [
        [0, 0, 0], // layer 1, phase 1, rate 0
        [1, 0, 2], // layer 2, phase 1, rate 0.4
        [0, 1, 2], // layer 1, phase 2, rate 0.4
        [1, 1, 1], // layer 2, phase 2, rate 0.2
      ];
      for (let layer = 0; layer < 2; layer++)
        for (let phase = 0; phase < 2; phase++)
          for (let k = 0; k < 3; k++) {
            const hit = pulled.some(([l, p, a]) => l === layer && p === phase && a === k);
            expect(table.n[layer]![phase]![k], `n[${layer}][${phase}][${k}]`).to.equal(hit ? 2 : 0);
            // the mean of the two finals, 0.85: not phase 1's gain (0.6) nor phase 2's (0.1 and 0.2)
            if (hit) expect(table.mean[layer]![phase]![k]).to.be.closeTo(0.85, 1e-12);
            if (hit) expect(table.m2[layer]![phase]![k]).to.be.closeTo(2 * 0.05 ** 2, 1e-12);
          }
    });
  }

  it('credits a step-by-step run the same as the episode read from its actions', async () => {
    // act picks the arms; the credit reads them back from the transitions the loop hands endEpisode
    const agent = AGENTS['ucb']!.create(options, context(7));
    const actions: number[][] = [];
    for (let e = 0; e < 4; e++) actions.push((await agent.act([0], info(e, 0.5, [0, 0]))) as number[]);
    expect(actions[0]).to.deep.equal(actions[1]);
    expect(actions[2]).to.deep.equal(actions[3]);
    agent.endEpisode!(episode(actions, [0.5, 0.6, 0.6, 0.65]));
    const { table } = agent.saveState() as { table: ArmTableState };
    const total = table.n.flat(2).reduce((a, b) => a + b, 0);
    expect(total).to.equal(4);
    const k = ARMS.indexOf(actions[0]![1]!);
    expect(table.mean[1]![0]![k]).to.equal(0.65);
  });
});

describe('bandit arms', () => {
  it('are an even set without a near-duplicate at the top by default (step 0.25 up to 0.8: four rates)', () => {
    expect(evenRates(0, 0.8, 0.25)).to.deep.equal([0, 0.266666667, 0.533333333, 0.8]);
    // where the step divides the range, the grid it always was
    expect(evenRates(0, 0.5, 0.1)).to.deep.equal([0, 0.1, 0.2, 0.3, 0.4, 0.5]);
    const table = new ArmTable(context(), { perEpoch: false, phases: 2, arms: null, credit: 'final', poolPulls: 0 });
    expect(table.values[1]).to.deep.equal([0, 0.266666667, 0.533333333, 0.8]);
  });

  it('are the rates --arms gives (an experiment passes its grid), checked against the rate range and mode', () => {
    const agent = AGENTS['thompson']!.create({ arms: [0, 0.2, 0.3, 0.5] }, context());
    expect((agent.saveState() as { table: ArmTableState }).table.values).to.deep.equal([
      [0, 0.2, 0.3, 0.5],
      [0, 0.2, 0.3, 0.5],
    ]);
    expect(() => AGENTS['ucb']!.create({ arms: [0, 0.9] }, context())).to.throw(
      ConfigError,
      '--arms rate 0.9 is outside [--min-rate, --max-rate] = [0, 0.8]',
    );
    expect(() => AGENTS['ucb']!.check({ arms: [0.2, 0.2] })).to.throw(ConfigError, '--arms must not repeat a rate');
    const discrete = { ...context(), actionMode: 'discrete' as const, actionSpace: new MultiDiscrete([3, 3]) };
    expect(() => AGENTS['ucb']!.create({ arms: [0, 0.2] }, discrete)).to.throw(
      ConfigError,
      '--arms applies to --action absolute only, got --action discrete',
    );
  });
});

describe('bandit pooling (--pool-pulls)', () => {
  const table = (poolPulls: number) =>
    new ArmTable(context(), { perEpoch: false, phases: 2, arms: ARMS, credit: 'final', poolPulls });

  it("lets a set borrow the other sets' pulls of the same rate, at most P pulls' worth", () => {
    const t = table(2);
    // three episodes, all at layer 1 rate 0 / layer 2 rate 0.4 in both phases, finals 0.8, 0.9, 0.7
    for (const final of [0.8, 0.9, 0.7])
      t.creditEpisode(
        episode(
          [
            [0, 0.4],
            [0, 0.4],
            [0, 0.4],
            [0, 0.4],
          ],
          [0.5, 0.6, 0.7, final],
        ),
      );
    // layer 1, phase 1, rate 0.4: never pulled there; layer 2 pulled it 6 times (two phases × three)
    const borrowed = t.stats(0, 0)[2]!;
    expect(borrowed.n).to.be.closeTo(2, 1e-12);
    expect(borrowed.mean).to.be.closeTo(0.8, 1e-12);
    // m2 of the six pulls (2 × Σ (x − 0.8)² = 0.04) scaled to two pulls' worth
    expect(borrowed.m2).to.be.closeTo((0.04 * 2) / 6, 1e-12);
    // its own rate 0: three pulls of its own, plus two borrowed from phase 2 (same rate, same finals)
    const own = t.stats(0, 0)[0]!;
    expect(own.n).to.be.closeTo(5, 1e-12);
    expect(own.mean).to.be.closeTo(0.8, 1e-12);
    // the rate nobody pulled stays unpulled
    expect(t.stats(0, 0)[1]!.n).to.equal(0);
    // without pooling the set sees its own pulls only
    const apart = table(0);
    apart.creditEpisode(episode(ACTIONS, [0.5, 0.7, 0.75, 0.8]));
    expect(apart.stats(0, 0)[2]!.n).to.equal(0);
  });

  it('combines two samples as one (the parallel update)', () => {
    const xs = [0.1, 0.4, 0.35, 0.9, 0.2];
    const stats = (v: number[]) => {
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      return { n: v.length, mean, m2: v.reduce((a, b) => a + (b - mean) ** 2, 0) };
    };
    const both = combine(stats(xs.slice(0, 2)), stats(xs.slice(2)));
    const all = stats(xs);
    expect(both.n).to.equal(all.n);
    expect(both.mean).to.be.closeTo(all.mean, 1e-12);
    expect(both.m2).to.be.closeTo(all.m2, 1e-12);
  });
});
