import { expect } from 'chai';

import {
  estimate,
  incompleteBeta,
  mean,
  pairedDifference,
  sampleStd,
  tCdf,
  tQuantile,
} from '../../src/analysis/stats.js';

describe('stats', () => {
  it('matches the t table at 0.975 (two-sided 95%)', () => {
    // printed tables give 3 decimals, so they bound the error at 5e-4
    const table: [number, number][] = [
      [1, 12.706],
      [2, 4.303],
      [4, 2.776],
      [9, 2.262],
      [30, 2.042],
    ];
    for (const [df, t] of table) expect(tQuantile(0.975, df), `df=${df}`).to.be.closeTo(t, 5e-4);
  });

  it('matches t quantiles to more digits, tends to the normal, and is symmetric', () => {
    expect(tQuantile(0.975, 1)).to.be.closeTo(12.7062047362, 1e-8); // tan(π(0.975 − 0.5)) exactly, for df = 1
    expect(tQuantile(0.975, 1)).to.be.closeTo(Math.tan(Math.PI * 0.475), 1e-9);
    expect(tQuantile(0.975, 2)).to.be.closeTo(2 * 0.475 * Math.sqrt(2 / (1 - (2 * 0.475) ** 2)), 1e-9); // closed form for df = 2
    expect(tQuantile(0.995, 4)).to.be.closeTo(4.604094871, 1e-6);
    expect(tQuantile(0.975, 1e7)).to.be.closeTo(1.959964, 1e-5);
    expect(tQuantile(0.025, 9)).to.be.closeTo(-tQuantile(0.975, 9), 1e-12);
    expect(tQuantile(0.5, 3)).to.equal(0);
  });

  it('inverts the cdf it is built on', () => {
    for (const df of [1, 3, 7.5, 50]) {
      for (const p of [0.6, 0.9, 0.975, 0.999]) expect(tCdf(tQuantile(p, df), df)).to.be.closeTo(p, 1e-12);
    }
    expect(incompleteBeta(0.5, 2, 3)).to.be.closeTo(11 / 16, 1e-14); // I_x(2,3) = 6x²(1/2 − 2x/3 + x²/4)
  });

  it('gives mean, sample std and the 95% CI of a known small sample', () => {
    // 1..5: mean 3, s² = (4+1+0+1+4)/4 = 2.5, half = t(0.975, 4) · √2.5 / √5 = 2.776445 · 0.707107
    const e = estimate([1, 2, 3, 4, 5]);
    expect(e.n).to.equal(5);
    expect(e.mean).to.equal(3);
    expect(e.std).to.be.closeTo(Math.sqrt(2.5), 1e-12);
    expect(e.half).to.be.closeTo(1.963243, 1e-6);
    expect(mean([0.82, 0.79, 0.84])).to.be.closeTo(0.816667, 1e-6);
    expect(sampleStd([2, 4])).to.be.closeTo(Math.SQRT2, 1e-12);
  });

  it('leaves std and CI undefined for a single value (never NaN or 0)', () => {
    const e = estimate([0.83]);
    expect(e.mean).to.equal(0.83);
    expect(e.std).to.equal(undefined);
    expect(e.half).to.equal(undefined);
  });

  it('pairs differences on shared keys only', () => {
    const treatment = new Map([
      [1, 0.87],
      [2, 0.85],
      [7, 0.9],
    ]);
    const baseline = new Map([
      [1, 0.82],
      [2, 0.79],
      [3, 0.84],
    ]);
    const d = pairedDifference(treatment, baseline);
    expect(d.keys).to.deep.equal([1, 2]);
    expect(d.differences[0]).to.be.closeTo(0.05, 1e-12);
    expect(d.differences[1]).to.be.closeTo(0.06, 1e-12);
    // n = 2: s = |0.05 − 0.06| / √2, so half = t(0.975, 1) · 0.01 / 2
    expect(d.estimate?.mean).to.be.closeTo(0.055, 1e-12);
    expect(d.estimate?.half).to.be.closeTo(12.7062047 * 0.005, 1e-8);
    expect(pairedDifference(new Map([[5, 1]]), baseline).estimate).to.equal(undefined);
  });
});
