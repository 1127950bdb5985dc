import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../src/core/errors.js';
import type { ActionMode, Agent } from '../../src/core/types.js';
import { AGENTS } from '../../agents/index.js';
import { SCHEDULE_DEFAULTS, namedRate } from '../../agents/schedule.js';
import { TargetPathEnv } from '../helpers/toy-envs.js';
import { runEpisodes } from './harness.js';

const make = (name: string, options: Record<string, unknown>, env: TargetPathEnv, seed = 1): Agent =>
  AGENTS[name]!.create(options, env.context(seed));

/** The rates each epoch of one episode trained with, every layer expected equal to `expected[t]`. */
async function ratesOfOneEpisode(
  name: string,
  options: Record<string, unknown>,
  env: TargetPathEnv,
): Promise<number[][]> {
  const { rates } = await runEpisodes(make(name, options, env), env, 1);
  return rates[0]!;
}

function expectRates(actual: number[][], expected: number[], layers = 2): void {
  expect(actual.length).to.equal(expected.length);
  actual.forEach((row, t) => {
    expect(row.length).to.equal(layers);
    row.forEach((r) => expect(r, `epoch index ${t}`).to.be.closeTo(expected[t]!, 1e-8));
  });
}

describe('constant', () => {
  it('trains the first epoch already at --rate in absolute mode', async () => {
    expectRates(
      await ratesOfOneEpisode('constant', { rate: 0.5 }, new TargetPathEnv({ actionMode: 'absolute' })),
      [0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
    );
  });

  it('walks to --rate one step per epoch in discrete and continuous modes', async () => {
    // From 0.3 with rateStep 0.1 (discrete) or maxDelta 0.1 (continuous): 0.4, then 0.5 and stay.
    for (const actionMode of ['discrete', 'continuous'] as const) {
      expectRates(
        await ratesOfOneEpisode('constant', { rate: 0.5 }, new TargetPathEnv({ actionMode })),
        [0.4, 0.5, 0.5, 0.5, 0.5, 0.5],
      );
    }
  });

  it('rejects a rate out of range, naming the flag', () => {
    expect(() => AGENTS['constant']!.check({ rate: 1.5 })).to.throw(ConfigError, '--rate must be in [0, 1), got 1.5');
    expect(() => make('constant', { rate: 0.9 }, new TargetPathEnv())).to.throw(
      ConfigError,
      /--rate = 0.9 is outside \[--min-rate, --max-rate\] = \[0, 0.8\]/,
    );
  });
});

describe('schedule', () => {
  const env = () => new TargetPathEnv({ actionMode: 'absolute', maxEpochs: 6 });

  // t = the epoch index about to be trained, from 0: the first epoch trains at rate(0).
  const cases: [string, Record<string, unknown>, number[]][] = [
    ['linear 0.3 → 0 over 6 epochs', { schedule: 'linear', rate: 0.3, finalRate: 0 }, [0.3, 0.24, 0.18, 0.12, 0.06, 0]],
    ['linear 0.1 → 0.6', { schedule: 'linear', rate: 0.1, finalRate: 0.6 }, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]],
    // 0.4 · (1 − e^(−0.5 t)), computed by hand for t = 0 … 5
    [
      'curriculum 0.4, γ 0.5',
      { schedule: 'curriculum', rate: 0.4, gamma: 0.5 },
      [0, 0.15738773611, 0.25284822353, 0.31074793594, 0.34586588671, 0.36716600055],
    ],
    ['annealed 0.4 over 4 epochs', { schedule: 'annealed', rate: 0.4, annealEpochs: 4 }, [0.4, 0.3, 0.2, 0.1, 0, 0]],
    ['early, cutoff 2', { schedule: 'early', rate: 0.4, cutoff: 2 }, [0.4, 0.4, 0, 0, 0, 0]],
    ['late, cutoff 2', { schedule: 'late', rate: 0.4, cutoff: 2 }, [0, 0, 0.4, 0.4, 0.4, 0.4]],
  ];
  for (const [title, options, expected] of cases) {
    it(`follows ${title} exactly`, async () => {
      expectRates(await ratesOfOneEpisode('schedule', options, env()), expected);
    });
  }

  it('holds the last rate past the end of a linear schedule, and a 1-epoch episode is at --rate', () => {
    const c = { ...SCHEDULE_DEFAULTS, rate: 0.3, finalRate: 0.1 };
    expect(namedRate('linear', 9, 6, c)).to.be.closeTo(0.1, 1e-12);
    expect(namedRate('linear', 0, 1, c)).to.equal(0.3);
  });

  it('approximates the schedule within a step in discrete mode', async () => {
    // Targets 0.3, 0.24, 0.18, 0.12, 0.06, 0 from 0.3 with rateStep 0.1: keep, down, keep, down, keep, down.
    const rates = await ratesOfOneEpisode(
      'schedule',
      { schedule: 'linear', rate: 0.3, finalRate: 0 },
      new TargetPathEnv({ actionMode: 'discrete' }),
    );
    expectRates(rates, [0.3, 0.2, 0.2, 0.1, 0.1, 0]);
  });

  describe('from a file', () => {
    let dir: string;
    const file = (name: string, content: unknown) => {
      const p = path.join(dir, name);
      writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
      return p;
    };
    before(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'droptune-schedule-'));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('reads a ScheduleFile, one row per epoch, the last row repeating', async () => {
      const rates = await ratesOfOneEpisode(
        'schedule',
        {
          schedule: file('s.json', {
            rates: [
              [0.1, 0.2],
              [0.3, 0.4],
            ],
            source: 'hand',
          }),
        },
        env(),
      );
      expect(rates).to.deep.equal([
        [0.1, 0.2],
        [0.3, 0.4],
        [0.3, 0.4],
        [0.3, 0.4],
        [0.3, 0.4],
        [0.3, 0.4],
      ]);
    });

    it('reads a bare number[][] with one rate per row for every layer', async () => {
      const rates = await ratesOfOneEpisode('schedule', { schedule: file('bare.json', [[0.5], [0.25]]) }, env());
      expect(rates).to.deep.equal([
        [0.5, 0.5],
        [0.25, 0.25],
        [0.25, 0.25],
        [0.25, 0.25],
        [0.25, 0.25],
        [0.25, 0.25],
      ]);
    });

    it("reads a run's summary.json through best.schedule", async () => {
      const summary = {
        agent: 'ucb',
        episodes: 3,
        best: {
          episode: 2,
          valAcc: 0.9,
          testAcc: 0.89,
          schedule: [
            [0.2, 0.1],
            [0.3, 0.2],
          ],
        },
      };
      const rates = await ratesOfOneEpisode('schedule', { schedule: file('summary.json', summary) }, env());
      expect(rates[0]).to.deep.equal([0.2, 0.1]);
      expect(rates[5]).to.deep.equal([0.3, 0.2]);
    });

    it('names --schedule and the file for a missing, unreadable or malformed file', () => {
      const check = (schedule: string) => () => AGENTS['schedule']!.check({ schedule });
      const missing = path.join(dir, 'nope.json');
      expect(check(missing)).to.throw(
        ConfigError,
        `--schedule ${missing}: not a schedule name (linear, curriculum, annealed, early, late) and not a readable file (ENOENT)`,
      );
      expect(check(dir)).to.throw(ConfigError, /not a readable file \(EISDIR\)/);
      expect(check(file('bad.json', '{"rates": [[0.1'))).to.throw(ConfigError, /bad\.json: not valid JSON/);
      expect(check(file('other.json', { foo: 1 }))).to.throw(
        ConfigError,
        /other\.json: expected \{"rates": number\[\]\[\]\}/,
      );
      expect(check(file('empty.json', { rates: [] }))).to.throw(ConfigError, /no rows/);
      expect(check(file('range.json', [[0.1, 1.5]]))).to.throw(
        ConfigError,
        /range\.json: rates\[0\]\[1\] must be in \[0, 1\), got 1.5/,
      );
      expect(check(file('ragged.json', [[0.1, 0.2], [0.1]]))).to.throw(
        ConfigError,
        /ragged\.json: row 1 must be a list of 2 rates/,
      );
    });

    it('rejects a file whose rows do not fit the model or the rate bounds', () => {
      const create = (schedule: string) => () => make('schedule', { schedule }, env());
      expect(create(file('three.json', [[0.1, 0.2, 0.3]]))).to.throw(
        ConfigError,
        /rows have 3 rates but the model has 2 dropout layers/,
      );
      expect(create(file('high.json', [[0.1, 0.9]]))).to.throw(
        ConfigError,
        /rates\[0\]\[1\] = 0.9 is outside \[--min-rate, --max-rate\]/,
      );
    });
  });
});

describe('plateau', () => {
  const modes: ActionMode[] = ['absolute', 'discrete', 'continuous'];
  const plateauEnv = (actionMode: ActionMode, initialRate: number, valLosses: number[]) =>
    new TargetPathEnv({
      actionMode,
      rateStep: 0.05,
      maxDelta: 0.1,
      initialRate,
      maxEpochs: valLosses.length,
      target: valLosses.map(() => 0.3),
      valLosses,
    });

  for (const actionMode of modes) {
    it(`follows the rule step by step (${actionMode}), starting over each episode`, async () => {
      // valLoss after each epoch, and (in the comment) what the rule does with it:
      const losses = [
        1.0, //  best 1.0         lower → 0.45
        0.9, //  best 0.9         lower → 0.40
        0.95, // stalled 1 < 2    keep  → 0.40
        0.92, // stalled 2 ≥ 2    raise → 0.45
        0.91, // stalled 3 ≥ 2    raise → 0.50 (no reset after a raise)
        0.85, // best 0.85        lower → 0.45
        0.86, // stalled 1        keep  → 0.45
        0.87, // stalled 2        raise → 0.50
        0.88, // stalled 3        raise → 0.55
        0.8, //  (last epoch: no further act)
      ];
      const env = plateauEnv(actionMode, 0.5, losses);
      const { rates } = await runEpisodes(make('plateau', { patience: 2, min: 0.2, max: 0.8 }, env), env, 2);
      const expected = [0.5, 0.45, 0.4, 0.4, 0.45, 0.5, 0.45, 0.45, 0.5, 0.55];
      expectRates(rates[0]!, expected);
      expectRates(rates[1]!, expected);
    });
  }

  it('stops lowering at --min and counts an equal loss as no improvement', async () => {
    const env = plateauEnv('absolute', 0.3, [1, 0.9, 0.8, 0.8, 0.7]);
    expectRates(
      await ratesOfOneEpisode('plateau', { patience: 1, min: 0.2, max: 0.8 }, env),
      [0.3, 0.25, 0.2, 0.2, 0.25],
    );
  });

  it('stops raising at --max', async () => {
    const env = plateauEnv('absolute', 0.75, [1, 2, 3, 4, 5]);
    expectRates(
      await ratesOfOneEpisode('plateau', { patience: 1, min: 0.2, max: 0.8 }, env),
      [0.75, 0.7, 0.75, 0.8, 0.8],
    );
  });

  it('saves its running best and counter mid-episode', async () => {
    const env = plateauEnv('absolute', 0.5, [1, 1.1, 1.2]);
    const agent = make('plateau', { patience: 5 }, env);
    let { observation, info } = await env.reset({ seed: 0 });
    for (let i = 0; i < 3; i++) ({ observation, info } = await env.step(agent.act(observation, info) as number[]));
    expect(agent.saveState()).to.deep.equal({ agent: 'plateau', version: 1, best: 1, stalled: 1 });
  });

  it('checks --min ≤ --max and --patience ≥ 1', () => {
    expect(() => AGENTS['plateau']!.check({ min: 0.5, max: 0.4 })).to.throw(
      ConfigError,
      '--min (0.5) must not exceed --max (0.4)',
    );
    expect(() => AGENTS['plateau']!.check({ patience: 0 })).to.throw(
      ConfigError,
      '--patience must be an integer >= 1, got 0',
    );
  });
});

describe('random', () => {
  it('draws each discrete action with probability 1/3', async () => {
    const env = new TargetPathEnv({ actionMode: 'discrete', numLayers: 2 });
    const { actions } = await runEpisodes(make('random', {}, env), env, 100);
    const all = actions.flat(2);
    const n = all.length; // 100 episodes × 6 steps × 2 layers = 1200
    const sd = Math.sqrt(n * (1 / 3) * (2 / 3)); // binomial standard deviation of a count
    for (const a of [0, 1, 2]) expect(all.filter((x) => x === a).length).to.be.closeTo(n / 3, 4 * sd);
  });

  it('draws absolute rates uniformly over [minRate, maxRate]', async () => {
    const env = new TargetPathEnv({ actionMode: 'absolute', numLayers: 1, minRate: 0.1, maxRate: 0.7 });
    const { actions } = await runEpisodes(make('random', {}, env), env, 100);
    const all = actions.flat(2);
    const mean = all.reduce((a, b) => a + b, 0) / all.length;
    // Uniform on [0.1, 0.7]: mean 0.4, sd 0.6/√12; the mean of 600 draws is within 4 standard errors.
    expect(mean).to.be.closeTo(0.4, (4 * 0.6) / Math.sqrt(12) / Math.sqrt(all.length));
    expect(Math.min(...all)).to.be.at.least(0.1);
    expect(Math.max(...all)).to.be.at.most(0.7);
  });
});
