import { expect } from 'chai';
import { detectableEffect, estimate, holm, pairedTTestP, pairsForEffect } from '../../src/analysis/stats.js';

describe('detectable effect and Holm', () => {
  it('computes the paired-t detectable effect of a textbook case by hand', () => {
    // n = 10, sd = 1: t_{0.975, 9} = 2.2622, t_{0.80, 9} = 0.8834 (Student t tables), so
    // MDE = (2.2622 + 0.8834) / √10 = 3.1456 / 3.1623 = 0.9947
    expect(detectableEffect(1, 10)).to.be.closeTo(0.9947, 5e-4);
    // scales with sd; undefined without a spread
    expect(detectableEffect(0.4, 10)).to.be.closeTo(0.4 * 0.9947, 2e-4);
    expect(detectableEffect(1, 1)).to.equal(undefined);
  });

  it('finds the fewest seeds that reach an effect', () => {
    // sd 1, effect 0.9947 is reached at n = 10 and not at n = 9
    const n = pairsForEffect(1, 0.995)!;
    expect(n).to.equal(10);
    expect(detectableEffect(1, n - 1)!).to.be.above(0.995);
  });

  it('gives the paired t-test p-value', () => {
    // differences 1, 2, 3: mean 2, sd 1, t = 2 / (1/√3) = 3.4641 with 2 df: p = 0.0742
    expect(pairedTTestP(estimate([1, 2, 3]))!).to.be.closeTo(0.0742, 5e-4);
  });

  it('adjusts p-values as Holm step-down does in a worked example', () => {
    // sorted 0.005, 0.01, 0.03, 0.04 with m = 4: ×4 = 0.02, ×3 = 0.03, ×2 = 0.06, ×1 = 0.04 → kept monotone 0.06
    const adjusted = holm([0.01, 0.04, 0.03, 0.005]);
    [0.03, 0.06, 0.06, 0.02].forEach((want, i) => expect(adjusted[i]).to.be.closeTo(want, 1e-12));
    // at α = 0.05 the raw test rejects all four, Holm only the first and the last
    expect(adjusted.map((p) => p <= 0.05)).to.deep.equal([true, false, false, true]);
    expect(holm([0.5, 0.9])).to.deep.equal([1, 1]);
  });
});
