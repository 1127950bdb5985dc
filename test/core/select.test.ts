import { expect } from 'chai';
import { checkSelect, episodeScore } from '../../src/core/select.js';
import { ConfigError } from '../../src/core/errors.js';

// A fixture episode that overfits: validation peaks at epoch 3, and test with it.
const steps = [
  { epoch: 1, valAcc: 0.6, testAcc: 0.62 },
  { epoch: 2, valAcc: 0.7, testAcc: 0.71 },
  { epoch: 3, valAcc: 0.8, testAcc: 0.79 },
  { epoch: 4, valAcc: 0.75, testAcc: 0.74 },
  { epoch: 5, valAcc: 0.65, testAcc: 0.66 },
];

describe('episodeScore', () => {
  it('final: the last epoch', () => {
    expect(episodeScore(steps, { select: 'final' })).to.deep.equal({ score: 0.65, testAcc: 0.66, epoch: 5 });
  });

  it('smoothed: the mean validation accuracy of the last k epochs, the last weights', () => {
    const s = episodeScore(steps, { select: 'smoothed', selectWindow: 3 });
    expect(s.score).to.be.closeTo((0.8 + 0.75 + 0.65) / 3, 1e-12);
    expect(s.testAcc).to.equal(0.66);
  });

  it('best-epoch: the test accuracy of the restored epoch, not the last one', () => {
    expect(episodeScore(steps, { select: 'best-epoch' })).to.deep.equal({ score: 0.8, testAcc: 0.79, epoch: 3 });
  });

  it('best-epoch: ties go to the earliest epoch', () => {
    const tied = [...steps, { epoch: 6, valAcc: 0.8, testAcc: 0.5 }];
    expect(episodeScore(tied, { select: 'best-epoch' }).epoch).to.equal(3);
  });

  it('final falls back to the episode test accuracy when the steps did not record it', () => {
    const bare = steps.map(({ epoch, valAcc }) => ({ epoch, valAcc }));
    expect(episodeScore(bare, { select: 'final' }, 0.66).testAcc).to.equal(0.66);
    expect(Number.isNaN(episodeScore(bare, { select: 'best-epoch' }, 0.66).testAcc)).to.equal(true);
  });

  it('refuses an unknown protocol naming --select', () => {
    expect(() => checkSelect({ select: 'best' as never })).to.throw(ConfigError, /--select must be one of/);
    expect(() => checkSelect({ selectWindow: 0 })).to.throw(ConfigError, /--select-window/);
  });
});
