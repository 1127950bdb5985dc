import { expect } from 'chai';
import {
  checkConfig,
  defaultPopulationRates,
  exploitAndExplore,
  explore,
  quantileSize,
  smoothedValAcc,
  startingRates,
} from '../../src/schedulers/pbt/pbt.js';
import { ConfigError } from '../../src/core/errors.js';
import { createRng, type Rng } from '../../src/core/rng.js';

/** An Rng that returns scripted values: `next` and `int` draws in the order given. */
function scripted(draws: { next?: number[]; int?: number[] }): Rng & { left: () => number } {
  const next = [...(draws.next ?? [])];
  const ints = [...(draws.int ?? [])];
  const rng = createRng(0);
  return {
    ...rng,
    next: () => {
      if (next.length === 0) throw new Error('scripted rng: no next() draw left');
      return next.shift()!;
    },
    int: (n: number) => {
      if (ints.length === 0) throw new Error('scripted rng: no int() draw left');
      const v = ints.shift()!;
      expect(v).to.be.below(n);
      return v;
    },
    left: () => next.length + ints.length,
  };
}

const BOUNDS = { minRate: 0, maxRate: 0.8, resampleProbability: 0.25, quantile: 0.25, perturbation: 0.1 };

describe('pbt rule', () => {
  it('sizes quantiles as Ray Tune does: ⌈n·q⌉, at most half the population', () => {
    expect([2, 3, 4, 5, 8, 9].map((n) => quantileSize(n, 0.25))).to.deep.equal([1, 1, 1, 2, 2, 3]);
    expect(quantileSize(5, 0.5)).to.equal(2);
    expect(quantileSize(8, 0)).to.equal(0);
  });

  it('has each bottom member copy a top member and step its rates additively', () => {
    // 8 members, quantile 2: top = 5 (0.95), 2 (0.9); bottom = 7 (0.5), 0 (0.6), handled in member order.
    const valAcc = [0.6, 0.8, 0.9, 0.7, 0.75, 0.95, 0.85, 0.5];
    const members = valAcc.map((v, i) => ({ valAcc: v, rates: [i / 10, i / 20] }));
    // each layer: a draw against the resample probability, then (not resampled) a sign and a step size
    // member 0 copies top[1] = 2 (0.2, 0.1): +0.1·(0.5 + 0.5·0.5) → 0.275; −0.1·0.5 → 0.05
    // member 7 copies top[0] = 5 (0.5, 0.25): layer 1 resampled to 0.5·0.8; +0.1·(0.5 + 0.5·0.6) → 0.33
    const rng = scripted({ int: [1, 0], next: [0.9, 0.7, 0.5, 0.3, 0.2, 0, 0.1, 0.5, 0.9, 0.9, 0.6] });
    const exploits = exploitAndExplore(members, rng, BOUNDS);
    expect(rng.left()).to.equal(0);
    expect(exploits).to.deep.equal([
      { member: 0, from: 2, ratesBefore: [0, 0], rates: [0.275, 0.05], resampled: [false, false] },
      { member: 7, from: 5, ratesBefore: [0.7, 0.35], rates: [0.4, 0.33], resampled: [true, false] },
    ]);
  });

  it('ranks a diverged member (NaN) last and breaks ties by the lower index', () => {
    const members = [0.7, Number.NaN, 0.7, 0.7].map((valAcc) => ({ valAcc, rates: [0.5] }));
    // quantile 1 of 4: top = member 0 (first of the tie), bottom = member 1 (NaN)
    const exploits = exploitAndExplore(members, scripted({ int: [0], next: [0.9, 0.9, 0.5] }), BOUNDS);
    expect(exploits.map((e) => [e.member, e.from])).to.deep.equal([[1, 0]]);
  });

  it('reflects a step past a bound back into [min, max]', () => {
    // 0.75 + 0.075 = 0.825, reflected at 0.8 to 0.775; 0.05 − 0.075 reflected at the min 0.05 to 0.125
    expect(explore([0.75], scripted({ next: [0.9, 0.9, 0.5] }), BOUNDS).rates).to.deep.equal([0.775]);
    expect(explore([0.05], scripted({ next: [0.9, 0.1, 0.5] }), { ...BOUNDS, minRate: 0.05 }).rates).to.deep.equal([
      0.125,
    ]);
  });

  it('moves a zero rate: every step lands 0.05 to 0.1 above it (×0.8/×1.2 kept it at 0)', () => {
    const rng = createRng('zero');
    for (let i = 0; i < 500; i++) {
      const e = explore([0], rng, { ...BOUNDS, resampleProbability: 0 });
      expect(e.rates[0]).to.be.within(0.05, 0.1);
    }
  });

  it('resamples a rate with the resample probability, and otherwise steps it up or down by 0.05 to 0.1', () => {
    const rng = createRng('explore');
    const n = 4000;
    let resampled = 0;
    let up = 0;
    for (let i = 0; i < n; i++) {
      const e = explore([0.5], rng, BOUNDS);
      if (e.resampled[0]) {
        resampled += 1;
        expect(e.rates[0]).to.be.within(0, 0.8);
      } else {
        expect(Math.abs(e.rates[0]! - 0.5)).to.be.within(0.05 - 1e-9, 0.1 + 1e-9);
        if (e.rates[0]! > 0.5) up += 1;
      }
    }
    // Binomial: 4 standard deviations either side.
    const sd = Math.sqrt(n * 0.25 * 0.75);
    expect(resampled).to.be.closeTo(n * 0.25, 4 * sd);
    const perturbed = n - resampled;
    expect(up).to.be.closeTo(perturbed / 2, 4 * Math.sqrt(perturbed / 4));
  });

  it('is a pure function of the seed', () => {
    const members = [0.5, 0.6, 0.7, 0.8, 0.9, 0.4].map((valAcc, i) => ({ valAcc, rates: [i / 10, 0.3] }));
    const a = exploitAndExplore(members, createRng('s'), BOUNDS);
    const b = exploitAndExplore(members, createRng('s'), BOUNDS);
    expect(a).to.deep.equal(b);
    expect(a.map((e) => e.member)).to.deep.equal([0, 5]);
    for (const e of a) expect([3, 4]).to.include(e.from);
  });
});

describe('pbt config', () => {
  it('starts 8 members on the standard grid, other sizes evenly over [min, max]', () => {
    expect(checkConfig({}).populationRates).to.deep.equal([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]);
    expect(checkConfig({ population: 5 }, { minRate: 0.1, maxRate: 0.5 }).populationRates).to.deep.equal([
      0.1, 0.2, 0.3, 0.4, 0.5,
    ]);
    expect(defaultPopulationRates(8, 0, 0.5)).to.deep.equal([0, 0.0714, 0.1429, 0.2143, 0.2857, 0.3571, 0.4286, 0.5]);
    expect(checkConfig({ populationRates: [0.2, 0.4, 0.6] }).population).to.equal(3);
  });

  it('names the option and what is allowed', () => {
    const error = (partial: Record<string, unknown>, bounds?: { minRate: number; maxRate: number }) => {
      try {
        checkConfig(partial, bounds);
      } catch (err) {
        expect(err).to.be.instanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error('no error');
    };
    expect(error({ population: 1 })).to.equal('--population must be an integer in [2, 256], got 1');
    expect(error({ population: 3, populationRates: [0.1, 0.2] })).to.equal(
      '--population-rates needs one rate per member: 3 for --population 3, got 2',
    );
    expect(error({ populationRates: [0.1, 0.7] }, { minRate: 0, maxRate: 0.5 })).to.equal(
      '--population-rates must be in [0, 0.5], got 0.7',
    );
    expect(error({ quantile: 0.6 })).to.equal('--quantile must be in [0, 0.5], got 0.6');
    expect(error({ interval: 0 })).to.equal('--interval must be an integer >= 1, got 0');
    expect(error({ burnIn: 11 }, { minRate: 0, maxRate: 0.8, maxEpochs: 10 } as never)).to.equal(
      '--burn-in must be an integer in [0, 10], got 11',
    );
    expect(error({ populationStart: 'tied' })).to.equal("--population-start must be one of lhs, grid, got 'tied'");
  });

  it('burns in for about a third of the run by default', () => {
    expect(
      [3, 6, 10, 60].map((maxEpochs) => checkConfig({}, { minRate: 0, maxRate: 0.8, maxEpochs }).burnIn),
    ).to.deep.equal([1, 2, 3, 20]);
  });
});

describe('pbt starting rates', () => {
  it('draws a Latin hypercube over the range of the rates: one member per stratum on every layer', () => {
    const grid = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7];
    const start = startingRates(grid, 3, 'lhs', createRng('lhs'));
    expect(start).to.have.length(8);
    for (let layer = 0; layer < 3; layer++) {
      const strata = start.map((rates) => Math.min(7, Math.floor((rates[layer]! / 0.7) * 8))).sort();
      expect(strata).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7]);
    }
    // per-layer, not tied: some member's layers differ, and no member sits on a grid run's tied rates
    expect(start.some((rates) => new Set(rates).size > 1)).to.equal(true);
    expect(start.some((rates) => grid.some((g) => rates.every((r) => r === g)))).to.equal(false);
    expect(startingRates(grid, 3, 'lhs', createRng('lhs'))).to.deep.equal(start);
  });

  it("puts member m on every layer at the m-th rate with 'grid'", () => {
    expect(startingRates([0.1, 0.4], 2, 'grid', createRng(0))).to.deep.equal([
      [0.1, 0.1],
      [0.4, 0.4],
    ]);
  });

  it('scores a member on the mean of its last k validation accuracies, NaN when one diverged', () => {
    expect(smoothedValAcc([0.5, 0.6, 0.7, 0.9], 3)).to.be.closeTo(0.7333, 1e-4);
    expect(smoothedValAcc([0.5], 3)).to.equal(0.5);
    expect(Number.isNaN(smoothedValAcc([0.5, Number.NaN], 3))).to.equal(true);
  });
});
